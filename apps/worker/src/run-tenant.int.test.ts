import { HEALTH_FINDING_ID_PREFIX } from '@vsh/core';
import { awsDestinations, runs } from '@vsh/db';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, type SeededTenant, startHarness } from '../test/harness.ts';

describe('a tenant run against real dependencies (PostgreSQL, moto behind the fault proxy, DynamoDB Local, Vaikora simulator)', () => {
  let h: Harness;
  const healthy: SeededTenant[] = [];
  let hubOff: SeededTenant;
  let badKey: SeededTenant;
  const startedAt = Date.now();

  beforeAll(async () => {
    h = await startHarness({
      sim: { seed: 11, initialActionsPerAgent: 0, burstRate: 0.2, badRate: 0.05, aliasRate: 0.2 },
    });
    for (let i = 0; i < 4; i++) {
      const key = `vk_test_tenant${i}`;
      const agents = [`agt-${i}-a`, `agt-${i}-b`];
      h.sim.store.addTenant(key, agents, 120);
      healthy.push(
        await h.seedTenant({
          name: `healthy ${i}`,
          accountId: `10000000000${i}`,
          region: i % 2 === 0 ? 'us-east-1' : 'eu-west-1',
          agents,
          vaikoraKey: key,
        }),
      );
    }
    h.sim.store.addTenant('vk_test_hub_off', ['agt-off'], 50);
    hubOff = await h.seedTenant({
      name: 'hub off',
      accountId: '200000000001',
      region: 'us-east-1',
      agents: ['agt-off'],
      vaikoraKey: 'vk_test_hub_off',
      hubEnabled: false,
    });
    badKey = await h.seedTenant({
      name: 'bad key',
      accountId: '200000000002',
      region: 'us-east-1',
      agents: ['agt-x'],
      vaikoraKey: 'vk_test_not_known_to_vaikora',
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('imports every qualifying action of each healthy tenant exactly once, and marks the misconfigured ones', async () => {
    const runtime = h.runtime({ run: { degradeAfterFailures: 1 } });

    const results = await Promise.all([...healthy, hubOff, badKey].map((t) => runtime.run(t.tenantId)));

    expect(results.map((r) => r.kind)).toEqual(Array(6).fill('ran'));
    for (const t of healthy) {
      const stored = h.actionFindings(t.accountId, t.region).map((f) => f.Id);
      const expected = h.expectedFindingIds(t, startedAt - 24 * 3600_000);
      expect(expected.size).toBeGreaterThan(5);
      expect(new Set(stored)).toEqual(expected);
      expect(stored.length).toBe(expected.size);
    }
    const [off] = await h.database.db
      .select()
      .from(awsDestinations)
      .where(eq(awsDestinations.id, hubOff.destinationId));
    expect(off?.state).toBe('degraded');
    expect(off?.lastError).toMatch(/^SECURITY_HUB_NOT_ENABLED/);
    const [bad] = await h.database.db
      .select()
      .from(awsDestinations)
      .where(eq(awsDestinations.id, badKey.destinationId));
    expect(bad?.state).toBe('degraded');
    expect(bad?.lastError).toMatch(/^VAIKORA_UNAUTHORIZED/);
    const [good] = await h.database.db
      .select()
      .from(awsDestinations)
      .where(eq(awsDestinations.id, healthy[0]?.destinationId ?? ''));
    expect(good?.state).toBe('active');
  });

  it('on the next run sends only what is new, and records the run for the status API', async () => {
    const runtime = h.runtime();
    const t = healthy[0];
    if (t === undefined) throw new Error('no tenant');
    const before = h.proxy.stats().securityHub[`${t.accountId}/${t.region}`];
    for (const agent of t.agents) h.sim.store.append(t.vaikoraKey, agent, 40);

    const result = await runtime.run(t.tenantId);

    expect(result.kind).toBe('ran');
    const after = h.proxy.stats().securityHub[`${t.accountId}/${t.region}`];
    const expected = h.expectedFindingIds(t, startedAt - 24 * 3600_000);
    expect(new Set(h.actionFindings(t.accountId, t.region).map((f) => f.Id))).toEqual(expected);
    // Every action finding was sent once over both runs; what else was re-sent is the connector's own
    // health finding (5% hostile records opened it; this run, reading no new bad record, archives it).
    const entries = h.proxy.stats().findingEntries[`${t.accountId}/${t.region}`] ?? {};
    const health = Object.entries(entries).filter(([id]) => id.startsWith(HEALTH_FINDING_ID_PREFIX));
    expect(
      Object.entries(entries).filter(([id, e]) => !id.startsWith(HEALTH_FINDING_ID_PREFIX) && e.sent !== 1),
    ).toEqual([]);
    expect((after?.reimports ?? 0) - (before?.reimports ?? 0)).toBe(health.length);
    const [run] = await h.database.db
      .select()
      .from(runs)
      .where(eq(runs.id, result.kind === 'ran' ? result.runId : ''));
    expect(run?.status).toBe('ok');
    expect(run?.findingsImported).toBe(
      (after?.findingsReceived ?? 0) - (before?.findingsReceived ?? 0) - health.length,
    );
    expect(run?.recentFindings.length).toBeGreaterThan(0);
  });

  it('runs a tenant once at a time inside one process too: the same worker handed it twice runs it once', async () => {
    const t = healthy[2];
    if (t === undefined) throw new Error('no tenant');
    const runtime = h.runtime();

    const results = await Promise.all([runtime.run(t.tenantId), runtime.run(t.tenantId)]);

    expect(results.map((r) => r.kind).sort()).toEqual(['busy', 'ran']);
  });

  it('gives up quietly when another worker holds the tenant', async () => {
    const t = healthy[1];
    if (t === undefined) throw new Error('no tenant');
    const a = h.runtime();
    const lease = await a.state.acquireLease(t.tenantId, 'someone-else', 60_000);

    const result = await h.runtime().run(t.tenantId);

    expect(lease).not.toBeNull();
    expect(result.kind).toBe('busy');
  });
});
