import { parseAction } from '@vsh/core';
import { startVaikoraSimulator, type VaikoraSimulator, type VaikoraSimulatorOptions } from '@vsh/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { createVaikoraClient, type SweepOptions, type VaikoraPage } from './client.ts';
import { VaikoraError } from './errors.ts';
import type { VaikoraClientOptions, VaikoraRequestEvent } from './options.ts';

const KEY = 'vk_test_int_5b1f0c2e9a';
const AGENT = 'agt-sql-copilot';
const T0 = Date.UTC(2026, 6, 1);
const running: VaikoraSimulator[] = [];

async function simulator(options: VaikoraSimulatorOptions = {}) {
  let now = T0;
  const sim = await startVaikoraSimulator({
    seed: 42,
    tenants: [{ apiKey: KEY, agents: [AGENT, 'agt-mailer'] }],
    initialActionsPerAgent: 600,
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

function clientFor(sim: VaikoraSimulator, options: Partial<VaikoraClientOptions> = {}) {
  const events: VaikoraRequestEvent[] = [];
  const client = createVaikoraClient({
    baseUrl: sim.baseUrl,
    apiKey: KEY,
    baseDelayMs: 2,
    maxDelayMs: 20,
    maxRetries: 10,
    timeoutMs: 2000,
    onRequest: (event) => events.push(event),
    ...options,
  });
  return { client, events };
}

async function drain(pages: AsyncIterable<VaikoraPage>): Promise<VaikoraPage[]> {
  const out: VaikoraPage[] = [];
  for await (const page of pages) out.push(page);
  return out;
}

/** What the store holds for the agent right now, split the way the client will see it. */
function snapshot(sim: VaikoraSimulator, fromMs = Number.NEGATIVE_INFINITY) {
  const valid = new Map<string, number>();
  const bad: string[] = [];
  for (const stored of sim.store.list(KEY, AGENT)) {
    if (stored.timestampMs < fromMs) continue;
    const parsed = parseAction(stored.raw);
    if (parsed.ok) valid.set(parsed.action.id, parsed.action.timestampMs);
    else bad.push(JSON.stringify(stored.raw));
  }
  return { valid, bad };
}

const sweep = (options: Partial<SweepOptions> = {}): SweepOptions => ({
  agentId: AGENT,
  stopBeforeMs: Number.NEGATIVE_INFINITY,
  ...options,
});

describe('Vaikora client against the simulator', () => {
  it('yields every action and rejects every bad record despite drift, 429s and 5xx', async () => {
    const { sim } = await simulator({
      insertsPerPageRequest: 9,
      badRate: 0.1,
      aliasRate: 0.2,
      hostileRate: 0.05,
      wrongTypeRate: 0.05,
      burstRate: 0.2,
      rate429: 0.2,
      retryAfterSeconds: 0,
      rate5xx: 0.1,
    });
    const before = snapshot(sim);
    const { client } = clientFor(sim);

    const pages = await drain(client.sweep(sweep()));
    const yielded = new Set(pages.flatMap((p) => p.actions.map((a) => a.id)));
    const rejected = new Set(pages.flatMap((p) => p.rejections.map((r) => JSON.stringify(r.raw))));
    const stats = sim.stats();

    expect(before.bad.length).toBeGreaterThan(30);
    expect([...before.valid.keys()].filter((id) => !yielded.has(id))).toEqual([]);
    expect(before.bad.filter((raw) => !rejected.has(raw))).toEqual([]);
    expect(pages.flatMap((p) => p.rejections).every((r) => r.reason.length > 0)).toBe(true);
    expect(pages.flatMap((p) => p.actions).some((a) => a.riskLevelSource === 'severity')).toBe(true);
    expect(pages.reduce((n, p) => n + p.repeats, 0)).toBeGreaterThan(0);
    expect(pages.at(-1)?.stop).toBe('end');
    expect(stats.byStatus[429]).toBeGreaterThan(0);
    expect(
      (stats.byStatus[500] ?? 0) +
        (stats.byStatus[502] ?? 0) +
        (stats.byStatus[503] ?? 0) +
        (stats.byStatus[504] ?? 0),
    ).toBeGreaterThan(0);
  });

  it('stops newest-first at the cursor without reading the rest of the history', async () => {
    const { sim } = await simulator({ insertsPerPageRequest: 5, badRate: 0.05 });
    const all = sim.store.list(KEY, AGENT);
    const cursor = all[all.length - 250]?.timestampMs ?? 0;
    const wanted = snapshot(sim, cursor).valid;
    const { client, events } = clientFor(sim);

    const pages = await drain(client.sweep(sweep({ stopBeforeMs: cursor })));
    const yielded = new Set(pages.flatMap((p) => p.actions.map((a) => a.id)));

    expect([...wanted.keys()].filter((id) => !yielded.has(id))).toEqual([]);
    expect(pages.at(-1)?.stop).toBe('cursor');
    expect(pages.every((p) => p.order === 'desc')).toBe(true);
    expect(events.length).toBeLessThan(Math.ceil(all.length / 100));
  });

  it('reads an oldest-first list to its end, since it cannot stop early', async () => {
    const { sim } = await simulator({ order: 'asc' });
    const all = sim.store.list(KEY, AGENT);
    const cursor = all[all.length - 50]?.timestampMs ?? 0;
    const { client } = clientFor(sim);

    const pages = await drain(client.sweep(sweep({ stopBeforeMs: cursor })));

    // 600 actions fill six pages exactly; only the empty seventh page says the list has ended. Page 6
    // reaches the window, so page 5 is read again after it (ADR 0134: what may have slid onto it).
    expect(pages.map((p) => p.page)).toEqual([1, 2, 3, 4, 5, 6, 5, 7]);
    expect(pages.at(-1)).toMatchObject({ order: 'asc', stop: 'end', received: 0 });
    expect(pages.reduce((n, p) => n + p.actions.length + p.rejections.length, 0)).toBe(all.length);
  });

  it('sends the time filter when the deployment offers one, and reads only what is newer', async () => {
    const { sim } = await simulator({ timeFilterParam: 'since', order: 'asc' });
    const all = sim.store.list(KEY, AGENT);
    const cursor = all[all.length - 150]?.timestampMs ?? 0;
    const { client, events } = clientFor(sim, { timeFilterParam: 'since' });

    const pages = await drain(client.sweep(sweep({ stopBeforeMs: cursor })));

    expect(events).toHaveLength(2);
    expect(pages.flatMap((p) => p.actions).every((a) => a.timestampMs >= cursor)).toBe(true);
    expect(pages.reduce((n, p) => n + p.actions.length + p.rejections.length, 0)).toBe(
      all.filter((a) => a.timestampMs >= cursor).length,
    );
  });

  it('fails a wrong key with UNAUTHORIZED after exactly one request', async () => {
    const { sim } = await simulator({ rate429: 0.5, rate5xx: 0.5 });
    const { client } = clientFor(sim, { apiKey: 'vk_live_not_the_right_key_000' });

    const error = await drain(client.sweep(sweep())).catch((thrown: unknown) => thrown);
    const verified = await client.verify();

    expect(error).toBeInstanceOf(VaikoraError);
    expect(error).toMatchObject({ code: 'UNAUTHORIZED', retryable: false, attempts: 1 });
    expect(verified).toMatchObject({ ok: false, code: 'UNAUTHORIZED' });
    expect(sim.stats()).toMatchObject({ requests: 2, byStatus: { 401: 2 } });
  });

  it('verifies a good key with one request and reports the total', async () => {
    const { sim } = await simulator();
    const { client } = clientFor(sim);

    const result = await client.verify({ agentId: AGENT });

    expect(result).toEqual({ ok: true, total: 600 });
    expect(sim.stats().requests).toBe(1);
  });

  it('sees old actions disappear once they pass the retention', async () => {
    const { sim, advanceClock } = await simulator({ historyMs: 3 * 3_600_000, retentionMs: 2 * 3_600_000 });
    const { client } = clientFor(sim);
    const initial = await drain(client.sweep(sweep()));
    advanceClock(3_600_000);

    const later = await drain(client.sweep(sweep()));
    const oldestLater = Math.min(...later.flatMap((p) => p.actions.map((a) => a.timestampMs)));
    const count = (pages: VaikoraPage[]) => pages.reduce((n, p) => n + p.actions.length, 0);

    expect(count(later)).toBeLessThan(count(initial));
    expect(oldestLater).toBeGreaterThanOrEqual(T0 + 3_600_000 - 2 * 3_600_000);
  });

  it('recovers from latency and held requests by timing out and retrying', async () => {
    const { sim } = await simulator({ latencyMs: 5, latencyJitterMs: 20, hangRate: 0.25, hangMs: 10_000 });
    const wanted = snapshot(sim).valid;
    const { client, events } = clientFor(sim, { timeoutMs: 250 });

    const pages = await drain(client.sweep(sweep()));
    const yielded = new Set(pages.flatMap((p) => p.actions.map((a) => a.id)));

    expect(events.some((e) => e.code === 'TIMEOUT')).toBe(true);
    expect([...wanted.keys()].filter((id) => !yielded.has(id))).toEqual([]);
  });

  it('honours a real Retry-After before retrying', async () => {
    const { sim } = await simulator({ rate429: 1, retryAfterSeconds: 1 });
    const { client, events } = clientFor(sim, {
      onRequest: (event) => {
        events.push(event);
        if (event.status === 429) sim.setOptions({ rate429: 0 });
      },
    });

    const started = performance.now();
    const result = await drain(client.sweep(sweep({ maxPages: 1 })));

    expect(performance.now() - started).toBeGreaterThanOrEqual(1000);
    expect(events.map((e) => e.status)).toEqual([429, 200]);
    expect(result[0]?.stop).toBe('max-pages');
  });

  it('reports a refused connection as a retryable NETWORK error', async () => {
    const { sim } = await simulator({ initialActionsPerAgent: 0 });
    const { client } = clientFor(sim, { maxRetries: 1 });
    await sim.stop();

    const error = await drain(client.sweep(sweep())).catch((thrown: unknown) => thrown);

    expect(error).toMatchObject({ code: 'NETWORK', retryable: true, attempts: 2 });
  });

  it('gives up with a retryable error when the service stays down', async () => {
    const { sim } = await simulator({ rate5xx: 1 });
    const { client } = clientFor(sim, { maxRetries: 3 });

    const error = await drain(client.sweep(sweep())).catch((thrown: unknown) => thrown);

    expect(error).toMatchObject({ code: 'UNAVAILABLE', retryable: true, attempts: 4 });
    expect(sim.stats().requests).toBe(4);
  });
});
