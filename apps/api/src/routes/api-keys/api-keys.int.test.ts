import { apiKeys } from '@vsh/db';
import { and, eq, isNull } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { MAX_ACTIVE_KEYS } from '../../services/api-keys.ts';
import { type Harness, useHarness } from '../../testing/harness.ts';

const CONCURRENT_CREATIONS = 40;

async function activeKeys(api: Harness, tenantId: string): Promise<number> {
  const rows = await api.db
    .select({ id: apiKeys.id })
    .from(apiKeys)
    .where(and(eq(apiKeys.tenantId, tenantId), isNull(apiKeys.revokedAt)));
  return rows.length;
}

function createMany(api: Harness, tenantId: string, key: string, count: number) {
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      api.request('POST', `/v1/tenants/${tenantId}/api-keys`, { key, body: { name: `key ${i}` } }),
    ),
  );
}

describe.each(['postgres', 'pglite'] as const)('API key creation on %s', (database) => {
  const api = useHarness({ database });

  it(`never leaves more than ${MAX_ACTIVE_KEYS} active keys, however many creations race`, async () => {
    const tenant = await api.createTenant();

    const responses = await createMany(api, tenant.tenantId, tenant.key, CONCURRENT_CREATIONS);

    const created = responses.filter((r) => r.status === 201);
    const refused = responses.filter((r) => r.status !== 201);
    // The tenant's first key counts: 19 more fit.
    expect(created).toHaveLength(MAX_ACTIVE_KEYS - 1);
    expect(await activeKeys(api, tenant.tenantId)).toBe(MAX_ACTIVE_KEYS);
    expect(refused).toHaveLength(CONCURRENT_CREATIONS - (MAX_ACTIVE_KEYS - 1));
    for (const response of refused) {
      expect(response.status).toBe(409);
      expect(response.body).toEqual({
        error: {
          code: 'CONFLICT',
          message: `a tenant has at most ${MAX_ACTIVE_KEYS} active API keys; revoke one first`,
          requestId: response.headers.get('x-request-id'),
        },
      });
    }
  });

  it('keeps tenants apart: one tenant at its limit does not stop another creating keys', async () => {
    const full = await api.createTenant();
    const other = await api.createTenant();

    const [fullResponses, otherResponses] = await Promise.all([
      createMany(api, full.tenantId, full.key, MAX_ACTIVE_KEYS + 5),
      createMany(api, other.tenantId, other.key, 3),
    ]);

    expect(fullResponses.filter((r) => r.status === 201)).toHaveLength(MAX_ACTIVE_KEYS - 1);
    expect(otherResponses.map((r) => r.status)).toEqual([201, 201, 201]);
    expect(await activeKeys(api, other.tenantId)).toBe(4);
  });

  it('frees a place when a key is revoked', async () => {
    const tenant = await api.createTenant();
    const filled = await createMany(api, tenant.tenantId, tenant.key, MAX_ACTIVE_KEYS - 1);
    const victim = filled[0]?.body.id as string;

    const refused = await createMany(api, tenant.tenantId, tenant.key, 1);
    await api.request('DELETE', `/v1/tenants/${tenant.tenantId}/api-keys/${victim}`, { key: tenant.key });
    const again = await createMany(api, tenant.tenantId, tenant.key, 2);

    expect(refused.map((r) => r.status)).toEqual([409]);
    expect(again.map((r) => r.status).sort()).toEqual([201, 409]);
    expect(await activeKeys(api, tenant.tenantId)).toBe(MAX_ACTIVE_KEYS);
  });

  it('creates no key for a tenant that was offboarded while the creation waited', async () => {
    const tenant = await api.createTenant();

    const [offboarded, ...created] = await Promise.all([
      api.request('POST', `/v1/tenants/${tenant.tenantId}/offboard`),
      ...Array.from({ length: 5 }, () =>
        api.request('POST', `/v1/tenants/${tenant.tenantId}/api-keys`, {
          key: tenant.key,
          body: { name: 'late' },
        }),
      ),
    ]);

    expect(offboarded?.status).toBe(200);
    for (const response of created) expect([201, 401, 409]).toContain(response.status);
    expect(await activeKeys(api, tenant.tenantId)).toBe(0);
  });
});
