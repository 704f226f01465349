import { describe, expect, it } from 'vitest';
import { createVaikoraClient, type VaikoraPage } from './client.ts';
import type { FetchLike } from './options.ts';

/**
 * Distinct Vaikora actions whose ids the client turns into the
 * same id. The sweep drops the second as a repeat (ADR 0020), the seen-set treats it as handled in later
 * runs, and both would key the same finding `vaikora-{id}`: one action is never imported.
 */

const KEY = 'vk_test_probe_ids';
const T0 = Date.UTC(2026, 0, 1, 12);

/** A client whose one page is `body` (bytes as given), the end of the list. */
async function sweepBody(body: Uint8Array | string): Promise<VaikoraPage[]> {
  const fetch: FetchLike = async () =>
    new Response(body, { status: 200, headers: { 'content-type': 'application/json' } });
  const client = createVaikoraClient({ baseUrl: 'https://vaikora.test/api/v1', apiKey: KEY, fetch });
  const pages: VaikoraPage[] = [];
  for await (const page of client.sweep({ stopBeforeMs: T0 - 3_600_000 })) pages.push(page);
  return pages;
}

const record = (idJson: string, ms: number) =>
  `{"id":${idJson},"timestamp":"${new Date(ms).toISOString()}","risk_level":"critical"}`;

describe('hostile probe: distinct action ids that become one', () => {
  it('rejects an id sent as a number that is not a whole number below 2^53 (it would round into another)', async () => {
    const body = `{"actions":[${record('1.5', T0)},${record('1e400', T0 - 1000)},${record('42', T0 - 2000)}],"total":3}`;

    const [page] = await sweepBody(body);

    expect(page?.actions.map((a) => a.id)).toEqual(['42']);
    expect(page?.rejections.map((r) => r.code)).toEqual(['INVALID_ID', 'INVALID_ID']);
    expect(page?.rejections[0]?.reason).toContain('send it as a string');
  });

  it('keeps two numeric ids beyond 2^53 (64-bit integer ids) apart', async () => {
    // 2^53 + 1 and 2^53 + 2 ... : JSON.parse rounds them to the same double.
    const ids = ['9007199254740993', '9007199254740992', '12345678901234567891', '12345678901234567890'];
    const body = `{"actions":[${ids.map((id, i) => record(id, T0 - i * 1000)).join(',')}],"total":4}`;

    const [page] = await sweepBody(body);

    expect(page?.actions.map((a) => a.id)).toEqual(ids);
  });

  it('keeps two ids that differ only in bytes that are not UTF-8 apart, or rejects them', async () => {
    const enc = new TextEncoder();
    const head = enc.encode('{"actions":[');
    const a = enc.encode(`{"id":"act-`);
    const rest = (ms: number) =>
      enc.encode(`","timestamp":"${new Date(ms).toISOString()}","risk_level":"high"}`);
    const body = new Uint8Array([
      ...head,
      ...a,
      0xff,
      ...rest(T0),
      0x2c,
      ...a,
      0xfe,
      ...rest(T0 - 1000),
      ...enc.encode('],"total":2}'),
    ]);

    const [page] = await sweepBody(body);
    const accepted = page?.actions.map((x) => x.id) ?? [];

    // Either both are kept as distinct actions, or an id that is not well-formed is a rejection (as a
    // lone surrogate in an id is). Collapsing them into one accepted id loses the other.
    expect({ accepted, rejected: page?.rejections.length }).not.toEqual({
      accepted: ['act-\ufffd'],
      rejected: 0,
    });
    expect(accepted.length + (page?.rejections.length ?? 0)).toBe(2);
  });
});

describe('hostile probe: timestamps', () => {
  it('accepts a leap second (23:59:60, valid RFC 3339) instead of rejecting the action', async () => {
    const body =
      '{"actions":[{"id":"act-leap","timestamp":"2016-12-31T23:59:60Z","risk_level":"critical"}],"total":1}';

    const [page] = await sweepBody(body);

    expect(page?.rejections.map((r) => `${r.code}: ${r.reason}`)).toEqual([]);
    expect(page?.actions.map((a) => a.id)).toEqual(['act-leap']);
    expect(page?.actions[0]?.timestampMs).toBe(Date.UTC(2016, 11, 31, 23, 59, 59, 999));
  });

  it('rejects a day that does not exist in a timestamp with an offset, instead of rolling it over', async () => {
    const body =
      '{"actions":[{"id":"act-feb30","timestamp":"2026-02-30T10:00:00+01:00","risk_level":"critical"}],"total":1}';

    const [page] = await sweepBody(body);

    expect(page?.actions).toEqual([]);
    expect(page?.rejections.map((r) => `${r.code}: ${r.reason}`)).toEqual([
      'INVALID_TIMESTAMP: timestamp is not a valid calendar date',
    ]);
  });

  it('keeps a valid timestamp with an offset (the day check reads the date in its own offset)', async () => {
    const body =
      '{"actions":[{"id":"act-off","timestamp":"2026-03-01T00:30:00+01:00","risk_level":"critical"},{"id":"act-neg","timestamp":"2026-02-28T23:30:00-05:30","risk_level":"critical"}],"total":2}';

    const [page] = await sweepBody(body);

    expect(page?.rejections).toEqual([]);
    expect(page?.actions.map((a) => a.timestampMs)).toEqual([
      Date.UTC(2026, 1, 28, 23, 30),
      Date.UTC(2026, 2, 1, 5, 0),
    ]);
  });

  it.each([
    ['a trailing space', 'act-1 '],
    ['a leading no-break space (U+00A0)', '\u00a0act-1'],
    ['a leading zero-width no-break space (U+FEFF)', '\ufeffact-1'],
  ])(
    'rejects an id with %s instead of trimming it into another id (one of the two was dropped as a repeat)',
    async (_name, padded) => {
      const body = `{"actions":[${record('"act-1"', T0)},${record(JSON.stringify(padded), T0 - 1000)}],"total":2}`;

      const [page] = await sweepBody(body);

      expect(page?.actions.map((a) => a.id)).toEqual(['act-1']);
      expect(page?.rejections.map((r) => [r.code, r.reason])).toEqual([
        ['INVALID_ID', 'id contains whitespace or control characters'],
      ]);
      expect(page?.repeats).toBe(0);
    },
  );
});
