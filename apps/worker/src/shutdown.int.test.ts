import { runs } from '@vsh/db';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, type SeededTenant, startHarness } from '../test/harness.ts';
import { ledger, waitFor, watchCursors } from '../test/ledger.ts';
import { killAllWorkers, spawnWorker } from '../test/processes.ts';

const TENANTS = 6;
const WORKER_ID = 'sigterm-worker';

describe('a worker process given SIGTERM in the middle of its runs', () => {
  let h: Harness;
  const tenants: SeededTenant[] = [];

  beforeAll(async () => {
    h = await startHarness({ dynamoProxy: true, sim: { seed: 15, burstRate: 0.1, aliasRate: 0.2 } });
    for (let i = 0; i < TENANTS; i++) {
      const key = `vk_test_sigterm_${i}`;
      const agents = [`agt-${i}-a`, `agt-${i}-b`, `agt-${i}-c`];
      // Four pages per agent and slow answers: every run is long enough to be caught in the middle.
      h.sim.store.addTenant(key, agents, 350);
      tenants.push(
        await h.seedTenant({
          name: `sigterm ${i}`,
          accountId: String(600_000_000_000 + i),
          region: 'eu-west-1',
          agents,
          vaikoraKey: key,
        }),
      );
    }
  });
  afterAll(async () => {
    await killAllWorkers();
    await h?.close();
  });

  it('exits 0, releases every lease it held, records its runs, and leaves every cursor behind only what is in Security Hub', async () => {
    h.sim.setOptions({ latencyMs: 150 });
    h.proxy.setRules({ latency: [{ match: { service: 'securityhub' }, minMs: 100, maxMs: 200 }] });
    h.dynamoProxy?.setRules({ throttle: false, latency: [{ minMs: 5, maxMs: 20 }] });
    const watch = watchCursors(h, tenants);
    const worker = spawnWorker(
      WORKER_ID,
      h.workerEnv({
        WORKER_ID,
        WORKER_CONCURRENCY: String(TENANTS),
        LEASE_TTL_MS: '3000',
        SCHEDULER_TICK_MS: '100',
      }),
    );
    await worker.ready;
    const running = () =>
      h.database.db
        .select()
        .from(runs)
        .where(and(eq(runs.workerId, WORKER_ID), eq(runs.status, 'running')));
    // Mid-run: some agents' streams done (their cursors saved), others still being read and imported.
    await waitFor(
      async () =>
        watch.cursors > 0 &&
        (await running()).length >= TENANTS / 2 &&
        h.proxy.operationStats('securityhub', 'BatchImportFindings').requests > 0,
      60_000,
      () => worker.tail(),
      50,
    );

    const signalled = Date.now();
    worker.kill('SIGTERM');
    const exit = await worker.exited;
    const exitMs = Date.now() - signalled;

    const now = Date.now();
    const leases = await Promise.all(tenants.map((t) => h.runtime().state.getLease(t.tenantId)));
    const held = leases.filter((l) => l !== null && l.expiresAtMs > now);
    const ours = leases.filter((l) => l?.owner.startsWith(`${WORKER_ID}#`));
    const recorded = await h.database.db.select().from(runs).where(eq(runs.workerId, WORKER_ID));
    const cursors = await watch.stop();
    console.log(
      `SIGTERM: exit ${JSON.stringify(exit)} after ${exitMs} ms; runs ${recorded.map((r) => r.status).join(',')}; ` +
        `leases held ${held.length}, released by it ${ours.filter((l) => l?.expiresAtMs === 0).length}/${ours.length}; ` +
        `cursors saved ${cursors.cursorsAtEnd}, regressions ${cursors.regressions}, passed undelivered ${cursors.passedUndelivered}`,
    );
    expect(exit).toEqual({ code: 0, signal: null });
    expect(exitMs).toBeLessThan(20_000);
    expect(held).toEqual([]);
    expect(ours.length).toBeGreaterThan(0);
    expect(ours.every((l) => l?.expiresAtMs === 0)).toBe(true);
    expect(recorded.filter((r) => r.status === 'running')).toEqual([]);
    expect(recorded.some((r) => r.status === 'partial')).toBe(true);
    expect(cursors.cursorsAtEnd).toBeGreaterThan(0);
    expect(cursors.regressions).toBe(0);
    expect(cursors.passedUndelivered).toBe(0);

    // What the interrupted runs left is picked up by the next runs: nothing is lost.
    h.sim.setOptions({ latencyMs: 0 });
    h.proxy.setRules({});
    const runtime = h.runtime();
    for (const t of tenants) expect((await runtime.run(t.tenantId)).kind).toBe('ran');
    expect(ledger(h, tenants)).toMatchObject({ lost: 0, duplicateIds: 0, unexpected: 0 });
  });
});
