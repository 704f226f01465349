import { apiKeys, auditLog, streams, tenantSchedules, vaikoraSettings } from '@vsh/db';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { type HarnessOptions, seedRejected, seedRun, TEST_DATA443_ACCOUNT, useHarness } from './harness.ts';

/**
 * The whole life of a tenant through the API: create, configure, onboard a destination, watch, offboard.
 * Registered once per database kind, so the embedded PGlite runs the same migrations and queries as
 * PostgreSQL.
 */
export function describeTenantLifecycle(database: NonNullable<HarnessOptions['database']>): void {
  const runNowCalls: string[] = [];
  const api = useHarness({ database, onRunNow: (tenantId) => void runNowCalls.push(tenantId) });

  describe(`a tenant's life through the API (${database})`, () => {
    it('creates a tenant whose one-time key works at once, and lists it with a health summary', async () => {
      const created = await api.request('POST', '/v1/tenants', {
        body: { name: 'Acme', plan: 'enterprise' },
      });
      const { tenant, apiKey } = created.body;

      const own = await api.request('GET', `/v1/tenants/${tenant.id}`, { key: apiKey.key });
      const list = await api.request('GET', '/v1/tenants?limit=100');

      expect(created.status).toBe(201);
      expect(tenant).toMatchObject({ name: 'Acme', plan: 'enterprise', state: 'active', offboardedAt: null });
      expect(apiKey.key).toMatch(/^vsh_[0-9a-z]{12}_[A-Za-z0-9_-]{43}$/);
      expect(apiKey.prefix).toBe(apiKey.key.slice(0, 16));
      expect(own.status).toBe(200);
      expect(own.body.health.status).toBe('setup');
      expect(list.body.items.find((item: { id: string }) => item.id === tenant.id).health.status).toBe(
        'setup',
      );
    });

    it('pages through tenants newest first with an opaque cursor', async () => {
      for (const name of ['p1', 'p2', 'p3']) await api.createTenant(name);

      const first = await api.request('GET', '/v1/tenants?limit=2');
      const second = await api.request('GET', `/v1/tenants?limit=2&cursor=${first.body.nextCursor}`);
      const bogus = await api.request('GET', '/v1/tenants?cursor=not-a-cursor');

      expect(first.body.items).toHaveLength(2);
      expect(first.body.nextCursor).toEqual(expect.any(String));
      const ids = [...first.body.items, ...second.body.items].map((item: { id: string }) => item.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect([...ids].sort().reverse()).toEqual(ids);
      expect(bogus.status).toBe(400);
      expect(bogus.body.error.message).toContain('query.cursor');
    });

    it('onboards: Vaikora settings, a destination with its trust policy, verification, streams, status', async () => {
      const { tenantId, key } = await api.createTenant('Onboarding Inc');

      const settings = await api.request('PUT', `/v1/tenants/${tenantId}/vaikora`, {
        key,
        body: {
          apiKey: 'vk_live_lifecycle_0123456789',
          agentIds: ['agt-support', 'agt-sql'],
          thresholds: {
            minRiskLevel: 'medium',
            includeAnomalies: true,
            includeThreats: true,
            minRiskScore: 80,
          },
          pollIntervalSeconds: 120,
          timeFilterParam: 'since',
        },
      });
      const created = await api.request('POST', `/v1/tenants/${tenantId}/destinations`, {
        key,
        body: { accountId: '123456789012', regions: ['us-east-1', 'eu-west-1'] },
      });
      const destinationId = created.body.destination.id;
      const verified = await api.request(
        'POST',
        `/v1/tenants/${tenantId}/destinations/${destinationId}/verify`,
        {
          key,
          body: { roleArn: created.body.onboarding.expectedRoleArn },
        },
      );
      const list = await api.request('GET', `/v1/tenants/${tenantId}/destinations`, { key });
      const rows = await api.db.select().from(streams).where(eq(streams.tenantId, tenantId));

      expect(settings.status).toBe(200);
      expect(settings.body).toMatchObject({
        apiKeySet: true,
        pollIntervalSeconds: 120,
        timeFilterParam: 'since',
      });
      expect(settings.body.thresholds).toEqual({
        minRiskLevel: 'medium',
        includeAnomalies: true,
        includeThreats: true,
        minRiskScore: 80,
        threatSeverityFloor: 'HIGH',
      });
      expect(created.status).toBe(201);
      expect(created.body.destination).toMatchObject({ state: 'pending', partition: 'aws', roleArn: null });
      expect(created.body.onboarding.externalId).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(created.body.onboarding.trustPolicy.Statement[0].Principal.AWS).toBe(
        `arn:aws:iam::${TEST_DATA443_ACCOUNT}:root`,
      );
      expect(created.body.onboarding.quickCreateUrl).toContain(
        `param_ExternalId=${created.body.onboarding.externalId}`,
      );
      expect(created.body.onboarding.deployCommand).toMatch(/^aws cloudformation deploy /);
      expect(verified.body.verified).toBe(true);
      expect(verified.body.destination.state).toBe('verified');
      expect(list.body.items).toHaveLength(1);
      expect(rows.filter((row) => row.enabled)).toHaveLength(4);

      const narrowed = await api.request('PUT', `/v1/tenants/${tenantId}/vaikora`, {
        key,
        body: { agentIds: ['agt-sql'] },
      });
      const after = await api.db.select().from(streams).where(eq(streams.tenantId, tenantId));

      expect(narrowed.status).toBe(200);
      expect(after.filter((row) => row.enabled).map((row) => row.agentId)).toEqual(['agt-sql', 'agt-sql']);
      expect(after).toHaveLength(4);
    });

    it('refuses a second destination for the same account with 409', async () => {
      const { tenantId, key } = await api.createTenant();
      const body = { accountId: '111111111111', regions: ['us-east-1'] };

      await api.request('POST', `/v1/tenants/${tenantId}/destinations`, { key, body });
      const again = await api.request('POST', `/v1/tenants/${tenantId}/destinations`, { key, body });

      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('CONFLICT');
    });

    it('shows status, runs and rejected records, and records "run now"', async () => {
      const { tenantId, key } = await api.createTenant();
      await api.request('PUT', `/v1/tenants/${tenantId}/vaikora`, {
        key,
        body: { apiKey: 'vk_live_status_0123456789', agentIds: ['agt-1'] },
      });
      const destination = await api.request('POST', `/v1/tenants/${tenantId}/destinations`, {
        key,
        body: { accountId: '222222222222', regions: ['us-west-2'] },
      });
      const destinationId = destination.body.destination.id;
      await seedRun(api.db, tenantId, {
        status: 'partial',
        findingsImported: 7,
        recordsRejected: 2,
        lagSeconds: 90,
        startedAt: new Date(Date.now() - 60_000),
        destinationStats: {
          [destinationId]: {
            imported: 7,
            rejected: 2,
            skipped: 6,
            lagSeconds: 90,
            errorCode: 'THROTTLED',
            errorMessage: 'slow down',
          },
        },
      });
      await seedRun(api.db, tenantId, {
        status: 'ok',
        findingsImported: 3,
        actionsSkipped: 5,
        lagSeconds: 30,
        destinationStats: { [destinationId]: { imported: 3, rejected: 0, skipped: 5, lagSeconds: 30 } },
      });
      for (let i = 0; i < 3; i++) await seedRejected(api.db, tenantId, { destinationId, code: `CODE_${i}` });

      const status = await api.request('GET', `/v1/tenants/${tenantId}/status`, { key });
      const runsPage = await api.request('GET', `/v1/tenants/${tenantId}/runs?limit=1`, { key });
      const runsNext = await api.request(
        'GET',
        `/v1/tenants/${tenantId}/runs?limit=1&cursor=${runsPage.body.nextCursor}`,
        {
          key,
        },
      );
      const rejected = await api.request('GET', `/v1/tenants/${tenantId}/rejected-records?limit=2`, { key });
      const rejectedNext = await api.request(
        'GET',
        `/v1/tenants/${tenantId}/rejected-records?limit=2&cursor=${rejected.body.nextCursor}`,
        { key },
      );
      const runNow = await api.request('POST', `/v1/tenants/${tenantId}/run-now`, { key });
      const [schedule] = await api.db
        .select()
        .from(tenantSchedules)
        .where(eq(tenantSchedules.tenantId, tenantId));

      expect(status.body).toMatchObject({
        state: 'active',
        cursorLagSeconds: 30,
        counts: { runs: 2, imported: 10, rejected: 2 + 0, skipped: 6 + 5 },
        vaikora: { configured: true, lastError: null },
      });
      expect(status.body.lastRun.status).toBe('ok');
      expect(status.body.destinations).toEqual([
        expect.objectContaining({
          id: destinationId,
          state: 'pending',
          streams: 0,
          counts: { imported: 10, rejected: 2, skipped: 11 },
          lastRun: expect.objectContaining({ status: 'ok' }),
          cursorLagSeconds: 30,
          lastRunError: null,
          rejectedRecords: 3,
        }),
      ]);
      const older = [...runsPage.body.items, ...runsNext.body.items].find(
        (run: { status: string }) => run.status === 'partial',
      );
      expect(older.destinationStats[destinationId]).toMatchObject({ errorCode: 'THROTTLED' });
      expect(runsPage.body.items).toHaveLength(1);
      expect(runsNext.body.items).toHaveLength(1);
      expect(runsNext.body.nextCursor).toBeNull();
      expect(runsPage.body.items[0].id).not.toBe(runsNext.body.items[0].id);
      expect(rejected.body.items).toHaveLength(2);
      expect(rejectedNext.body.items).toHaveLength(1);
      expect(rejectedNext.body.items[0]).toMatchObject({ stage: 'parse', reason: 'the record has no id' });
      expect(runNow.status).toBe(202);
      expect(schedule?.runRequestedAt?.toISOString()).toBe(runNow.body.runRequestedAt);
      expect(runNowCalls).toContain(tenantId);
    });

    it('refuses "run now" before the Vaikora connection is set', async () => {
      const { tenantId, key } = await api.createTenant();

      const response = await api.request('POST', `/v1/tenants/${tenantId}/run-now`, { key });

      expect(response.status).toBe(409);
      expect(response.body.error.code).toBe('NOT_CONFIGURED');
    });

    it('manages API keys: a new key works, the list shows prefixes only, a revoked key stops at once', async () => {
      const { tenantId, key } = await api.createTenant();

      const created = await api.request('POST', `/v1/tenants/${tenantId}/api-keys`, {
        key,
        body: { name: 'ci' },
      });
      const list = await api.request('GET', `/v1/tenants/${tenantId}/api-keys`, { key: created.body.key });
      const revoked = await api.request('DELETE', `/v1/tenants/${tenantId}/api-keys/${created.body.id}`, {
        key,
      });
      const afterRevoke = await api.request('GET', `/v1/tenants/${tenantId}`, { key: created.body.key });
      const firstStillWorks = await api.request('GET', `/v1/tenants/${tenantId}`, { key });

      expect(created.status).toBe(201);
      expect(list.body.items).toHaveLength(2);
      expect(list.text).not.toContain(created.body.key);
      expect(
        list.body.items.every((item: Record<string, unknown>) => !('key' in item) && !('hash' in item)),
      ).toBe(true);
      expect(revoked.body.revokedAt).toEqual(expect.any(String));
      expect(afterRevoke.status).toBe(401);
      expect(firstStillWorks.status).toBe(200);
    });

    it('updates a tenant (operator only) and audits every change with actor and request id', async () => {
      const { tenantId } = await api.createTenant('Old name');

      const response = await api.request('PATCH', `/v1/tenants/${tenantId}`, { body: { name: 'New name' } });
      const audit = await api.db.select().from(auditLog).where(eq(auditLog.tenantId, tenantId));

      expect(response.body.name).toBe('New name');
      const update = audit.find((row) => row.action === 'tenant.updated');
      expect(update).toMatchObject({ actor: 'operator', target: tenantId, details: { fields: ['name'] } });
      expect(update?.requestId).toBe(response.headers.get('x-request-id'));
      expect(audit.map((row) => row.action)).toEqual(
        expect.arrayContaining(['tenant.created', 'api_key.created', 'tenant.updated']),
      );
    });

    it('offboards: ingestion stops, the Vaikora key is erased, keys are revoked, the audit trail stays', async () => {
      const { tenantId, key } = await api.createTenant('Leaving Ltd');
      await api.request('PUT', `/v1/tenants/${tenantId}/vaikora`, {
        key,
        body: { apiKey: 'vk_live_offboard_0123456789', agentIds: ['agt-1'] },
      });
      const destination = await api.request('POST', `/v1/tenants/${tenantId}/destinations`, {
        key,
        body: { accountId: '333333333333', regions: ['us-east-1'] },
      });
      await api.request(
        'POST',
        `/v1/tenants/${tenantId}/destinations/${destination.body.destination.id}/verify`,
        {
          key,
          body: { roleArn: destination.body.onboarding.expectedRoleArn },
        },
      );

      const offboarded = await api.request('POST', `/v1/tenants/${tenantId}/offboard`);
      const again = await api.request('POST', `/v1/tenants/${tenantId}/offboard`);
      const withOldKey = await api.request('GET', `/v1/tenants/${tenantId}`, { key });
      const change = await api.request('PUT', `/v1/tenants/${tenantId}/vaikora`, {
        body: { apiKey: 'vk_live_offboard_9999999999', agentIds: ['agt-1'] },
      });
      const status = await api.request('GET', `/v1/tenants/${tenantId}/status`);
      const settings = await api.db
        .select()
        .from(vaikoraSettings)
        .where(eq(vaikoraSettings.tenantId, tenantId));
      const schedules = await api.db
        .select()
        .from(tenantSchedules)
        .where(eq(tenantSchedules.tenantId, tenantId));
      const keys = await api.db.select().from(apiKeys).where(eq(apiKeys.tenantId, tenantId));
      const audit = await api.db.select().from(auditLog).where(eq(auditLog.tenantId, tenantId));
      const enabled = await api.db.select().from(streams).where(eq(streams.tenantId, tenantId));

      expect(offboarded.status).toBe(200);
      expect(offboarded.body).toMatchObject({ state: 'offboarded', offboardedAt: expect.any(String) });
      expect(again.status).toBe(200);
      expect(withOldKey.status).toBe(401);
      expect(change.status).toBe(409);
      expect(change.body.error.code).toBe('TENANT_OFFBOARDED');
      expect(status.body.destinations[0].state).toBe('disabled');
      expect(settings).toEqual([]);
      expect(schedules).toEqual([]);
      expect(keys.every((row) => row.revokedAt !== null)).toBe(true);
      expect(enabled.every((row) => !row.enabled)).toBe(true);
      expect(audit.filter((row) => row.action === 'tenant.offboarded')).toHaveLength(1);
      expect(audit.length).toBeGreaterThanOrEqual(5);
    });
  });
}
