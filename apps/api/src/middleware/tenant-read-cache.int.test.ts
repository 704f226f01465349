import { tenants } from '@vsh/db';
import { eq } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../app.ts';
import { TEST_OPERATOR_KEY, useHarness } from '../testing/harness.ts';
import { createApiKeyCache } from './key-cache.ts';
import { createTenantReadCache, TENANT_READ_FRESH_MS } from './tenant-read-cache.ts';

type App = ReturnType<typeof createApp>;

let nowMs = Date.parse('2026-12-04T00:00:00Z');
/** Every statement the API sends to PostgreSQL (drizzle's logger): what "without the database" is measured by. */
const statements: string[] = [];
const api = useHarness({ clock: () => new Date(nowMs), statements });

/** Two instances of the API on one database, each with its own read cache (two Lambdas). */
let one: App;
let two: App;
beforeAll(() => {
  const instance = () =>
    createApp({
      ...api.deps,
      apiKeyCache: createApiKeyCache({ clock: api.deps.clock, logger: api.deps.logger }),
      tenantReadCache: createTenantReadCache({ clock: api.deps.clock }),
    });
  one = instance();
  two = instance();
});

async function call(app: App, method: string, path: string, key: string, body?: unknown) {
  const response = await app.request(path, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('tenant reads from a one-second cache (ADR 0113)', () => {
  it('answers repeated reads without the database, reads its own writes at once, and shows another instance’s within the bound', async () => {
    const { tenantId, key } = await api.createTenant();
    const path = `/v1/tenants/${tenantId}`;
    expect((await call(one, 'GET', path, key)).body.name).not.toBe('Renamed');
    await call(two, 'GET', path, key);

    statements.length = 0;
    const again = await call(one, 'GET', path, key);
    const statementsForCachedRead = statements.length;

    const renamed = await call(one, 'PATCH', path, TEST_OPERATOR_KEY, { name: 'Renamed' });
    const sameInstance = await call(one, 'GET', path, key);
    const otherInstance = await call(two, 'GET', path, key);
    nowMs += TENANT_READ_FRESH_MS;
    statements.length = 0;
    const otherAfterBound = await call(two, 'GET', path, key);
    const statementsAfterBound = statements.length;

    expect(again.status).toBe(200);
    expect(statementsForCachedRead).toBe(0);
    // The counter does see a read the cache could not answer.
    expect(statementsAfterBound).toBeGreaterThan(0);
    expect(renamed.status).toBe(200);
    expect(sameInstance.body.name).toBe('Renamed');
    expect(otherInstance.body.name).not.toBe('Renamed');
    expect(otherAfterBound.body.name).toBe('Renamed');
  });

  it('never lets a cached row stand in for a write: an offboarded tenant refuses writes at once on every instance', async () => {
    const { tenantId, key } = await api.createTenant();
    const path = `/v1/tenants/${tenantId}`;
    await call(two, 'GET', path, key);

    // Offboarded behind the instances' backs (another instance's write).
    await api.db
      .update(tenants)
      .set({ state: 'offboarded', offboardedAt: new Date(nowMs) })
      .where(eq(tenants.id, tenantId));
    const write = await call(two, 'PATCH', path, TEST_OPERATOR_KEY, { name: 'Too late' });

    expect(write.status).not.toBe(200);
  });
});
