import { backfills } from '@vsh/db';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, type SeededTenant, startHarness } from '../test/harness.ts';
import type { BackfillJob } from './backfill.ts';

const HOUR = 3_600_000;

describe('runBackfill against real dependencies (PostgreSQL, moto behind the fault proxy, DynamoDB Local, Vaikora simulator)', () => {
  let h: Harness;
  let fresh: SeededTenant;
  let served: SeededTenant;
  const now = Date.now();
  const from = now - 4 * HOUR;
  const to = now - 1 * HOUR;

  beforeAll(async () => {
    h = await startHarness({
      sim: { seed: 95, initialActionsPerAgent: 0, historyMs: 6 * HOUR, badRate: 0.05, aliasRate: 0.2 },
    });
    h.sim.store.addTenant('vk_test_backfill_fresh', ['agt-f-a', 'agt-f-b'], 160);
    h.sim.store.addTenant('vk_test_backfill_served', ['agt-s-a'], 120);
    fresh = await h.seedTenant({
      name: 'fresh',
      accountId: '300000000001',
      region: 'us-east-1',
      agents: ['agt-f-a', 'agt-f-b'],
      vaikoraKey: 'vk_test_backfill_fresh',
    });
    served = await h.seedTenant({
      name: 'served',
      accountId: '300000000002',
      region: 'eu-west-1',
      agents: ['agt-s-a'],
      vaikoraKey: 'vk_test_backfill_served',
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  const inRange = (t: SeededTenant) => {
    const ids = new Set<string>();
    for (const agent of t.agents)
      for (const a of h.qualifyingActions(t, agent))
        if (a.timestampMs >= from && a.timestampMs < to) ids.add(a.findingId);
    return ids;
  };

  async function queueAndClaim(t: SeededTenant): Promise<BackfillJob> {
    await h.database.db
      .insert(backfills)
      .values({ tenantId: t.tenantId, fromAt: new Date(from), toAt: new Date(to) });
    const runtime = h.runtime();
    const [job] = (await runtime.backfills.claimBackfills('test', 10, 60_000)).filter(
      (j) => j.tenantId === t.tenantId,
    );
    if (job === undefined) throw new Error('no backfill claimed');
    return job;
  }

  it('sends every qualifying action of the range exactly once, twice over, with no duplicate and nothing outside the range', async () => {
    const runtime = h.runtime();
    const expected = inRange(fresh);

    const first = await runtime.runBackfill(await queueAndClaim(fresh));
    const afterFirst = h.proxy.memoryFindings(fresh.accountId, fresh.region).map((f) => f.Id);
    const second = await runtime.runBackfill(await queueAndClaim(fresh));
    const afterSecond = h.proxy.memoryFindings(fresh.accountId, fresh.region).map((f) => f.Id);
    const stats = h.proxy.stats().securityHub[`${fresh.accountId}/${fresh.region}`];
    const rows = await h.database.db.select().from(backfills).where(eq(backfills.tenantId, fresh.tenantId));

    expect(expected.size).toBeGreaterThan(10);
    expect(first.kind).toBe('done');
    expect(second.kind).toBe('done');
    expect(new Set(afterFirst)).toEqual(expected);
    expect(afterFirst).toHaveLength(expected.size);
    expect(new Set(afterSecond)).toEqual(expected);
    expect(afterSecond).toHaveLength(expected.size);
    expect(stats?.reimports).toBe(expected.size);
    expect(rows.map((r) => [r.state, r.progressPercent, r.findingsImported])).toEqual([
      ['done', 100, expected.size],
      ['done', 100, expected.size],
    ]);
    expect(rows.every((r) => r.pages > 0 && r.actionsInRange >= expected.size && r.finishedAt !== null)).toBe(
      true,
    );
  });

  it('never moves a stream cursor: a served tenant keeps its cursors and its findings, re-imported in place', async () => {
    const runtime = h.runtime();
    const ran = await runtime.run(served.tenantId);
    const streamId = served.streamIds['agt-s-a'] ?? '';
    const cursorBefore = await runtime.state.getCursor(served.tenantId, streamId);
    const findingsBefore = h.proxy.memoryFindings(served.accountId, served.region).map((f) => f.Id);
    const reimportsBefore =
      h.proxy.stats().securityHub[`${served.accountId}/${served.region}`]?.reimports ?? 0;

    const result = await runtime.runBackfill(await queueAndClaim(served));

    const cursorAfter = await runtime.state.getCursor(served.tenantId, streamId);
    const findingsAfter = h.proxy.memoryFindings(served.accountId, served.region).map((f) => f.Id);
    const reimports = h.proxy.stats().securityHub[`${served.accountId}/${served.region}`]?.reimports ?? 0;
    expect(ran.kind).toBe('ran');
    expect(cursorBefore).not.toBeNull();
    expect(result.kind).toBe('done');
    expect(cursorAfter).toEqual(cursorBefore);
    expect(new Set(findingsAfter)).toEqual(new Set(findingsBefore));
    expect(findingsAfter).toHaveLength(findingsBefore.length);
    expect(reimports - reimportsBefore).toBe(inRange(served).size);
  });

  it('waits while the tenant is leased, and fails with the reason when the tenant has no runnable destination', async () => {
    const runtime = h.runtime();
    const job = await queueAndClaim(fresh);
    const lease = await runtime.state.acquireLease(fresh.tenantId, 'someone-else', 60_000);

    const busy = await runtime.runBackfill(job);
    if (lease !== null) await runtime.state.releaseLease(lease);
    await runtime.backfills.requeue(job);
    const [requeued] = await h.database.db.select().from(backfills).where(eq(backfills.id, job.id));

    expect(busy.kind).toBe('busy');
    expect(requeued?.state).toBe('queued');
    const [other] = await h.database.db
      .insert(backfills)
      .values({
        tenantId: fresh.tenantId,
        destinationId: served.destinationId,
        fromAt: new Date(from),
        toAt: new Date(to),
      })
      .returning();
    // Another tenant's destination is never a target.
    const claimed = (await runtime.backfills.claimBackfills('test', 10, 60_000)).find(
      (j) => j.id === other?.id,
    );
    if (claimed === undefined) throw new Error('not claimed');
    const failed = await runtime.runBackfill(claimed);
    const [row] = await h.database.db.select().from(backfills).where(eq(backfills.id, claimed.id));
    expect(failed.kind).toBe('failed');
    expect(row?.state).toBe('failed');
    expect(row?.errorCode).toBe('NO_RUNNABLE_DESTINATION');
  });
});
