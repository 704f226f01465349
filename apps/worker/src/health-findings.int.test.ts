import { HEALTH_FINDING_ID_PREFIX, healthFindingId, healthFindingType } from '@vsh/core';
import { awsDestinations } from '@vsh/db';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, type SeededTenant, startHarness } from '../test/harness.ts';
import { getFindingsById } from '../test/ledger.ts';

/**
 * Issue 15 (ADR 0116, 0118): a tenant whose Vaikora key is refused, or whose run rejects more records
 * than the threshold, gets a health finding in its own Security Hub within one run; once the condition
 * clears the same finding is archived, once; no other tenant's hub ever receives it. The heartbeat is
 * off unless the destination turns it on, then imported at most hourly.
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

  const healthOf = (t: SeededTenant) =>
    h.proxy
      .memoryFindings(t.accountId, t.region)
      .filter((f) => String(f.Id).startsWith(HEALTH_FINDING_ID_PREFIX));
  /** Health finding entries sent to the tenant's hub, by id (every import counts, updates included). */
  const sentTo = (t: SeededTenant, findingId?: string) => {
    const hub = h.proxy.stats().findingEntries[`${t.accountId}/${t.region}`] ?? {};
    return Object.entries(hub)
      .filter(([id]) =>
        findingId === undefined ? id.startsWith(HEALTH_FINDING_ID_PREFIX) : id === findingId,
      )
      .reduce((sum, [, entry]) => sum + entry.sent, 0);
  };

  it('opens a vaikora_auth finding when the key is refused, archives it once when fixed, and never touches another tenant', {
    timeout: 60_000,
  }, async () => {
    const runtime = h.runtime();
    const id = healthFindingId(broken.tenantId, broken.destinationId, 'vaikora_auth');
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
      expect(sentTo(broken)).toBe(1);

      // The customer fixes the key (Vaikora now knows it).
      h.sim.store.addTenant(BROKEN_KEY, ['agt-h-broken'], 5);
      const fixed = await runtime.run(broken.tenantId);

      expect(fixed.kind === 'ran' ? fixed.summary.errorCode : fixed.kind).toBeNull();
      const [archived] = healthOf(broken);
      expect(healthOf(broken)).toHaveLength(1);
      expect(archived).toMatchObject({ Id: id, RecordState: 'ARCHIVED', CreatedAt: opened?.CreatedAt });
      expect(Date.parse(String(archived?.UpdatedAt))).toBeGreaterThan(Date.parse(String(opened?.UpdatedAt)));
      expect(sentTo(broken)).toBe(2);

      // Healthy again: no churn.
      await Promise.all([runtime.run(broken.tenantId), runtime.run(healthy.tenantId)]);
      expect(sentTo(broken)).toBe(2);
      expect(healthOf(broken)[0]?.UpdatedAt).toBe(archived?.UpdatedAt);
      expect(sentTo(healthy)).toBe(0);
      expect(healthOf(healthy)).toEqual([]);
    } finally {
      await runtime.close();
    }
  });

  it('opens rejected_above_threshold in the tenant’s hub when a run rejects a burst of records, archives it after a run under the threshold, and nowhere else', {
    timeout: 60_000,
  }, async () => {
    const runtime = h.runtime();
    const KEY = 'vk_test_health_noisy';
    h.sim.store.addTenant(KEY, ['agt-h-noisy'], 5);
    h.sim.setOptions({ badRate: 1 });
    h.sim.store.append(KEY, 'agt-h-noisy', 15);
    h.sim.setOptions({ badRate: 0 });
    const noisy = await h.seedTenant({
      name: 'noisy records',
      accountId: '315000000003',
      region: 'eu-west-1',
      agents: ['agt-h-noisy'],
      vaikoraKey: KEY,
    });
    const quiet = await h.seedTenant({
      name: 'quiet records',
      accountId: '315000000004',
      region: 'eu-west-1',
      agents: ['agt-h-ok'],
      vaikoraKey: HEALTHY_KEY,
    });
    const id = healthFindingId(noisy.tenantId, noisy.destinationId, 'rejected_above_threshold');
    try {
      const [first] = await Promise.all([runtime.run(noisy.tenantId), runtime.run(quiet.tenantId)]);

      expect(first?.kind === 'ran' ? first.summary.recordsRejected : first?.kind).toBe(15);
      expect(await getFindingsById(h, noisy, [id])).toEqual([id]);
      const [opened] = healthOf(noisy);
      expect(healthOf(noisy)).toHaveLength(1);
      expect(opened).toMatchObject({
        Id: id,
        AwsAccountId: noisy.accountId,
        Types: [healthFindingType('rejected_above_threshold')],
        RecordState: 'ACTIVE',
        Severity: { Label: 'LOW' },
        Remediation: { Recommendation: { Text: expect.stringContaining('/rejected-records') } },
      });
      expect(opened?.Description).toMatch(
        /15 of \d+ records read in one run were rejected \(stages: [a-z, _-]+\)\.$/,
      );
      expect(healthOf(quiet)).toEqual([]);

      // The next run re-reads the same records in its overlap: none is new, so the run is under the threshold.
      const second = await runtime.run(noisy.tenantId);

      expect(
        second.kind === 'ran' ? [second.summary.status, second.summary.recordsRejected] : second.kind,
      ).toEqual(['ok', 0]);
      expect(healthOf(noisy)).toMatchObject([
        { Id: id, RecordState: 'ARCHIVED', CreatedAt: opened?.CreatedAt },
      ]);
      expect(sentTo(noisy, id)).toBe(2);
      expect(sentTo(quiet)).toBe(0);
    } finally {
      await runtime.close();
    }
  });

  it('sends no heartbeat while it is off, one when the destination turns it on, and none again within the hour', {
    timeout: 60_000,
  }, async () => {
    const runtime = h.runtime();
    const beating = await h.seedTenant({
      name: 'heartbeat',
      accountId: '315000000005',
      region: 'eu-west-1',
      agents: ['agt-h-ok'],
      vaikoraKey: HEALTHY_KEY,
    });
    const neighbour = await h.seedTenant({
      name: 'heartbeat neighbour',
      accountId: '315000000006',
      region: 'eu-west-1',
      agents: ['agt-h-ok'],
      vaikoraKey: HEALTHY_KEY,
    });
    const id = healthFindingId(beating.tenantId, beating.destinationId, 'heartbeat');
    try {
      await runtime.run(beating.tenantId);
      await runtime.run(beating.tenantId);

      expect(sentTo(beating)).toBe(0);

      await h.database.db
        .update(awsDestinations)
        .set({ heartbeatEnabled: true })
        .where(eq(awsDestinations.id, beating.destinationId));
      await Promise.all([runtime.run(beating.tenantId), runtime.run(neighbour.tenantId)]);

      expect(healthOf(beating)).toMatchObject([
        {
          Id: id,
          AwsAccountId: beating.accountId,
          Region: beating.region,
          Types: [healthFindingType('heartbeat')],
          RecordState: 'ACTIVE',
          Severity: { Label: 'INFORMATIONAL' },
        },
      ]);
      expect(sentTo(beating, id)).toBe(1);

      await Promise.all([runtime.run(beating.tenantId), runtime.run(neighbour.tenantId)]);

      expect(sentTo(beating, id)).toBe(1);
      expect(sentTo(neighbour)).toBe(0);
      expect(healthOf(neighbour)).toEqual([]);
    } finally {
      await runtime.close();
    }
  });
});
