import { randomBytes } from 'node:crypto';
import { awsDestinations } from '@vsh/db';
import { describe, expect, it } from 'vitest';
import { seedForecastTenant, seedImportRun } from '../../testing/forecast-seed.ts';
import { useHarness } from '../../testing/harness.ts';

const NOW = new Date('2026-12-04T12:00:00.000Z');
const api = useHarness({ clock: () => NOW });

const zero = {
  basis: 'none',
  observedFrom: null,
  observedHours: 0,
  runs: 0,
  importedObserved: 0,
  findingsPerMonth: 0,
  findingsPerRegionPerMonth: 0,
  billableEventsPerMonth: 0,
  usdPerMonth: 0,
  usdPerMonthWithoutFreeTier: 0,
};

describe('GET /v1/tenants/{tenantId}/forecast', () => {
  it("forecasts each destination's month from the runs' stats, and prices it per region after the free tier", async () => {
    const { tenantId, key } = await api.createTenant();
    const other = await api.createTenant();
    const seed = await seedForecastTenant(api.db, tenantId, NOW);
    // Another tenant's runs name this tenant's destinations: they must not count here.
    await seedImportRun(api.db, other.tenantId, NOW, 2, { [seed.old]: 50_000, [seed.idle]: 50_000 });

    const res = await api.request('GET', `/v1/tenants/${tenantId}/forecast`, { key });

    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      tenantId,
      generatedAt: NOW.toISOString(),
      windowDays: 7,
      price: {
        usdPerEvent: 0.00003,
        freeEventsPerAccountRegionMonth: 10_000,
        source: 'https://aws.amazon.com/security-hub/cspm/pricing/',
        checkedOn: '2026-12-04',
      },
      totals: { findingsPerMonth: 68_000, usdPerMonth: 1.2, usdPerMonthWithoutFreeTier: 2.04 },
      destinations: expect.any(Array),
    });
    const byId = new Map(res.body.destinations.map((d: { id: string }) => [d.id, d]));
    expect(byId.get(seed.old)).toEqual({
      id: seed.old,
      accountId: '111111111111',
      regions: ['us-east-1', 'eu-west-1'],
      state: 'active',
      delivery: 'role',
      basis: 'window',
      observedFrom: '2026-11-27T12:00:00.000Z',
      observedHours: 168,
      runs: 4,
      importedObserved: 14_000,
      findingsPerMonth: 60_000,
      findingsPerRegionPerMonth: 30_000,
      billableEventsPerMonth: 40_000,
      usdPerMonth: 1.2,
      usdPerMonthWithoutFreeTier: 1.8,
    });
    expect(byId.get(seed.young)).toEqual({
      id: seed.young,
      accountId: '222222222222',
      regions: ['us-east-1'],
      state: 'active',
      delivery: 'role',
      basis: 'partial',
      // The first run (3 h ago) read back 24 h of Vaikora's history: the 300 findings cover 27 h.
      observedFrom: '2026-12-03T09:00:00.000Z',
      observedHours: 27,
      runs: 2,
      importedObserved: 300,
      findingsPerMonth: 8_000,
      findingsPerRegionPerMonth: 8_000,
      billableEventsPerMonth: 0,
      usdPerMonth: 0,
      usdPerMonthWithoutFreeTier: 0.24,
    });
    expect(byId.get(seed.idle)).toEqual({
      id: seed.idle,
      accountId: '333333333333',
      regions: ['us-east-1'],
      state: 'active',
      delivery: 'role',
      ...zero,
    });
    expect(res.body.destinations).toHaveLength(3);
  });

  it("answers an empty forecast for a tenant without destinations, and 404 for another tenant's key, as for an unknown tenant", async () => {
    const a = await api.createTenant();
    const b = await api.createTenant();
    await seedForecastTenant(api.db, a.tenantId, NOW);

    const own = await api.request('GET', `/v1/tenants/${b.tenantId}/forecast`, { key: b.key });
    const across = await api.request('GET', `/v1/tenants/${a.tenantId}/forecast`, { key: b.key });
    const anonymous = await api.request('GET', `/v1/tenants/${a.tenantId}/forecast`, { key: null });
    const operator = await api.request('GET', `/v1/tenants/${a.tenantId}/forecast`);

    expect(own.status).toBe(200);
    expect(own.body.destinations).toEqual([]);
    expect(own.body.totals).toEqual({ findingsPerMonth: 0, usdPerMonth: 0, usdPerMonthWithoutFreeTier: 0 });
    expect(across.status).toBe(404);
    expect(across.body.error.code).toBe('NOT_FOUND');
    expect(across.text).not.toContain('111111111111');
    expect(anonymous.status).toBe(401);
    expect(operator.status).toBe(200);
    expect(operator.body.totals.findingsPerMonth).toBe(68_000);
  });

  it('prices a Security Lake destination at 0: its findings are S3 objects, not Security Hub ingestion events', async () => {
    const { tenantId, key } = await api.createTenant();
    const [lake] = await api.db
      .insert(awsDestinations)
      .values({
        tenantId,
        accountId: '333333333333',
        regions: ['us-east-1'],
        externalId: `vsh-${randomBytes(12).toString('hex')}`,
        roleName: 'Data443-VaikoraSecurityHub',
        state: 'active',
        delivery: 'security_lake',
        securityLakeBucket: 'aws-security-data-lake-us-east-1-abc123',
        securityLakeSource: 'vaikora',
        createdAt: new Date(NOW.getTime() - 10 * 24 * 3_600_000),
      })
      .returning({ id: awsDestinations.id });
    const id = lake?.id ?? '';
    for (const hoursAgo of [2, 50, 100, 150])
      await seedImportRun(api.db, tenantId, NOW, hoursAgo, { [id]: 35_000 });

    const res = await api.request('GET', `/v1/tenants/${tenantId}/forecast`, { key });

    expect(res.status).toBe(200);
    expect(res.body.destinations).toEqual([
      expect.objectContaining({
        id,
        delivery: 'security_lake',
        findingsPerMonth: 600_000,
        billableEventsPerMonth: 0,
        usdPerMonth: 0,
        usdPerMonthWithoutFreeTier: 0,
      }),
    ]);
    expect(res.body.totals).toEqual({
      findingsPerMonth: 600_000,
      usdPerMonth: 0,
      usdPerMonthWithoutFreeTier: 0,
    });
  });
});
