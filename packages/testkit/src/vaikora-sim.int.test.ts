import { get } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startVaikoraSimulator, type VaikoraSimulator, type VaikoraSimulatorOptions } from './vaikora-sim.ts';

const KEY = 'vk_test_sim_int_9f8e7d';
const T0 = Date.UTC(2026, 5, 1);
const running: VaikoraSimulator[] = [];

async function start(options: VaikoraSimulatorOptions = {}) {
  let now = T0;
  const sim = await startVaikoraSimulator({
    tenants: [{ apiKey: KEY, agents: ['agt-1', 'agt-2'] }],
    initialActionsPerAgent: 120,
    clock: () => now,
    ...options,
  });
  running.push(sim);
  return {
    sim,
    advanceClock: (ms: number) => {
      now += ms;
    },
  };
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((sim) => sim.stop()));
});

interface Envelope {
  actions: { id?: string; timestamp?: string }[];
  total: number;
  page: number;
  per_page: number;
}

async function list(sim: VaikoraSimulator, query: string, key: string | null = KEY) {
  const response = await fetch(`${sim.baseUrl}/actions${query}`, {
    headers: key === null ? {} : { 'X-API-Key': key },
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, body: JSON.parse(text) as Envelope };
}

describe('Vaikora simulator over HTTP', () => {
  it('listens on 127.0.0.1 under /api/v1', async () => {
    const { sim } = await start();

    expect(sim.baseUrl).toBe(`http://127.0.0.1:${sim.port}/api/v1`);
  });

  it.each([
    ['a missing key', null],
    ['a wrong key', 'vk_live_wrong_key_123456'],
  ])('answers 401 to %s without echoing it', async (_name, key) => {
    const { sim } = await start();

    const answer = await list(sim, '?agent_id=agt-1', key);

    expect(answer.status).toBe(401);
    expect(answer.body).toMatchObject({ error: 'unauthorized' });
    if (key !== null) expect(answer.text).not.toContain(key);
  });

  it('serves the envelope newest first, paged by page and per_page', async () => {
    const { sim } = await start();

    const first = await list(sim, '?agent_id=agt-1&page=1&per_page=50');
    const third = await list(sim, '?agent_id=agt-1&page=3&per_page=50');
    const all = sim.store.list(KEY, 'agt-1').reverse();

    expect(first.body).toMatchObject({ total: 120, page: 1, per_page: 50 });
    expect(first.body.actions).toEqual(all.slice(0, 50).map((a) => a.raw));
    expect(third.body.actions).toEqual(all.slice(100, 120).map((a) => a.raw));
  });

  it('serves oldest first when told to', async () => {
    const { sim } = await start({ order: 'asc' });

    const answer = await list(sim, '?agent_id=agt-1&per_page=5');

    expect(answer.body.actions).toEqual(
      sim.store
        .list(KEY, 'agt-1')
        .slice(0, 5)
        .map((a) => a.raw),
    );
  });

  it('lists every agent of the key when agent_id is omitted', async () => {
    const { sim } = await start();

    const answer = await list(sim, '?per_page=1');

    expect(answer.body.total).toBe(240);
  });

  it('clamps per_page to the maximum by default and can refuse it instead', async () => {
    const { sim } = await start();

    const clamped = await list(sim, '?agent_id=agt-1&per_page=500');
    sim.setOptions({ perPageOverflow: 'reject' });
    const refused = await list(sim, '?agent_id=agt-1&per_page=500');

    expect(clamped.body.per_page).toBe(100);
    expect(clamped.body.actions).toHaveLength(100);
    expect(refused.status).toBe(400);
  });

  it.each(['page=0', 'page=x', 'per_page=0', 'per_page=-3'])('refuses %s with 400', async (query) => {
    const { sim } = await start();

    expect((await list(sim, `?${query}`)).status).toBe(400);
  });

  it('ignores a time filter unless one is configured, then filters timestamp >= since', async () => {
    const { sim } = await start();
    const cut = sim.store.list(KEY, 'agt-1')[60]?.timestampMs ?? 0;
    const since = new Date(cut).toISOString();

    const unfiltered = await list(sim, `?agent_id=agt-1&since=${since}`);
    sim.setOptions({ timeFilterParam: 'since' });
    const filtered = await list(sim, `?agent_id=agt-1&since=${since}`);
    const expected = sim.store.list(KEY, 'agt-1').filter((a) => a.timestampMs >= cut).length;

    expect(unfiltered.body.total).toBe(120);
    expect(filtered.body.total).toBe(expected);
    expect((await list(sim, '?agent_id=agt-1&since=yesterday')).status).toBe(400);
  });

  it('inserts new actions at the head between page requests, shifting later pages', async () => {
    const { sim } = await start({ insertsPerPageRequest: 3 });

    const first = await list(sim, '?agent_id=agt-1&per_page=10&page=1');
    const second = await list(sim, '?agent_id=agt-1&per_page=10&page=2');

    expect(second.body.total).toBe(first.body.total + 3);
    expect(second.body.actions.slice(0, 3)).toEqual(first.body.actions.slice(7, 10));
    expect(sim.stats().driftInserts).toBe(6);
  });

  it('lists one of the 50 newest actions again at the head, at its own time, at the relist rate in arrival order', async () => {
    const { sim } = await start({ order: 'arrival', relistRate: 1 });
    const newest = new Set(
      sim.store
        .list(KEY, 'agt-1')
        .slice(-50)
        .map((a) => (a.raw as { id: string }).id),
    );

    const heads = [];
    for (let i = 0; i < 5; i++) heads.push((await list(sim, '?agent_id=agt-1&per_page=100')).body.actions);

    expect(sim.stats().relists).toBe(5);
    for (const actions of heads) {
      expect(newest.has(String(actions[0]?.id))).toBe(true);
      // Moved, not copied: every action once.
      expect(new Set(actions.map((a) => a.id)).size).toBe(100);
    }
  });

  it('refuses the pages it is told to with a 400, and serves the others', async () => {
    const { sim } = await start({ refusePages: [2] });

    const [first, second, third] = await Promise.all(
      [1, 2, 3].map((page) => list(sim, `?agent_id=agt-1&per_page=50&page=${page}`)),
    );

    expect([first?.status, second?.status, third?.status]).toEqual([200, 400, 200]);
    expect(second?.body).toMatchObject({ error: 'bad_request' });
  });

  it('answers 429 with Retry-After in seconds or as an HTTP date', async () => {
    const { sim } = await start({ rate429: 1, retryAfterSeconds: 7 });

    const seconds = await list(sim, '?agent_id=agt-1');
    sim.setOptions({ retryAfterFormat: 'http-date' });
    const date = await list(sim, '?agent_id=agt-1');

    expect(seconds.status).toBe(429);
    expect(seconds.headers.get('retry-after')).toBe('7');
    expect(Date.parse(date.headers.get('retry-after') ?? '')).toBe(T0 + 7000);
  });

  it('answers 5xx at the configured rate and counts requests by status', async () => {
    const { sim } = await start({ rate5xx: 0.5 });

    const statuses = [];
    for (let i = 0; i < 40; i++)
      statuses.push((await fetch(`${sim.baseUrl}/actions`, { headers: { 'X-API-Key': KEY } })).status);
    const stats = sim.stats();
    const failed = statuses.filter((s) => s >= 500).length;

    expect(failed).toBeGreaterThan(8);
    expect(failed).toBeLessThan(32);
    expect(stats.requests).toBe(40);
    expect(stats.byStatus[200]).toBe(40 - failed);
  });

  it('adds latency and can hold a request past a client timeout', async () => {
    const { sim } = await start({ latencyMs: 100, hangRate: 1, hangMs: 5000 });

    const started = performance.now();
    const outcome = await fetch(`${sim.baseUrl}/actions`, {
      headers: { 'X-API-Key': KEY },
      signal: AbortSignal.timeout(400),
    }).catch((error: unknown) => error);

    expect(outcome).toMatchObject({ name: 'TimeoutError' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(390);
    expect(sim.stats().hangs).toBe(1);
  });

  it('generates actions as its clock moves and forgets those past the retention', async () => {
    const { sim, advanceClock } = await start({
      actionsPerMinute: 10,
      retentionMs: 3_600_000,
      historyMs: 7_200_000,
    });

    const before = await list(sim, '?agent_id=agt-1&per_page=1');
    advanceClock(30 * 60_000);
    const after = await list(sim, '?agent_id=agt-1&per_page=100');
    const oldest = sim.store.list(KEY, 'agt-1')[0]?.timestampMs ?? 0;

    expect(before.body.total).toBeLessThan(120);
    expect(oldest).toBeGreaterThanOrEqual(T0 + 30 * 60_000 - 3_600_000);
    expect(Date.parse(after.body.actions[0]?.timestamp ?? '')).toBeGreaterThan(T0);
  });

  it('validates knob changes and refuses unknown ones', async () => {
    const { sim } = await start();

    expect(() => sim.setOptions({ rate429: 2 })).toThrow();
    expect(() => sim.setOptions({ rate492: 0.1 } as never)).toThrow();
    expect(sim.setOptions({ rate429: 0.2 }).rate429).toBe(0.2);
  });

  it('accepts any key when key checking is off', async () => {
    const { sim } = await start({ checkKeys: false });

    expect((await list(sim, '?agent_id=agt-1', null)).status).toBe(200);
  });

  it('stops promptly even with a request on hold', async () => {
    const { sim } = await start({ hangRate: 1, hangMs: 60_000 });
    const pending = fetch(`${sim.baseUrl}/actions`, { headers: { 'X-API-Key': KEY } }).catch(() => 'closed');
    await expect.poll(() => sim.stats().hangs).toBe(1);

    const started = performance.now();
    await sim.stop();

    expect(performance.now() - started).toBeLessThan(1000);
    expect(await pending).toBe('closed');
  });
});

/** Raw bytes of a list answer (no decoding). */
async function listBytes(sim: VaikoraSimulator, query: string, key = KEY) {
  const response = await fetch(`${sim.baseUrl}/actions${query}`, { headers: { 'X-API-Key': key } });
  return { status: response.status, bytes: Buffer.from(await response.arrayBuffer()) };
}

describe('Vaikora simulator hostile answers', () => {
  const OTHER = 'vk_test_sim_int_other';

  it('answers one page of one key with a body of exactly N bytes of tiny records, and nothing else', async () => {
    const { sim } = await start({
      tenants: [
        { apiKey: KEY, agents: ['agt-1'] },
        { apiKey: OTHER, agents: ['agt-1'] },
      ],
      perKey: { [KEY]: { tinyRecordsPage: { bytes: 4 * 1024 * 1024 + 7, page: 2 } } },
    });

    const tiny = await listBytes(sim, '?agent_id=agt-1&page=2');
    const body = JSON.parse(tiny.bytes.toString('utf8')) as { actions: unknown[]; total: number };
    const first = await list(sim, '?agent_id=agt-1&page=1');
    const other = await list(sim, '?agent_id=agt-1&page=2', OTHER);

    expect(tiny.status).toBe(200);
    expect(tiny.bytes.byteLength).toBe(4 * 1024 * 1024 + 7);
    expect(body.actions.length).toBeGreaterThan(1_390_000);
    expect(
      body.actions.every((a) => typeof a === 'object' && a !== null && Object.keys(a).length === 0),
    ).toBe(true);
    expect(body.total).toBe(body.actions.length);
    expect(first.body.actions).toHaveLength(100);
    expect(other.body.actions).toHaveLength(20);
    expect(sim.stats().streamed).toBe(1);
  });

  it.each([
    ['with a Content-Length', true],
    ['chunked, without a Content-Length', false],
  ])(
    'streams a 64 MiB page %s in chunks, writing no further than the client reads',
    async (_name, contentLength) => {
      const { sim } = await start({ tinyRecordsPage: { bytes: 64 * 1024 * 1024, contentLength } });

      const { headers, read } = await new Promise<{
        headers: Record<string, unknown>;
        read: () => Promise<number>;
      }>((resolve, reject) => {
        get(`${sim.baseUrl}/actions?page=1`, { headers: { 'X-API-Key': KEY } }, (res) => {
          let received = 0;
          let holding = true;
          res.on('data', (chunk: Buffer) => {
            received += chunk.byteLength;
            if (holding && received > 1024 * 1024) res.pause();
          });
          resolve({
            headers: res.headers,
            read: async () => {
              holding = false;
              res.resume();
              await new Promise((done) => res.on('end', done));
              return received;
            },
          });
        }).on('error', reject);
      });
      // The reader holds back after 1 MiB: wait until the simulator's writes stall (two equal readings).
      let lastReading = -1;
      await vi.waitFor(
        () => {
          const reading = sim.stats().streamedBytes;
          const stalled = reading === lastReading && reading > 1024 * 1024;
          lastReading = reading;
          if (!stalled) throw new Error(`still writing (${reading} bytes so far)`);
        },
        { interval: 100, timeout: 20_000 },
      );
      const writtenWhilePaused = sim.stats().streamedBytes;
      const received = await read();

      expect(headers['content-length']).toBe(contentLength ? String(64 * 1024 * 1024) : undefined);
      expect(headers['transfer-encoding']).toBe(contentLength ? undefined : 'chunked');
      expect(writtenWhilePaused).toBeLessThan(16 * 1024 * 1024);
      expect(received).toBe(64 * 1024 * 1024);
      expect(sim.stats().streamedBytes).toBe(64 * 1024 * 1024);
    },
  );

  it('holds every page of a slow key for slowPageMs, set over POST /__sim/options, and no other key', async () => {
    const { sim } = await start({
      tenants: [
        { apiKey: KEY, agents: ['agt-1'] },
        { apiKey: OTHER, agents: ['agt-1'] },
      ],
    });
    const options = await fetch(`${sim.baseUrl.replace(/\/api\/v1$/, '')}/__sim/options`, {
      method: 'POST',
      body: JSON.stringify({ perKey: { [KEY]: { slowPageMs: 400 } } }),
    });
    const refused = await fetch(`${sim.baseUrl.replace(/\/api\/v1$/, '')}/__sim/options`, {
      method: 'POST',
      body: JSON.stringify({ perKey: { [KEY]: { slowPagesMs: 400 } } }),
    });

    const timed = async (key: string) => {
      const started = performance.now();
      const answer = await list(sim, '?agent_id=agt-1&page=2', key);
      return { ms: performance.now() - started, status: answer.status };
    };
    const [slow, fast] = await Promise.all([timed(KEY), timed(OTHER)]);

    expect(options.status).toBe(200);
    expect(refused.status).toBe(400);
    expect(slow).toMatchObject({ status: 200 });
    expect(slow.ms).toBeGreaterThanOrEqual(390);
    expect(fast.ms).toBeLessThan(300);
    expect(sim.stats().slowPages).toBe(1);
  });

  it('writes deeply nested records and raw invalid UTF-8 bytes into the page as they are', async () => {
    const { sim } = await start({ deepRate: 0.15, deepDepth: 10_000, invalidUtf8Rate: 0.15 });

    const answer = await listBytes(sim, '?agent_id=agt-1&per_page=100');
    const lenient = JSON.parse(new TextDecoder().decode(answer.bytes)) as Envelope;
    const served = sim.store.list(KEY, 'agt-1').reverse().slice(0, 100);
    const deep = served.filter((a) => a.wire?.kind === 'deep-nesting');
    const invalid = served.filter((a) => a.wire?.kind === 'invalid-utf8');

    expect(deep.length).toBeGreaterThan(3);
    expect(invalid.length).toBeGreaterThan(3);
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(answer.bytes)).toThrow();
    expect(lenient.actions.map((a) => a.id)).toEqual(served.map((a) => (a.raw as { id?: string }).id));
    expect(answer.bytes.filter((b) => b === 0x5b).length).toBeGreaterThanOrEqual(deep.length * 10_000);
  });

  it('serves a record nested 5,000,000 deep as text', async () => {
    const { sim } = await start({ deepRate: 1, deepDepth: 5_000_000, initialActionsPerAgent: 1 });

    const answer = await listBytes(sim, '?agent_id=agt-1&per_page=1');
    let depth = 0;
    let deepest = 0;
    for (const b of answer.bytes) {
      if (b === 0x5b) deepest = Math.max(deepest, ++depth);
      else if (b === 0x5d) depth--;
    }

    expect(answer.status).toBe(200);
    expect(deepest).toBe(5_000_001);
    expect(depth).toBe(0);
  });
});
