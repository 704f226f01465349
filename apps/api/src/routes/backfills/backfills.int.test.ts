import { auditLog, backfills } from '@vsh/db';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { useHarness } from '../../testing/harness.ts';

const NOW = new Date('2026-06-15T12:00:00.000Z');
const api = useHarness({ clock: () => NOW });

async function configuredTenant() {
  const { tenantId, key } = await api.createTenant();
  const settings = await api.request('PUT', `/v1/tenants/${tenantId}/vaikora`, {
    body: { apiKey: 'vk_test_backfill_key_000', agentIds: ['agt-1'] },
  });
  expect(settings.status).toBe(200);
  return { tenantId, key };
}

const range = { from: '2026-06-14T00:00:00Z', to: '2026-06-15T00:00:00Z' };

describe('backfills', () => {
  it('queues a backfill for the operator and reports it, with the request audited', async () => {
    const { tenantId } = await configuredTenant();

    const created = await api.request('POST', `/v1/tenants/${tenantId}/backfills`, { body: range });
    const read = await api.request('GET', `/v1/tenants/${tenantId}/backfills/${created.body.id}`);
    const audit = await api.db.select().from(auditLog).where(eq(auditLog.target, created.body.id));

    expect(created.status).toBe(202);
    expect(created.body).toMatchObject({
      tenantId,
      destinationId: null,
      from: '2026-06-14T00:00:00.000Z',
      to: '2026-06-15T00:00:00.000Z',
      state: 'queued',
      progressPercent: 0,
      findingsImported: 0,
    });
    expect(read.status).toBe(200);
    expect(read.body).toEqual(created.body);
    expect(audit.map((row) => row.action)).toEqual(['backfill.requested']);
  });

  it('refuses tenant keys, even the tenant’s own, on both operations', async () => {
    const { tenantId, key } = await configuredTenant();
    const created = await api.request('POST', `/v1/tenants/${tenantId}/backfills`, { body: range });

    const post = await api.request('POST', `/v1/tenants/${tenantId}/backfills`, { key, body: range });
    const get = await api.request('GET', `/v1/tenants/${tenantId}/backfills/${created.body.id}`, { key });

    expect([post.status, get.status]).toEqual([403, 403]);
    expect(post.body.error.code).toBe('FORBIDDEN');
    expect(await api.db.select().from(backfills).where(eq(backfills.tenantId, tenantId))).toHaveLength(1);
  });

  it.each([
    [
      'from after to',
      { from: '2026-06-15T00:00:00Z', to: '2026-06-14T00:00:00Z' },
      /body\.from: must be before/,
    ],
    [
      'an empty range',
      { from: '2026-06-14T00:00:00Z', to: '2026-06-14T00:00:00Z' },
      /body\.from: must be before/,
    ],
    ['more than 30 days', { from: '2026-05-01T00:00:00Z', to: '2026-06-01T00:00:01Z' }, /at most 30 days/],
    ['a range ending in the future', { from: '2026-06-15T00:00:00Z', to: '2026-06-15T13:00:00Z' }, /future/],
    [
      'a date that is not RFC 3339',
      { from: 'yesterday', to: '2026-06-15T00:00:00Z' },
      /body\.from: must be an RFC 3339/,
    ],
    ['a date without offset', { from: '2026-06-14T00:00:00', to: '2026-06-15T00:00:00Z' }, /body\.from/],
    ['an unknown field', { ...range, force: true }, /unknown field "force"/],
    ['a malformed destination id', { ...range, destinationId: 'nope' }, /body\.destinationId/],
  ])('refuses %s with VALIDATION_FAILED and queues nothing', async (_name, body, message) => {
    const { tenantId } = await configuredTenant();

    const response = await api.request('POST', `/v1/tenants/${tenantId}/backfills`, { body });

    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('VALIDATION_FAILED');
    expect(response.body.error.message).toMatch(message);
    expect(await api.db.select().from(backfills).where(eq(backfills.tenantId, tenantId))).toHaveLength(0);
  });

  it('answers 404 for a destination of another tenant and for an unknown backfill, 409 before Vaikora is set', async () => {
    const a = await configuredTenant();
    const b = await configuredTenant();
    const destination = await api.request('POST', `/v1/tenants/${b.tenantId}/destinations`, {
      body: { accountId: '111122223333', regions: ['us-east-1'] },
    });
    const bare = await api.createTenant();

    const foreign = await api.request('POST', `/v1/tenants/${a.tenantId}/backfills`, {
      body: { ...range, destinationId: destination.body.destination.id },
    });
    const unknown = await api.request(
      'GET',
      `/v1/tenants/${a.tenantId}/backfills/bkf_01jd0000000000000000000000`,
    );
    const notConfigured = await api.request('POST', `/v1/tenants/${bare.tenantId}/backfills`, {
      body: range,
    });

    expect(foreign.status).toBe(404);
    expect(unknown.status).toBe(404);
    expect(notConfigured.status).toBe(409);
    expect(notConfigured.body.error.code).toBe('NOT_CONFIGURED');
  });

  it('does not show one tenant’s backfill under another tenant’s path', async () => {
    const a = await configuredTenant();
    const b = await configuredTenant();
    const created = await api.request('POST', `/v1/tenants/${a.tenantId}/backfills`, { body: range });

    const read = await api.request('GET', `/v1/tenants/${b.tenantId}/backfills/${created.body.id}`);

    expect(read.status).toBe(404);
  });
});
