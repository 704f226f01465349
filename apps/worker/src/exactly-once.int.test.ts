import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, type SeededTenant, startHarness } from '../test/harness.ts';

/**
 * Issue 11: with more actions inside the 10-minute overlap window than the old cursor remembered
 * (900 ids), every run re-sent the rest. Each BatchImportFindings entry is billed to the customer,
 * so "exactly once" is counted at the Security Hub boundary: entries received per finding id.
 */
describe('exactly one import per action when nothing fails, at any rate', () => {
  let h: Harness;
  let tenant: SeededTenant;
  const KEY = 'vk_test_burst';
  const AGENT = 'agt-burst';

  beforeAll(async () => {
    h = await startHarness({ sim: { seed: 4242, initialActionsPerAgent: 0, burstRate: 0.4 } });
    h.sim.store.addTenant(KEY, [AGENT], 0);
    tenant = await h.seedTenant({
      name: 'burst',
      accountId: '310000000001',
      region: 'us-east-1',
      agents: [AGENT],
      vaikoraKey: KEY,
      // Every action qualifies: the window holds thousands of findings.
      thresholds: { minRiskLevel: 'low', minRiskScore: null, includeAnomalies: true, includeThreats: true },
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('sends each of 3,000 actions of one window once over three runs, and nothing on a run with nothing new', {
    timeout: 120_000,
  }, async () => {
    const runtime = h.runtime();
    const hub = () => h.proxy.stats().securityHub[`${tenant.accountId}/${tenant.region}`];
    try {
      h.sim.store.append(KEY, AGENT, 3000);
      const first = await runtime.run(tenant.tenantId);
      h.sim.store.append(KEY, AGENT, 40);
      const second = await runtime.run(tenant.tenantId);
      const beforeIdle = hub()?.findingsReceived ?? 0;
      const idle = await runtime.run(tenant.tenantId);
      const idleEntries = (hub()?.findingsReceived ?? 0) - beforeIdle;

      const expected = h.expectedFindingIds(tenant, 0);
      const stored = new Set(
        h.proxy.memoryFindings(tenant.accountId, tenant.region).map((f) => String(f.Id)),
      );
      const entries = hub()?.findingsReceived ?? 0;
      console.log(
        `exactly once: ${expected.size} qualifying actions, ${entries} BatchImportFindings entries, ` +
          `${(entries / Math.max(1, stored.size)).toFixed(2)} per distinct id, idle run ${idleEntries}`,
      );

      expect([first.kind, second.kind, idle.kind]).toEqual(['ran', 'ran', 'ran']);
      expect(expected.size).toBeGreaterThan(2900);
      expect([...expected].filter((id) => !stored.has(id))).toEqual([]);
      expect(hub()?.reimports ?? 0).toBe(0);
      expect(entries).toBe(expected.size);
      expect(idleEntries).toBe(0);
    } finally {
      await runtime.close();
    }
  });
});
