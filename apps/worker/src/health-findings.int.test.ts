import { HEALTH_FINDING_ID_PREFIX, healthFindingId, healthFindingType } from '@vsh/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, type SeededTenant, startHarness } from '../test/harness.ts';
import { getFindingsById } from '../test/ledger.ts';

/**
 * Issue 15 (ADR 0116): a tenant whose Vaikora key is refused gets a health finding in its own Security
 * Hub within one run; once the key works again the same finding is archived, once; no other tenant's
 * hub ever receives it.
 */
describe('connector health findings in the tenant’s own Security Hub (moto behind the fault proxy, Vaikora simulator)', () => {
  let h: Harness;
  let broken: SeededTenant;
  let healthy: SeededTenant;
  const BROKEN_KEY = 'vk_test_health_broken';
  const HEALTHY_KEY = 'vk_test_health_ok';

  beforeAll(async () => {
    h = await startHarness({ sim: { seed: 15, initialActionsPerAgent: 0 } });
    // The broken tenant's key is not (yet) known to Vaikora: the simulator answers 401.
    h.sim.store.addTenant(HEALTHY_KEY, ['agt-h-ok'], 20);
    broken = await h.seedTenant({
      name: 'key refused',
      accountId: '315000000001',
      region: 'eu-west-1',
      agents: ['agt-h-broken'],
      vaikoraKey: BROKEN_KEY,
    });
    healthy = await h.seedTenant({
      name: 'key fine',
      accountId: '315000000002',
      region: 'eu-west-1',
      agents: ['agt-h-ok'],
      vaikoraKey: HEALTHY_KEY,
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('opens a vaikora_auth finding when the key is refused, archives it once when fixed, and never touches another tenant', {
    timeout: 60_000,
  }, async () => {
    const runtime = h.runtime();
    const id = healthFindingId(broken.tenantId, broken.destinationId, 'vaikora_auth');
    const healthOf = (t: SeededTenant) =>
      h.proxy
        .memoryFindings(t.accountId, t.region)
        .filter((f) => String(f.Id).startsWith(HEALTH_FINDING_ID_PREFIX));
    const entriesOf = (t: SeededTenant) => {
      const hub = h.proxy.stats().findingEntries[`${t.accountId}/${t.region}`] ?? {};
      return Object.entries(hub)
        .filter(([findingId]) => findingId.startsWith(HEALTH_FINDING_ID_PREFIX))
        .reduce((sum, [, entry]) => sum + entry.sent, 0);
    };
    try {
      const first = await Promise.all([runtime.run(broken.tenantId), runtime.run(healthy.tenantId)]);

      expect(first.map((r) => (r.kind === 'ran' ? r.summary.errorCode : r.kind))).toEqual([
        'VAIKORA_UNAUTHORIZED',
        null,
      ]);
      expect(await getFindingsById(h, broken, [id])).toEqual([id]);
      const [opened] = healthOf(broken);
      expect(healthOf(broken)).toHaveLength(1);
      expect(opened).toMatchObject({
        Id: id,
        AwsAccountId: broken.accountId,
        Region: broken.region,
        Types: [healthFindingType('vaikora_auth')],
        RecordState: 'ACTIVE',
        Severity: { Label: 'HIGH' },
        Remediation: { Recommendation: { Text: expect.stringMatching(/API key/) } },
      });
      expect(opened?.Description).toMatch(/VAIKORA_UNAUTHORIZED/);
      expect(await getFindingsById(h, healthy, [id])).toEqual([]);
      expect(healthOf(healthy)).toEqual([]);

      // Still broken: the finding is not imported again.
      await runtime.run(broken.tenantId);
      expect(entriesOf(broken)).toBe(1);

      // The customer fixes the key (Vaikora now knows it).
      h.sim.store.addTenant(BROKEN_KEY, ['agt-h-broken'], 5);
      const fixed = await runtime.run(broken.tenantId);

      expect(fixed.kind === 'ran' ? fixed.summary.errorCode : fixed.kind).toBeNull();
      const [archived] = healthOf(broken);
      expect(healthOf(broken)).toHaveLength(1);
      expect(archived).toMatchObject({ Id: id, RecordState: 'ARCHIVED', CreatedAt: opened?.CreatedAt });
      expect(Date.parse(String(archived?.UpdatedAt))).toBeGreaterThan(Date.parse(String(opened?.UpdatedAt)));
      expect(entriesOf(broken)).toBe(2);

      // Healthy again: no churn.
      await Promise.all([runtime.run(broken.tenantId), runtime.run(healthy.tenantId)]);
      expect(entriesOf(broken)).toBe(2);
      expect(healthOf(broken)[0]?.UpdatedAt).toBe(archived?.UpdatedAt);
      expect(entriesOf(healthy)).toBe(0);
      expect(healthOf(healthy)).toEqual([]);
    } finally {
      await runtime.close();
    }
  });
});
