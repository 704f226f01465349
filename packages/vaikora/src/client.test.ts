import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createVaikoraClient, type VaikoraPage } from './client.ts';
import { VaikoraError } from './errors.ts';
import type { FetchLike, VaikoraClientOptions, VaikoraRequestEvent } from './options.ts';

const KEY = 'vk_test_unit_0123456789abcdef';
const BASE = 'https://vaikora.test/api/v1';
const T0 = Date.UTC(2026, 0, 1);

type Step = Response | Error | ((url: URL, init: RequestInit) => Promise<Response>);

/** A fetch that plays `steps` in order and records every call. */
function scripted(steps: Step[]) {
  const calls: { url: URL; init: RequestInit }[] = [];
  const fetch: FetchLike = async (input, init) => {
    const url = new URL(input);
    calls.push({ url, init });
    const step = steps.shift();
    if (step === undefined) throw new Error('no more scripted responses');
    if (step instanceof Error) throw step;
    if (typeof step === 'function') return step(url, init);
    return step;
  };
  return { fetch, calls };
}

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

const act = (id: string, ms: number, extra: Record<string, unknown> = {}) => ({
  id,
  timestamp: new Date(ms).toISOString(),
  risk_level: 'high',
  ...extra,
});

/** `count` actions, newest first, ending just after `newestMs` minus `offset` steps of one second. */
const descending = (prefix: string, newestMs: number, count: number, offset = 0) =>
  Array.from({ length: count }, (_, i) => act(`${prefix}-${offset + i}`, newestMs - (offset + i) * 1000));

/** A 200 response whose body is made chunk by chunk on demand, counting what the client pulled. */
function streamed(next: (index: number) => Uint8Array | null) {
  const stats = { pulls: 0, bytes: 0, cancelled: false };
  let index = 0;
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        const chunk = next(index++);
        if (chunk === null) {
          controller.close();
          return;
        }
        stats.pulls++;
        stats.bytes += chunk.byteLength;
        controller.enqueue(chunk);
      },
      cancel() {
        stats.cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return { response: new Response(body, { status: 200 }), stats };
}

const MiB = 1024 * 1024;

/** `{"actions":[{},{},...{}]}` of about `bytes` bytes in 64 KiB chunks, never held whole. */
function tinyRecordsPage(bytes: number) {
  const head = new TextEncoder().encode('{"actions":[');
  const filler = new TextEncoder().encode('{},'.repeat(65_536 / 3));
  const tail = new TextEncoder().encode('{}]}');
  const fillers = Math.floor((bytes - head.byteLength - tail.byteLength) / filler.byteLength);
  return streamed((i) => {
    if (i === 0) return head;
    if (i <= fillers) return filler;
    return i === fillers + 1 ? tail : null;
  });
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('base64url');

function client(fetch: FetchLike, extra: Partial<VaikoraClientOptions> = {}) {
  const sleeps: number[] = [];
  const events: VaikoraRequestEvent[] = [];
  const c = createVaikoraClient({
    baseUrl: BASE,
    apiKey: KEY,
    fetch,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    onRequest: (event) => events.push(event),
    ...extra,
  });
  return { client: c, sleeps, events };
}

async function collect(pages: AsyncIterable<VaikoraPage>): Promise<VaikoraPage[]> {
  const out: VaikoraPage[] = [];
  for await (const page of pages) out.push(page);
  return out;
}

async function failure(promise: Promise<unknown>): Promise<VaikoraError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof VaikoraError) return error;
    throw error;
  }
  throw new Error('expected a VaikoraError');
}

/** The ids of the actions a sweep's pages yielded, in order. */
const actionIds = (pages: readonly VaikoraPage[]) => pages.flatMap((p) => p.actions.map((a) => a.id));
const THREE_PAGES_OF_TWO = ['a-0', 'a-1', 'b-0', 'b-1', 'c-0', 'c-1'];

/** The pages a sweep yields before it fails, and its VaikoraError. */
async function pagesBeforeFailure(pages: AsyncIterable<VaikoraPage>) {
  const read: VaikoraPage[] = [];
  const error = await failure(
    (async () => {
      for await (const page of pages) read.push(page);
    })(),
  );
  return { pages: read, error };
}

describe('sweep requests', () => {
  it('sends the key header, page, per_page and agent_id, and no time filter by default', async () => {
    const { fetch, calls } = scripted([json({ actions: [], total: 0 })]);

    await collect(client(fetch, { perPage: 50 }).client.sweep({ agentId: 'agt-1', stopBeforeMs: T0 }));

    expect(calls).toHaveLength(1);
    const [call] = calls;
    expect(call?.url.pathname).toBe('/api/v1/actions');
    expect(Object.fromEntries(call?.url.searchParams ?? [])).toEqual({
      agent_id: 'agt-1',
      page: '1',
      per_page: '50',
    });
    expect(new Headers(call?.init.headers).get('x-api-key')).toBe(KEY);
    expect(call?.init.redirect).toBe('manual');
  });

  it('adds the configured time filter parameter set to the stop time', async () => {
    const { fetch, calls } = scripted([json({ actions: [] })]);

    await collect(client(fetch, { timeFilterParam: 'since' }).client.sweep({ stopBeforeMs: T0 }));

    expect(calls[0]?.url.searchParams.get('since')).toBe('2026-01-01T00:00:00.000Z');
  });

  it('omits the time filter when the stop time is not finite', async () => {
    const { fetch, calls } = scripted([json({ actions: [] })]);

    await collect(
      client(fetch, { timeFilterParam: 'since' }).client.sweep({ stopBeforeMs: Number.NEGATIVE_INFINITY }),
    );

    expect(calls[0]?.url.searchParams.has('since')).toBe(false);
  });
});

describe('sweep paging and stopping', () => {
  it('reads pages until a short page and reports why it stopped', async () => {
    const { fetch, calls } = scripted([
      json({ actions: descending('a', T0, 3, 0), total: 7 }),
      json({ actions: descending('a', T0, 3, 3), total: 7 }),
      json({ actions: descending('a', T0, 1, 6), total: 7 }),
    ]);

    const pages = await collect(client(fetch, { perPage: 3 }).client.sweep({ stopBeforeMs: 0 }));

    expect(pages.map((p) => [p.page, p.actions.length, p.stop])).toEqual([
      [1, 3, null],
      [2, 3, null],
      [3, 1, 'end'],
    ]);
    expect(calls.map((c) => c.url.searchParams.get('page'))).toEqual(['1', '2', '3']);
    expect(pages[0]).toMatchObject({ total: 7, order: 'desc', newestMs: T0, oldestMs: T0 - 2000 });
  });

  it('stops on an empty page', async () => {
    const { fetch } = scripted([json({ actions: descending('a', T0, 2) }), json({ actions: [] })]);

    const pages = await collect(client(fetch, { perPage: 2 }).client.sweep({ stopBeforeMs: 0 }));

    expect(pages.map((p) => p.stop)).toEqual([null, 'end']);
  });

  it('stops newest-first at the first page entirely older than stopBeforeMs', async () => {
    const { fetch, calls } = scripted([
      json({ actions: descending('a', T0, 2, 0) }),
      json({ actions: descending('a', T0, 2, 2) }),
      json({ actions: descending('a', T0, 2, 4) }),
    ]);

    const pages = await collect(client(fetch, { perPage: 2 }).client.sweep({ stopBeforeMs: T0 - 2500 }));

    expect(calls).toHaveLength(3);
    expect(pages.at(-1)).toMatchObject({ page: 3, stop: 'cursor', newestMs: T0 - 4000 });
  });

  it('does not stop early when the list is oldest first', async () => {
    const asc = (from: number) => [
      act(`b-${from}`, T0 + from * 1000),
      act(`b-${from + 1}`, T0 + (from + 1) * 1000),
    ];
    const { fetch, calls } = scripted([
      json({ actions: asc(0) }),
      json({ actions: asc(2) }),
      json({ actions: [] }),
    ]);

    const pages = await collect(client(fetch, { perPage: 2 }).client.sweep({ stopBeforeMs: T0 + 60_000 }));

    expect(calls).toHaveLength(3);
    expect(pages.map((p) => p.order)).toEqual(['asc', 'asc', 'asc']);
    expect(pages.at(-1)?.stop).toBe('end');
  });

  it('stops at maxPages and says the sweep is incomplete', async () => {
    const { fetch, calls } = scripted([
      json({ actions: descending('a', T0, 2, 0) }),
      json({ actions: descending('a', T0, 2, 2) }),
    ]);

    const pages = await collect(client(fetch, { perPage: 2 }).client.sweep({ stopBeforeMs: 0, maxPages: 2 }));

    expect(calls).toHaveLength(2);
    expect(pages.at(-1)?.stop).toBe('max-pages');
  });

  it('takes the page size from the response when the server clamps per_page', async () => {
    const { fetch, calls } = scripted([
      json({ actions: descending('a', T0, 2, 0), per_page: 2 }),
      json({ actions: descending('a', T0, 1, 2), per_page: 2 }),
    ]);

    const pages = await collect(client(fetch, { perPage: 100 }).client.sweep({ stopBeforeMs: 0 }));

    expect(calls).toHaveLength(2);
    expect(pages.flatMap((p) => p.actions.map((a) => a.id))).toEqual(['a-0', 'a-1', 'a-2']);
  });

  it('yields a repeated action once when pages shift between requests', async () => {
    const { fetch } = scripted([
      json({ actions: [act('n3', T0 + 3), act('n2', T0 + 2), act('n1', T0 + 1)] }),
      json({ actions: [act('n1', T0 + 1), act('o9', T0 - 9), act('o8', T0 - 8)] }),
      json({ actions: [] }),
    ]);

    const pages = await collect(client(fetch, { perPage: 3 }).client.sweep({ stopBeforeMs: 0 }));

    expect(pages.flatMap((p) => p.actions.map((a) => a.id))).toEqual(['n3', 'n2', 'n1', 'o9', 'o8']);
    expect(pages[1]?.repeats).toBe(1);
  });

  it('returns bad records as rejections with their reason and raw input, once per sweep', async () => {
    const bad = { id: 'x-1', timestamp: 'yesterday' };
    const { fetch } = scripted([
      json({ actions: [act('a', T0), bad, null, { timestamp: new Date(T0).toISOString() }] }),
      json({ actions: [bad] }),
    ]);

    const pages = await collect(client(fetch, { perPage: 4 }).client.sweep({ stopBeforeMs: 0 }));

    expect(pages[0]?.actions.map((a) => a.id)).toEqual(['a']);
    expect(pages[0]?.rejections.map((r) => [r.code, r.actionId])).toEqual([
      ['INVALID_TIMESTAMP', 'x-1'],
      ['MALFORMED_RECORD', null],
      ['MISSING_ID', null],
    ]);
    expect(pages[0]?.rejections[0]).toMatchObject({ reason: expect.stringContaining('timestamp'), raw: bad });
    expect(pages[1]?.rejections).toEqual([]);
  });

  it('keeps unknown fields and reads the severity alias', async () => {
    const { fetch } = scripted([
      json({
        actions: [{ id: 'a', timestamp: new Date(T0).toISOString(), severity: 'critical', novel: { x: 1 } }],
      }),
    ]);

    const [page] = await collect(client(fetch).client.sweep({ stopBeforeMs: 0 }));

    expect(page?.actions[0]).toMatchObject({
      riskLevel: 'critical',
      riskLevelSource: 'severity',
      extra: { novel: { x: 1 } },
    });
  });

  it('keeps going past a page with only unparseable records even when the order is known', async () => {
    const { fetch, calls } = scripted([
      json({ actions: descending('a', T0, 2) }),
      json({ actions: [null, 42] }),
      json({ actions: [] }),
    ]);

    await collect(client(fetch, { perPage: 2 }).client.sweep({ stopBeforeMs: T0 - 60_000 }));

    expect(calls).toHaveLength(3);
  });
});

describe('retries', () => {
  it('waits what Retry-After asks (seconds) after a 429, then succeeds', async () => {
    const { fetch, calls } = scripted([
      json({ error: 'slow down' }, 429, { 'retry-after': '3' }),
      json({ actions: [] }),
    ]);
    const { client: c, sleeps } = client(fetch);

    await collect(c.sweep({ stopBeforeMs: 0 }));

    expect(calls).toHaveLength(2);
    expect(sleeps).toEqual([3000]);
  });

  it('reads an HTTP-date Retry-After against the injected clock', async () => {
    const { fetch } = scripted([
      json({}, 429, { 'retry-after': new Date(T0 + 5000).toUTCString() }),
      json({ actions: [] }),
    ]);
    const { client: c, sleeps } = client(fetch, { now: () => T0 });

    await collect(c.sweep({ stopBeforeMs: 0 }));

    expect(sleeps).toEqual([5000]);
  });

  it('backs off with full jitter on 5xx, network errors and timeouts', async () => {
    const hang = (_url: URL, init: RequestInit) =>
      new Promise<Response>((_resolve, reject) => {
        init.signal?.addEventListener('abort', () => reject(init.signal?.reason));
      });
    const { fetch, calls } = scripted([
      new Response('<html>bad gateway</html>', { status: 502 }),
      new TypeError('fetch failed', {
        cause: Object.assign(new Error('connect ECONNRESET'), { code: 'ECONNRESET' }),
      }),
      hang,
      json({ actions: [] }),
    ]);
    const {
      client: c,
      sleeps,
      events,
    } = client(fetch, { baseDelayMs: 100, maxDelayMs: 10_000, timeoutMs: 20 });

    await collect(c.sweep({ stopBeforeMs: 0 }));

    expect(calls).toHaveLength(4);
    expect(sleeps).toEqual([50, 100, 200]);
    expect(events.map((e) => [e.attempt, e.status, e.code])).toEqual([
      [1, 502, 'UNAVAILABLE'],
      [2, null, 'NETWORK'],
      [3, null, 'TIMEOUT'],
      [4, 200, undefined],
    ]);
  });

  it('leaves no timer behind a page it read: its request signal is not aborted once the timeout has passed (issue 16)', async () => {
    const { fetch, calls } = scripted([json({ actions: [act('a-1', T0)] })]);
    const run = new AbortController();
    await collect(client(fetch, { timeoutMs: 30 }).client.sweep({ stopBeforeMs: 0, signal: run.signal }));
    const signal = calls[0]?.init.signal;
    expect(signal).toBeInstanceOf(AbortSignal);
    // fault-injection delay: past the request timeout, after the page was read.
    await new Promise((r) => setTimeout(r, 120));
    // A timer left running would have aborted it by now (building a TimeoutError for a request long
    // done): one per page, in a process that reads thousands.
    expect(signal?.aborted).toBe(false);
    // The caller's abort after the sweep reaches no request either.
    run.abort(new Error('stopped'));
    expect(signal?.aborted).toBe(false);
  });

  it('names the system error code of a network failure', async () => {
    const refused = new TypeError('fetch failed', {
      cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }),
    });
    const { fetch } = scripted([refused]);

    const error = await failure(collect(client(fetch, { maxRetries: 0 }).client.sweep({ stopBeforeMs: 0 })));

    expect(error).toMatchObject({
      code: 'NETWORK',
      retryable: true,
      message: expect.stringContaining('ECONNREFUSED'),
    });
    expect(error.cause).toMatchObject({ message: 'fetch failed', cause: { code: 'ECONNREFUSED' } });
  });

  it('uses the larger of Retry-After and the backoff draw', async () => {
    const { fetch } = scripted([json({}, 503, { 'retry-after': '0' }), json({ actions: [] })]);
    const { client: c, sleeps } = client(fetch, { baseDelayMs: 400 });

    await collect(c.sweep({ stopBeforeMs: 0 }));

    expect(sleeps).toEqual([200]);
  });

  it('gives up after maxRetries with a retryable error naming the attempts', async () => {
    const { fetch, calls } = scripted(Array.from({ length: 4 }, () => json({}, 503)));

    const error = await failure(collect(client(fetch, { maxRetries: 3 }).client.sweep({ stopBeforeMs: 0 })));

    expect(calls).toHaveLength(4);
    expect(error).toMatchObject({ code: 'UNAVAILABLE', retryable: true, status: 503, attempts: 4 });
  });

  it('does not wait a Retry-After longer than maxRetryAfterMs, and says how long was asked', async () => {
    const { fetch, calls } = scripted([json({}, 429, { 'retry-after': '3600' })]);
    const { client: c, sleeps } = client(fetch, { maxRetryAfterMs: 60_000 });

    const error = await failure(collect(c.sweep({ stopBeforeMs: 0 })));

    expect(calls).toHaveLength(1);
    expect(sleeps).toEqual([]);
    expect(error).toMatchObject({ code: 'RATE_LIMITED', retryable: true, retryAfterMs: 3_600_000 });
  });

  it.each([
    [401, 'UNAUTHORIZED'],
    [403, 'FORBIDDEN'],
    [400, 'INVALID_CONFIG'],
    [404, 'INVALID_CONFIG'],
  ] as const)('does not retry HTTP %i (%s)', async (status, code) => {
    const { fetch, calls } = scripted([json({ error: 'no' }, status), json({ actions: [] })]);

    const error = await failure(collect(client(fetch).client.sweep({ stopBeforeMs: 0 })));

    expect(calls).toHaveLength(1);
    expect(error).toMatchObject({ code, retryable: false, status });
  });

  it('does not follow a redirect', async () => {
    const { fetch } = scripted([
      new Response(null, { status: 302, headers: { location: 'https://evil.test/' } }),
    ]);

    const error = await failure(collect(client(fetch).client.sweep({ stopBeforeMs: 0 })));

    expect(error).toMatchObject({ code: 'BAD_RESPONSE', retryable: false, status: 302 });
  });

  it('stops waiting when the caller aborts', async () => {
    const controller = new AbortController();
    const { fetch } = scripted([json({}, 503), json({ actions: [] })]);
    const c = createVaikoraClient({
      baseUrl: BASE,
      apiKey: KEY,
      fetch,
      sleep: async () => {
        controller.abort(new Error('shutting down'));
        throw new Error('shutting down');
      },
    });

    await expect(collect(c.sweep({ stopBeforeMs: 0, signal: controller.signal }))).rejects.toThrow(
      'shutting down',
    );
  });
});

describe('response envelope', () => {
  // In a sweep such a page is data, not an error (see 'hostile pages'); verify reports it.
  it.each([
    ['a body that is not JSON', new Response('<html>login</html>', { status: 200 })],
    ['a JSON array', json([act('a', T0)])],
    ['an object without actions', json({ data: [] })],
    ['actions that are not an array', json({ actions: { 0: act('a', T0) } })],
    ['JSON null', json(null)],
  ])('verify reports %s as BAD_RESPONSE without retrying', async (_name, response) => {
    const { fetch, calls } = scripted([response, json({ actions: [] })]);

    const result = await client(fetch).client.verify({ retries: 2 });

    expect(calls).toHaveLength(1);
    expect(result).toMatchObject({ ok: false, code: 'BAD_RESPONSE' });
  });

  it('treats wrong-typed paging fields as unknown rather than failing', async () => {
    const { fetch } = scripted([json({ actions: [act('a', T0)], total: 'many', page: -1, per_page: null })]);

    const [page] = await collect(client(fetch).client.sweep({ stopBeforeMs: 0 }));

    expect(page).toMatchObject({ total: null, stop: 'end' });
  });

  it('verify refuses a body larger than maxResponseBytes', async () => {
    const big = JSON.stringify({
      actions: [{ id: 'a', timestamp: '2026-01-01T00:00:00Z', x: 'y'.repeat(5000) }],
    });
    const { fetch } = scripted([
      new Response(new Blob([big]).stream(), {
        status: 200,
        headers: { 'content-type': 'application/json' },
      }),
    ]);

    const result = await client(fetch, { maxResponseBytes: 2048 }).client.verify();

    expect(result).toEqual({
      ok: false,
      code: 'BAD_RESPONSE',
      message: 'Vaikora answered a page larger than 2048 bytes',
    });
  });
});

describe('hostile pages', () => {
  it('stops reading a 64 MiB page of tiny records after maxRecordsPerPage and goes on with the next page', async () => {
    const hostile = tinyRecordsPage(64 * MiB - 1024);
    const { fetch, calls } = scripted([hostile.response, json({ actions: descending('a', T0, 2) })]);

    const pages = await collect(client(fetch, { perPage: 100 }).client.sweep({ stopBeforeMs: 0 }));

    expect(hostile.stats.cancelled).toBe(true);
    expect(hostile.stats.bytes).toBeLessThan(256 * 1024);
    expect(calls).toHaveLength(2);
    expect(pages[0]).toMatchObject({ page: 1, actions: [], received: 1001, total: null, stop: null });
    expect(pages[0]?.rejections).toEqual([
      {
        actionId: null,
        code: 'PAGE_UNREADABLE',
        stage: 'parse',
        reason: 'Vaikora answered a page with more than 1000 records',
        retryable: false,
        fingerprint: sha256(`{"actions":[${'{},'.repeat(1000)}`),
      },
    ]);
    expect(pages[1]?.actions.map((a) => a.id)).toEqual(['a-0', 'a-1']);
    expect(pages[1]?.stop).toBe('end');
  });

  it('rejects a record nested 5,000,000 levels deep as RECORD_TOO_DEEP and delivers the others', async () => {
    const deep = `{"a":${'['.repeat(5_000_000)}${']'.repeat(5_000_000)}}`;
    const good = [act('a-0', T0), act('a-1', T0 - 1000)];
    const body = `{"actions":[${JSON.stringify(good[0])},${deep},${JSON.stringify(good[1])}],"total":3}`;
    const { fetch } = scripted([new Response(body, { status: 200 })]);

    const [page] = await collect(client(fetch).client.sweep({ stopBeforeMs: 0 }));

    expect(page?.actions.map((a) => a.id)).toEqual(['a-0', 'a-1']);
    expect(page).toMatchObject({ received: 3, total: 3, stop: 'end' });
    expect(page?.rejections).toEqual([
      {
        actionId: null,
        code: 'RECORD_TOO_DEEP',
        stage: 'parse',
        reason: 'record is nested deeper than 64 levels',
        retryable: false,
        raw: deep.slice(0, 2048),
        fingerprint: sha256(deep),
      },
    ]);
  });

  it('rejects a record over maxRecordBytes and one that is not JSON, by their raw bytes', async () => {
    const big = `{"id":"big","timestamp":"2026-01-01T00:00:00Z","x":"${'y'.repeat(5000)}"}`;
    // A raw control byte inside a string: JSON forbids it, JSON.parse refuses the record.
    const control = '{"id":"ctl","timestamp":"2026-01-01T00:00:00Z","x":"a\u0001b"}';
    const body = `{"actions":[${big},${control},${JSON.stringify(act('a-0', T0))}]}`;
    const { fetch } = scripted([new Response(body, { status: 200 })]);

    const [page] = await collect(client(fetch, { maxRecordBytes: 4096 }).client.sweep({ stopBeforeMs: 0 }));

    expect(page?.actions.map((a) => a.id)).toEqual(['a-0']);
    expect(page?.rejections).toEqual([
      {
        actionId: null,
        code: 'RECORD_TOO_LARGE',
        stage: 'parse',
        reason: 'record is larger than 4096 bytes',
        retryable: false,
        raw: big.slice(0, 2048),
        fingerprint: sha256(big),
      },
      {
        actionId: null,
        code: 'MALFORMED_RECORD',
        stage: 'parse',
        reason: 'record is not valid JSON',
        retryable: false,
        raw: control,
        fingerprint: sha256(control),
      },
    ]);
  });

  it('fingerprints a record parseAction rejects by its bytes as received, and dedupes by them', async () => {
    const bad = '{ "id": "x-1", "timestamp": "yesterday" }';
    const { fetch } = scripted([
      new Response(`{"actions":[${bad},${bad}]}`, { status: 200 }),
      new Response(`{"actions":[${bad}]}`, { status: 200 }),
    ]);

    const pages = await collect(client(fetch, { perPage: 2 }).client.sweep({ stopBeforeMs: 0 }));

    expect(pages[0]?.rejections).toEqual([
      expect.objectContaining({ code: 'INVALID_TIMESTAMP', actionId: 'x-1', fingerprint: sha256(bad) }),
    ]);
    expect(pages[1]?.rejections).toEqual([]);
  });

  it.each([
    ['a body that is not JSON', '<html>login</html>', 'Vaikora answered with a body that is not JSON'],
    ['a truncated body', '{"actions":[{"id":"a"', 'Vaikora answered with a body that is not JSON'],
    ['a JSON array', '[{"id":"a"}]', 'Vaikora answered without the expected envelope { actions: [...] }'],
    [
      'an object without actions',
      '{"data":[]}',
      'Vaikora answered without the expected envelope { actions: [...] }',
    ],
    [
      'actions that are not an array',
      '{"actions":{"0":{}}}',
      'Vaikora answered without the expected envelope { actions: [...] }',
    ],
    ['JSON null', 'null', 'Vaikora answered without the expected envelope { actions: [...] }'],
  ])(
    'yields %s as a PAGE_UNREADABLE page once asked again as often as a 5xx, and goes on',
    async (_name, body, reason) => {
      // The first answer and maxRetries (2) more, with the backoff of a 5xx between them (ADR 0130).
      const { fetch, calls } = scripted([
        new Response(body, { status: 200 }),
        new Response(body, { status: 200 }),
        new Response(body, { status: 200 }),
        json({ actions: descending('a', T0, 1) }),
      ]);
      const c = client(fetch, { maxRetries: 2 });

      const pages = await collect(c.client.sweep({ stopBeforeMs: 0 }));

      expect(calls).toHaveLength(4);
      expect(calls.map((call) => call.url.searchParams.get('page'))).toEqual(['1', '1', '1', '2']);
      expect(c.sleeps).toHaveLength(2);
      expect(pages[0]).toMatchObject({ actions: [], stop: null });
      expect(pages[0]?.rejections).toEqual([
        {
          actionId: null,
          code: 'PAGE_UNREADABLE',
          stage: 'parse',
          reason,
          retryable: false,
          fingerprint: sha256(body),
        },
      ]);
      expect(pages[1]?.actions.map((a) => a.id)).toEqual(['a-0']);
    },
  );

  it('yields a page over maxResponseBytes as PAGE_UNREADABLE, fingerprinted by its first maxResponseBytes bytes', async () => {
    const big = JSON.stringify({ actions: [act('a', T0, { x: 'y'.repeat(5000) })] });
    const { fetch } = scripted([
      new Response(new Blob([big]).stream(), { status: 200 }),
      json({ actions: [] }),
    ]);

    const pages = await collect(client(fetch, { maxResponseBytes: 2048 }).client.sweep({ stopBeforeMs: 0 }));

    expect(pages.map((p) => p.stop)).toEqual([null, 'end']);
    expect(pages[0]?.rejections).toEqual([
      {
        actionId: null,
        code: 'PAGE_UNREADABLE',
        stage: 'parse',
        reason: 'Vaikora answered a page larger than 2048 bytes',
        retryable: false,
        fingerprint: sha256(big.slice(0, 2048)),
      },
    ]);
  });

  it('gives the same hostile page the same fingerprint in every sweep', async () => {
    const sweepOnce = async () => {
      const { fetch } = scripted([tinyRecordsPage(4 * MiB).response, json({ actions: [] })]);
      const [page] = await collect(client(fetch).client.sweep({ stopBeforeMs: 0 }));
      return page?.rejections[0]?.fingerprint;
    };

    const [first, second] = [await sweepOnce(), await sweepOnce()];

    expect(first).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(second).toBe(first);
  });

  it('ends the sweep with BAD_RESPONSE when the next page is the same unreadable body: the server is not paging', async () => {
    const { fetch, calls } = scripted(
      Array.from({ length: 4 }, () => new Response('<html>login</html>', { status: 200 })),
    );

    const { pages, error } = await pagesBeforeFailure(
      client(fetch, { maxRetries: 1 }).client.sweep({ stopBeforeMs: 0 }),
    );

    // Page 1 asked twice (maxRetries 1, the sweep's whole allowance of error-page retries), page 2 once,
    // and found to be page 1's body again.
    expect(calls).toHaveLength(3);
    expect(pages).toHaveLength(1);
    expect(error).toMatchObject({ code: 'BAD_RESPONSE', retryable: false, status: 200 });
    expect(error.message).toBe('Vaikora answered page 2 with the same unreadable body as page 1');
  });

  it('reads a page that came back once as an error page (200, not JSON) when asked again: nothing is lost (ADR 0130)', async () => {
    const { fetch, calls } = scripted([
      json({ actions: descending('a', T0, 2), total: 4, per_page: 2 }),
      new Response('<html>502 Bad Gateway</html>', { status: 200 }),
      json({ actions: descending('b', T0 - 10_000, 2), total: 4, per_page: 2 }),
      json({ actions: [], total: 4, per_page: 2 }),
    ]);

    const pages = await collect(client(fetch, { perPage: 2 }).client.sweep({ stopBeforeMs: 0 }));

    expect(calls.map((call) => call.url.searchParams.get('page'))).toEqual(['1', '2', '2', '3']);
    expect(pages.flatMap((p) => p.actions.map((a) => a.id))).toEqual(['a-0', 'a-1', 'b-0', 'b-1']);
    expect(pages.flatMap((p) => p.rejections)).toEqual([]);
  });

  it('asks again once for an empty page while total says more, and reads on when it is full (ADR 0130)', async () => {
    const { fetch, calls } = scripted([
      json({ actions: descending('a', T0, 2), total: 6, per_page: 2 }),
      json({ actions: [], total: 6, per_page: 2 }),
      json({ actions: descending('b', T0 - 10_000, 2), total: 6, per_page: 2 }),
      json({ actions: descending('c', T0 - 20_000, 2), total: 6, per_page: 2 }),
      json({ actions: [], total: 6, per_page: 2 }),
    ]);

    const pages = await collect(client(fetch, { perPage: 2 }).client.sweep({ stopBeforeMs: 0 }));

    expect(calls.map((call) => call.url.searchParams.get('page'))).toEqual(['1', '2', '2', '3', '4']);
    expect(actionIds(pages)).toEqual(THREE_PAGES_OF_TWO);
    // The end of the list (6 of 6 read) is not asked twice.
    expect(pages.at(-1)?.stop).toBe('end');
  });

  it('takes an empty page asked twice as the end, whatever total says', async () => {
    const { fetch, calls } = scripted([
      json({ actions: descending('a', T0, 2), total: 500, per_page: 2 }),
      json({ actions: [], total: 500, per_page: 2 }),
      json({ actions: [], total: 500, per_page: 2 }),
    ]);

    const pages = await collect(client(fetch, { perPage: 2 }).client.sweep({ stopBeforeMs: 0 }));

    expect(calls).toHaveLength(3);
    expect(pages.at(-1)?.stop).toBe('end');
  });

  it('costs one request and no wait when total is too high: a short page, then an empty one, is the end', async () => {
    const { fetch, calls } = scripted([
      json({ actions: descending('a', T0, 1), total: 500, per_page: 2 }),
      json({ actions: [], total: 500, per_page: 2 }),
    ]);
    const c = client(fetch, { perPage: 2 });

    const pages = await collect(c.client.sweep({ stopBeforeMs: 0 }));

    expect(calls).toHaveLength(2);
    expect(c.sleeps).toEqual([]);
    expect(pages.at(-1)?.stop).toBe('end');
  });

  it('asks an empty page again through the error-page rule: an error page on the second ask is asked again too', async () => {
    const { fetch, calls } = scripted([
      json({ actions: descending('a', T0, 2), total: 6, per_page: 2 }),
      json({ actions: [], total: 6, per_page: 2 }),
      new Response('<html>maintenance</html>', { status: 200 }),
      json({ actions: descending('b', T0 - 10_000, 2), total: 6, per_page: 2 }),
      json({ actions: descending('c', T0 - 20_000, 2), total: 6, per_page: 2 }),
      json({ actions: [], total: 6, per_page: 2 }),
    ]);

    const pages = await collect(client(fetch, { perPage: 2 }).client.sweep({ stopBeforeMs: 0 }));

    expect(calls.map((call) => call.url.searchParams.get('page'))).toEqual(['1', '2', '2', '2', '3', '4']);
    expect(actionIds(pages)).toEqual(THREE_PAGES_OF_TWO);
    expect(pages.flatMap((p) => p.rejections)).toEqual([]);
  });

  it('notices a server that ignores page, echoes it, and serves a short page under a large total: 2 requests', async () => {
    // Page 1 whatever was asked, under the page number asked for.
    const echo = async (url: URL) =>
      json({
        actions: descending('a', T0, 1),
        total: 500,
        page: Number(url.searchParams.get('page')),
        per_page: 2,
      });
    const { fetch, calls } = scripted([echo, echo, echo]);

    const error = await failure(collect(client(fetch, { perPage: 2 }).client.sweep({ stopBeforeMs: 0 })));

    expect(calls).toHaveLength(2);
    expect(error).toMatchObject({ code: 'BAD_RESPONSE' });
  });

  it('asks error pages again at most maxRetries times in a whole sweep, not on every page', async () => {
    const pages = (n: number) => `<html>${n}</html>`;
    const { fetch, calls } = scripted([
      new Response(pages(1), { status: 200 }),
      new Response(pages(1), { status: 200 }),
      new Response(pages(1), { status: 200 }),
      new Response(pages(2), { status: 200 }),
      new Response(pages(3), { status: 200 }),
      json({ actions: [] }),
    ]);

    const read = await collect(client(fetch, { maxRetries: 2 }).client.sweep({ stopBeforeMs: 0 }));

    // Page 1 three times (2 retries: the allowance), pages 2 and 3 once each, then the end.
    expect(calls.map((call) => call.url.searchParams.get('page'))).toEqual(['1', '1', '1', '2', '3', '4']);
    expect(read.flatMap((p) => p.rejections.map((r) => r.code))).toEqual([
      'PAGE_UNREADABLE',
      'PAGE_UNREADABLE',
      'PAGE_UNREADABLE',
    ]);
  });

  it('reads past a short page while total says more: a server serving fewer records than per_page (ADR 0130)', async () => {
    const { fetch, calls } = scripted([
      json({ actions: descending('a', T0, 2), total: 5, per_page: 3 }),
      json({ actions: descending('b', T0 - 10_000, 2), total: 5, per_page: 3 }),
      json({ actions: descending('c', T0 - 20_000, 1), total: 5, per_page: 3 }),
    ]);

    const pages = await collect(client(fetch, { perPage: 3 }).client.sweep({ stopBeforeMs: 0 }));

    expect(calls).toHaveLength(3);
    expect(pages.flatMap((p) => p.actions.map((a) => a.id))).toEqual(['a-0', 'a-1', 'b-0', 'b-1', 'c-0']);
    expect(pages.map((p) => p.stop)).toEqual([null, null, 'end']);
  });

  it('ends the sweep with BAD_RESPONSE when the server answers another page than the one asked (ADR 0130)', async () => {
    const { fetch, calls } = scripted([
      json({ actions: descending('a', T0, 2), total: 6, page: 1, per_page: 2 }),
      json({ actions: descending('a', T0, 2), total: 6, page: 1, per_page: 2 }),
    ]);

    const { pages, error } = await pagesBeforeFailure(
      client(fetch, { perPage: 2 }).client.sweep({ stopBeforeMs: 0 }),
    );

    expect(calls).toHaveLength(2);
    expect(pages).toHaveLength(1);
    expect(error).toMatchObject({ code: 'BAD_RESPONSE', retryable: false });
    expect(error.message).toBe(
      'Vaikora answered the request for page 2 with page 1: it does not page as asked',
    );
  });

  it('ends the sweep with BAD_RESPONSE when a full page repeats the page before, without saying which page it is', async () => {
    const { fetch, calls } = scripted([
      json({ actions: descending('a', T0, 2), total: 6 }),
      json({ actions: descending('a', T0, 2), total: 6 }),
    ]);

    const error = await failure(collect(client(fetch, { perPage: 2 }).client.sweep({ stopBeforeMs: 0 })));

    expect(calls).toHaveLength(2);
    expect(error).toMatchObject({ code: 'BAD_RESPONSE', retryable: false });
    expect(error.message).toBe(
      'Vaikora answered page 2 with the same actions as page 1: it does not page as asked',
    );
  });
});

describe('verify', () => {
  it('makes exactly one request with per_page=1 and returns the total', async () => {
    const { fetch, calls } = scripted([json({ actions: [act('a', T0)], total: 1234 })]);

    const result = await client(fetch).client.verify({ agentId: 'agt-1' });

    expect(result).toEqual({ ok: true, total: 1234 });
    expect(calls).toHaveLength(1);
    expect(calls[0]?.url.searchParams.get('per_page')).toBe('1');
    expect(calls[0]?.url.searchParams.get('page')).toBe('1');
  });

  it('reports a rejected key as data', async () => {
    const { fetch } = scripted([json({ error: 'unauthorized' }, 401)]);

    const result = await client(fetch).client.verify();

    expect(result).toEqual({ ok: false, code: 'UNAUTHORIZED', message: expect.stringContaining('401') });
  });

  it('does not retry a failure', async () => {
    const { fetch, calls } = scripted([json({}, 503), json({ actions: [] })]);

    const result = await client(fetch).client.verify();

    expect(calls).toHaveLength(1);
    expect(result).toMatchObject({ ok: false, code: 'UNAVAILABLE' });
  });

  it('retries transient failures when asked, waiting what Retry-After asks', async () => {
    const { fetch, calls } = scripted([
      json({}, 429, { 'retry-after': '2' }),
      new TypeError('fetch failed'),
      json({}, 503),
      json({ actions: [], total: 7 }),
    ]);
    const { client: c, sleeps } = client(fetch, { baseDelayMs: 100 });

    const result = await c.verify({ retries: 3 });

    expect(result).toEqual({ ok: true, total: 7 });
    expect(calls).toHaveLength(4);
    expect(sleeps).toEqual([2000, 100, 200]);
  });

  it('gives up after the retries it was given', async () => {
    const { fetch, calls } = scripted([json({}, 503), json({}, 502), json({}, 500), json({ actions: [] })]);

    const result = await client(fetch).client.verify({ retries: 2 });

    expect(calls).toHaveLength(3);
    expect(result).toMatchObject({ ok: false, code: 'UNAVAILABLE' });
  });

  it.each([401, 403])('does not retry HTTP %i even when asked', async (status) => {
    const { fetch, calls } = scripted([json({}, status), json({ actions: [] })]);

    const result = await client(fetch).client.verify({ retries: 2 });

    expect(calls).toHaveLength(1);
    expect(result).toMatchObject({ ok: false, code: status === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN' });
  });

  it('does not wait a Retry-After longer than the cap it was given', async () => {
    const { fetch, calls } = scripted([json({}, 429, { 'retry-after': '30' }), json({ actions: [] })]);
    const { client: c, sleeps } = client(fetch);

    const result = await c.verify({ retries: 2, maxRetryAfterMs: 5000 });

    expect(calls).toHaveLength(1);
    expect(sleeps).toEqual([]);
    expect(result).toMatchObject({ ok: false, code: 'RATE_LIMITED' });
  });

  it.each([-1, 1.5, 11])('refuses a retry count of %d', async (retries) => {
    const { fetch } = scripted([json({ actions: [] })]);

    await expect(client(fetch).client.verify({ retries })).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
  });

  it('answers a page over the bounds as BAD_RESPONSE, naming the bound', async () => {
    const hostile = tinyRecordsPage(64 * MiB - 1024);
    const { fetch } = scripted([hostile.response]);

    const result = await client(fetch).client.verify({ retries: 2 });

    expect(result).toEqual({
      ok: false,
      code: 'BAD_RESPONSE',
      message: 'Vaikora answered a page with more than 1000 records',
    });
    expect(hostile.stats.cancelled).toBe(true);
    expect(hostile.stats.bytes).toBeLessThan(256 * 1024);
  });

  it('reports a missing total as null', async () => {
    const { fetch } = scripted([json({ actions: [] })]);

    expect(await client(fetch).client.verify()).toEqual({ ok: true, total: null });
  });
});

describe('options', () => {
  it.each<[string, Partial<VaikoraClientOptions>, string]>([
    ['a relative base URL', { baseUrl: '/api/v1' }, 'baseUrl'],
    ['a base URL with credentials', { baseUrl: 'https://u:p@vaikora.test/api/v1' }, 'baseUrl'],
    ['an empty key', { apiKey: '' }, 'apiKey'],
    ['a key with a newline', { apiKey: 'vk_live_abc\ndef' }, 'apiKey'],
    ['a page size over 100', { perPage: 101 }, 'perPage'],
    ['unbounded retries', { maxRetries: 1000 }, 'maxRetries'],
    ['a time filter name that is not a parameter name', { timeFilterParam: 'since=x&y' }, 'timeFilterParam'],
    [
      'fewer records per page than the page size',
      { perPage: 100, maxRecordsPerPage: 99 },
      'maxRecordsPerPage',
    ],
    ['an unbounded record depth', { maxRecordDepth: 100_000 }, 'maxRecordDepth'],
    ['a record bound below 64 bytes', { maxRecordBytes: 10 }, 'maxRecordBytes'],
  ])('rejects %s as INVALID_CONFIG naming the field', (_name, change, field) => {
    const make = () => createVaikoraClient({ baseUrl: BASE, apiKey: KEY, ...change });

    expect(make).toThrow(VaikoraError);
    expect(make).toThrow(field);
  });

  it('drops a trailing slash from the base URL', async () => {
    const { fetch, calls } = scripted([json({ actions: [] })]);

    await client(fetch, { baseUrl: `${BASE}/` }).client.verify();

    expect(calls[0]?.url.pathname).toBe('/api/v1/actions');
  });
});
