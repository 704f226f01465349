import { healthFindingId } from '@vsh/core';
import { awsDestinations, runs } from '@vsh/db';
import { inArray } from 'drizzle-orm';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, type SeededTenant, startHarness, type TenantSpec } from '../test/harness.ts';
import { finishedRuns, getFindingsById, makeDue, waitFor } from '../test/ledger.ts';
import { startInProcessScheduler } from './scheduler.ts';

type Kind = 'healthy' | 'wrong-external-id' | 'hub-off' | 'bad-key';
const TENANTS = 50;
const REGIONS = ['us-east-1', 'eu-west-1', 'ap-southeast-2'];
const kindOf = (i: number): Kind =>
  i % 10 === 3 ? 'wrong-external-id' : i % 10 === 6 ? 'hub-off' : i % 10 === 9 ? 'bad-key' : 'healthy';

describe('50 tenants in the control-plane database, end to end (PostgreSQL, moto behind the fault proxy with ExternalId enforcement, DynamoDB Local, Vaikora simulator)', () => {
  let h: Harness;
  const seeded: Array<{ kind: Kind; tenant: SeededTenant }> = [];

  beforeAll(async () => {
    h = await startHarness({
      enforceExternalId: true,
      sim: { seed: 50, burstRate: 0.2, badRate: 0.05, aliasRate: 0.2, wrongTypeRate: 0.05 },
    });
    const specs: Array<{ kind: Kind; spec: TenantSpec }> = [];
    for (let i = 0; i < TENANTS; i++) {
      const kind = kindOf(i);
      const key = kind === 'bad-key' ? `vk_test_unknown_${i}` : `vk_test_fleet_${i}`;
      const agents = i % 2 === 0 ? [`agt-${i}-a`, `agt-${i}-b`] : [`agt-${i}-a`];
      if (kind !== 'bad-key') h.sim.store.addTenant(key, agents, 40);
      specs.push({
        kind,
        spec: {
          name: `tenant ${i} (${kind})`,
          accountId: String(300_000_000_000 + i),
          region: REGIONS[i % REGIONS.length] ?? 'us-east-1',
          agents,
          vaikoraKey: key,
          hubEnabled: kind !== 'hub-off',
          wrongExternalId: kind === 'wrong-external-id',
        },
      });
    }
    for (let i = 0; i < specs.length; i += 10) {
      const group = specs.slice(i, i + 10);
      const tenants = await Promise.all(group.map(({ spec }) => h.seedTenant(spec)));
      for (const [j, tenant] of tenants.entries()) seeded.push({ kind: group[j]?.kind ?? 'healthy', tenant });
    }
  });
  afterAll(async () => {
    await h?.close();
  });

  it('puts every qualifying action of each healthy tenant in its Security Hub exactly once, degrades the misconfigured with the right error, and leaves the healthy ones unaffected', async () => {
    const runtime = h.runtime();
    const all = seeded.map((s) => s.tenant.tenantId);
    const healthy = seeded.filter((s) => s.kind === 'healthy').map((s) => s.tenant);
    const started = new Date();
    const scheduler = startInProcessScheduler({
      scheduler: runtime.scheduler,
      run: runtime.run,
      concurrency: 8,
      tickMs: 100,
      holdMs: 60_000,
      clock: Date.now,
      logger: pino({ level: 'silent' }),
    });
    const cycleDone = (n: number) => async () => {
      const done = await finishedRuns(h, started);
      return all.every((id) => (done.get(id) ?? 0) >= n);
    };
    try {
      // Two cycles: repeated failures degrade a destination (default policy: 2 in a row), and the
      // second cycle of a healthy tenant sends only what is new.
      await waitFor(cycleDone(1), 60_000, () => 'first cycle');
      for (const t of healthy) for (const agent of t.agents) h.sim.store.append(t.vaikoraKey, agent, 25);
      await makeDue(h, all);
      scheduler.wake();
      await waitFor(cycleDone(2), 60_000, () => 'second cycle');
    } finally {
      await scheduler.stop();
    }

    const runRows = await h.database.db.select().from(runs).where(inArray(runs.tenantId, all));
    const destinations = await h.database.db
      .select()
      .from(awsDestinations)
      .where(inArray(awsDestinations.tenantId, all));
    const destinationOf = new Map(destinations.map((d) => [d.tenantId, d]));
    const runsOf = (tenantId: string) => runRows.filter((r) => r.tenantId === tenantId);
    const hubStats = h.proxy.stats().securityHub;
    const failures: string[] = [];
    let findings = 0;
    for (const t of healthy) {
      const expected = [...h.expectedFindingIds(t, 0)];
      const found = await getFindingsById(h, t, expected);
      const stats = hubStats[`${t.accountId}/${t.region}`];
      findings += found.length;
      if (expected.length < 10) failures.push(`${t.name}: only ${expected.length} qualifying actions`);
      if (found.length !== expected.length || new Set(found).size !== expected.length)
        failures.push(`${t.name}: ${found.length} findings found by id, ${expected.length} expected`);
      if (h.proxy.memoryFindings(t.accountId, t.region).length !== expected.length)
        failures.push(`${t.name}: the hub holds findings that are no qualifying action`);
      if (stats?.reimports !== 0 || stats.distinctIds !== expected.length)
        failures.push(`${t.name}: imported ${stats?.distinctIds} ids with ${stats?.reimports} re-imports`);
      const statuses = runsOf(t.tenantId).map((r) => r.status);
      if (statuses.length !== 2 || statuses.some((s) => s !== 'ok'))
        failures.push(`${t.name}: runs ${statuses.join(',')}`);
      if (destinationOf.get(t.tenantId)?.state !== 'active')
        failures.push(`${t.name}: destination ${destinationOf.get(t.tenantId)?.state}`);
    }
    const expectedError: Record<Exclude<Kind, 'healthy'>, string> = {
      'wrong-external-id': 'ROLE_UNUSABLE',
      'hub-off': 'SECURITY_HUB_NOT_ENABLED',
      'bad-key': 'VAIKORA_UNAUTHORIZED',
    };
    const misconfigured = seeded.filter((s) => s.kind !== 'healthy');
    for (const { kind, tenant } of misconfigured) {
      if (kind === 'healthy') continue;
      const code = expectedError[kind];
      const destination = destinationOf.get(tenant.tenantId);
      if (destination?.state !== 'degraded' || !destination.lastError?.startsWith(`${code}:`))
        failures.push(`${tenant.name}: ${destination?.state} / ${destination?.lastError}`);
      const tenantRuns = runsOf(tenant.tenantId);
      // 'failed': nothing read (bad key), or read but the only destination failed (role, hub).
      if (tenantRuns.length !== 2 || tenantRuns.some((r) => r.status !== 'failed' || r.errorCode !== code))
        failures.push(
          `${tenant.name}: runs ${tenantRuns.map((r) => `${r.status}/${r.errorCode}`).join(',')}`,
        );
      // A refused key is reported in the tenant's own hub by its health finding (ADR 0116), and nothing else.
      const health =
        kind === 'bad-key' ? [healthFindingId(tenant.tenantId, tenant.destinationId, 'vaikora_auth')] : [];
      const stored = h.proxy.memoryFindings(tenant.accountId, tenant.region).map((f) => String(f.Id));
      if (stored.join() !== health.join()) failures.push(`${tenant.name}: has findings ${stored.join()}`);
    }
    const refusedAssumeRoles = h.proxy.operationStats('sts', 'AssumeRole').answeredLocally;
    console.log(
      `fleet: ${healthy.length} healthy tenants, ${findings} findings read back by id; ` +
        `${misconfigured.length} misconfigured degraded; ${refusedAssumeRoles} AssumeRole refused for the ExternalId`,
    );

    expect(failures).toEqual([]);
    expect(healthy.length).toBe(35);
    expect(misconfigured.map((m) => m.kind).sort()).toEqual([
      ...Array(5).fill('bad-key'),
      ...Array(5).fill('hub-off'),
      ...Array(5).fill('wrong-external-id'),
    ]);
    expect(refusedAssumeRoles).toBeGreaterThanOrEqual(5);
  });
});
