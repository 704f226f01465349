import {
  escapeControlCharacters,
  keepRejectedRecords,
  newId,
  type RejectionLogger,
  type RejectionToKeep,
  runs,
} from '@vsh/db';
import { describe, expect, it } from 'vitest';
import { useHarness } from '../../testing/harness.ts';

const api = useHarness();

const failOnLog: RejectionLogger = {
  warn: (fields) => expect.fail(`the database refused a rejected record: ${JSON.stringify(fields)}`),
  error: (fields) => expect.fail(`a rejected record was not kept: ${JSON.stringify(fields)}`),
};

const rejection = (raw: unknown, overrides: Partial<RejectionToKeep> = {}): RejectionToKeep => ({
  scope: 'agent:agt-1',
  destinationId: null,
  actionId: null,
  stage: 'parse',
  code: 'MALFORMED_RECORD',
  reason: 'the record is not an action',
  raw,
  ...overrides,
});

/** Keeps rejections as the worker does, once per run given. */
async function record(tenantId: string, batches: RejectionToKeep[][]): Promise<void> {
  for (const batch of batches) {
    const runId = newId('run');
    await api.db.insert(runs).values({ id: runId, tenantId });
    await keepRejectedRecords(api.db, { tenantId, runId, rejections: batch }, failOnLog);
  }
}

describe('GET /v1/tenants/{tenantId}/rejected-records', () => {
  it('lists each record once with its occurrences, first and last seen, most recently seen first', async () => {
    const { tenantId, key } = await api.createTenant();
    const [a, b, c] = [rejection({ id: 'a' }), rejection({ id: 'b' }), rejection({ id: 'c' })];
    await record(tenantId, [[a, b, c], [a], [a]]);
    await record(tenantId, [[b]]);

    const first = await api.request('GET', `/v1/tenants/${tenantId}/rejected-records?limit=2`, { key });
    const second = await api.request(
      'GET',
      `/v1/tenants/${tenantId}/rejected-records?limit=2&cursor=${first.body.nextCursor}`,
      { key },
    );

    expect(first.status).toBe(200);
    const items = [...first.body.items, ...second.body.items];
    expect(items.map((item: { raw: string }) => item.raw)).toEqual([
      '{"id":"b"}',
      '{"id":"a"}',
      '{"id":"c"}',
    ]);
    expect(items.map((item: { occurrences: number }) => item.occurrences)).toEqual([2, 3, 1]);
    expect(second.body.nextCursor).toBeNull();
    for (const item of items) {
      expect(item).toMatchObject({ scope: 'agent:agt-1', rawTruncated: false, rawUnstoredReason: null });
      expect(Date.parse(item.lastSeenAt)).toBeGreaterThanOrEqual(Date.parse(item.firstSeenAt));
      expect(item.createdAt).toBe(item.firstSeenAt);
    }
  });

  it('answers escaped text for NUL, controls, lone surrogates and markup, the size of a cut record, and no SQL', async () => {
    const { tenantId, key } = await api.createTenant();
    const hostile = { id: 'x\u0000y', note: '\ud800 \u0007 \u0085 <script>alert(1)</script>' };
    const deep: unknown[] = [];
    let cursor = deep;
    for (let i = 0; i < 100_000; i++) {
      const next: unknown[] = [];
      cursor.push(next);
      cursor = next;
    }
    await record(tenantId, [
      [
        rejection(hostile, { reason: 'bad \u0000 id', actionId: 'x\u0000y' }),
        rejection({ blob: 'z'.repeat(20_000) }),
        rejection(deep),
      ],
    ]);

    const res = await api.request('GET', `/v1/tenants/${tenantId}/rejected-records`, { key });

    expect(res.status).toBe(200);
    const byReason = (text: string) =>
      res.body.items.find((i: { reason: string }) => i.reason.includes(text));
    const nul = res.body.items.find((i: { actionId: string | null }) => i.actionId !== null);
    expect(nul).toMatchObject({ actionId: 'x\\u0000y', reason: 'bad \\u0000 id' });
    expect(JSON.parse(nul.raw)).toEqual(hostile);
    const cut = res.body.items.find((i: { rawTruncated: boolean }) => i.rawTruncated);
    expect(cut.rawBytes).toBe(JSON.stringify({ blob: 'z'.repeat(20_000) }).length);
    expect(Buffer.byteLength(cut.raw)).toBeLessThanOrEqual(8192);
    expect(byReason('not an action')).toBeDefined();
    const unstored = res.body.items.find((i: { raw: string | null }) => i.raw === null);
    expect(unstored.rawUnstoredReason).toMatch(/^JSON cannot write it: RangeError/);
    expect(res.text).not.toMatch(/insert into|Failed query|params:/i);
    expect(escapeControlCharacters(res.text)).toBe(res.text);
  });

  it('refuses a forged cursor, with a time no clock shows, as a validation error', async () => {
    const { tenantId, key } = await api.createTenant();
    const forged = Buffer.from('2026-02-30T00:00:00.000000Z rej_00000000000000000000000000').toString(
      'base64url',
    );

    const res = await api.request('GET', `/v1/tenants/${tenantId}/rejected-records?cursor=${forged}`, {
      key,
    });
    const old = await api.request('GET', `/v1/tenants/${tenantId}/rejected-records?cursor=cmVqXzAx`, { key });

    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(old.status).toBe(400);
  });
});
