import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { createApp } from '../app.ts';
import { type Harness, TEST_OPERATOR_KEY, useHarness } from '../testing/harness.ts';
import { createApiKeyCache, KEY_CACHE_FRESH_MS, KEY_CACHE_MAX_AGE_MS } from './key-cache.ts';

type App = ReturnType<typeof createApp>;

let nowMs = Date.parse('2026-12-04T00:00:00Z');
const api = useHarness({ clock: () => new Date(nowMs) });
// Few failed authentications allowed, on the real clock.
const limited = useHarness({ config: { authFailuresPerMinute: 3 } });

/** A second instance of the API on the same database, with a cache of its own (another Lambda). */
let other: App;
beforeAll(() => {
  other = createApp({
    ...api.deps,
    apiKeyCache: createApiKeyCache({ clock: api.deps.clock, logger: api.deps.logger }),
  });
});

/** A new tenant with its first key and that key's id. */
async function newTenant(harness: Harness = api) {
  const created = await harness.request('POST', '/v1/tenants', {
    body: { name: `tenant ${randomBytes(3).toString('hex')}` },
  });
  expect(created.status).toBe(201);
  return {
    tenantId: created.body.tenant.id as string,
    key: created.body.apiKey.key as string,
    keyId: created.body.apiKey.id as string,
  };
}

/** The status of GET /v1/tenants/{tenantId} on an instance with a key. */
async function readTenant(app: App, tenantId: string, key: string): Promise<number> {
  const response = await app.request(`/v1/tenants/${tenantId}`, {
    headers: { authorization: `Bearer ${key}` },
  });
  return response.status;
}

/**
 * The status of an operator-only listing asked with a key: 403 once the key is authenticated, 401 when
 * not. Past authentication it is refused before any query, so every query it makes is the key's.
 */
async function authenticateOnly(app: App, key: string): Promise<number> {
  const response = await app.request('/v1/tenants', { headers: { authorization: `Bearer ${key}` } });
  return response.status;
}

/** Counts the reads and writes sent to a harness's database until `stop`, which returns the count. */
function countQueries(harness: Harness): { stop(): number } {
  const spies = [vi.spyOn(harness.db, 'select'), vi.spyOn(harness.db, 'update')];
  return {
    stop() {
      const count = spies.reduce((sum, spy) => sum + spy.mock.calls.length, 0);
      for (const spy of spies) spy.mockRestore();
      return count;
    },
  };
}

describe('API key verification from the cache (ADR 0108)', () => {
  it('stops accepting a revoked key at once on the revoking instance, and on another within the bound', async () => {
    const tenant = await newTenant();
    const revokedAtMs = nowMs;
    expect(await readTenant(api.app, tenant.tenantId, tenant.key)).toBe(200);
    expect(await readTenant(other, tenant.tenantId, tenant.key)).toBe(200);

    const revoked = await api.request('DELETE', `/v1/tenants/${tenant.tenantId}/api-keys/${tenant.keyId}`);
    expect(revoked.status).toBe(200);

    expect(await readTenant(api.app, tenant.tenantId, tenant.key)).toBe(401);
    nowMs = revokedAtMs + KEY_CACHE_FRESH_MS - 1;
    expect(await readTenant(other, tenant.tenantId, tenant.key)).toBe(200);
    nowMs = revokedAtMs + KEY_CACHE_MAX_AGE_MS;
    expect(await readTenant(other, tenant.tenantId, tenant.key)).toBe(401);
  });

  it('stops accepting the keys of an offboarded tenant at once on the offboarding instance, and on another within the bound', async () => {
    const tenant = await newTenant();
    const offboardedAtMs = nowMs;
    expect(await readTenant(api.app, tenant.tenantId, tenant.key)).toBe(200);
    expect(await readTenant(other, tenant.tenantId, tenant.key)).toBe(200);

    const offboarded = await api.request('POST', `/v1/tenants/${tenant.tenantId}/offboard`);
    expect(offboarded.status).toBe(200);

    expect(await readTenant(api.app, tenant.tenantId, tenant.key)).toBe(401);
    nowMs = offboardedAtMs + KEY_CACHE_FRESH_MS - 1;
    expect(await readTenant(other, tenant.tenantId, tenant.key)).toBe(200);
    nowMs = offboardedAtMs + KEY_CACHE_MAX_AGE_MS;
    expect(await readTenant(other, tenant.tenantId, tenant.key)).toBe(401);
  });

  it('authenticates a key verified a moment ago without a query', async () => {
    const tenant = await newTenant();
    expect(await authenticateOnly(api.app, tenant.key)).toBe(403);
    const queries = countQueries(api);

    nowMs += KEY_CACHE_FRESH_MS - 1;
    const status = await authenticateOnly(api.app, tenant.key);
    const count = queries.stop();

    expect(status).toBe(403);
    expect(count).toBe(0);
  });

  it('still records the last use of a key answered from the cache, at most once a minute', async () => {
    const tenant = await newTenant();
    const firstUseMs = nowMs;
    expect(await authenticateOnly(api.app, tenant.key)).toBe(403);
    await expect.poll(() => lastUsedAt(tenant.tenantId, tenant.keyId)).toBe(isoAt(firstUseMs));
    // Verified again from the database 1 s before the use is due, so the due use is answered from the cache.
    nowMs = firstUseMs + 59_000;
    expect(await authenticateOnly(api.app, tenant.key)).toBe(403);

    const queries = countQueries(api);
    nowMs = firstUseMs + 60_000;
    expect(await authenticateOnly(api.app, tenant.key)).toBe(403);
    nowMs = firstUseMs + 60_500;
    expect(await authenticateOnly(api.app, tenant.key)).toBe(403);
    const count = queries.stop();

    expect(count).toBe(1);
    await expect.poll(() => lastUsedAt(tenant.tenantId, tenant.keyId)).toBe(isoAt(firstUseMs + 60_000));
  });

  it('answers a stale verification while one refresh asks the database, which forgets a key revoked elsewhere', async () => {
    const tenant = await newTenant();
    expect(await authenticateOnly(api.app, tenant.key)).toBe(403);
    const revoked = await other.request(`/v1/tenants/${tenant.tenantId}/api-keys/${tenant.keyId}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${TEST_OPERATOR_KEY}` },
    });
    expect(revoked.status).toBe(200);
    nowMs += KEY_CACHE_FRESH_MS;
    const queries = countQueries(api);

    const statuses = await Promise.all([1, 2, 3, 4, 5].map(() => authenticateOnly(api.app, tenant.key)));

    expect(statuses).toEqual([403, 403, 403, 403, 403]);
    expect(queries.stop()).toBe(1);
    await expect.poll(() => authenticateOnly(api.app, tenant.key)).toBe(401);
  });

  it('refuses a wrong key with 401 every time and then rate-limits the client, even with a cached right key', async () => {
    const tenant = await newTenant(limited);
    expect(await authenticateOnly(limited.app, tenant.key)).toBe(403);
    const guess = `${tenant.key.slice(0, 17)}${randomBytes(32).toString('base64url')}`;

    const refused = [];
    for (let i = 0; i < 3; i++) refused.push(await limited.request('GET', '/v1/tenants', { key: guess }));
    const locked = await limited.request('GET', '/v1/tenants', { key: guess });
    const right = await limited.request('GET', '/v1/tenants', { key: tenant.key });

    for (const response of refused) {
      expect(response.status).toBe(401);
      expect(response.body.error).toMatchObject({
        code: 'UNAUTHORIZED',
        message: 'the API key is not valid',
      });
    }
    expect(locked.status).toBe(429);
    expect(right.status).toBe(429);
  });
});

function isoAt(ms: number): string {
  return new Date(ms).toISOString();
}

/** The recorded last use of a key, as the API lists it. */
async function lastUsedAt(tenantId: string, keyId: string): Promise<string | null> {
  const keys = await api.request('GET', `/v1/tenants/${tenantId}/api-keys`);
  const key = (keys.body.items as Array<{ id: string; lastUsedAt: string | null }>).find(
    (item) => item.id === keyId,
  );
  return key?.lastUsedAt ?? null;
}
