import { describe, expect, it } from 'vitest';
import { seedRejected, seedRun, useHarness } from './testing/harness.ts';
import { type DocumentedOperation, documentedOperations, fillPath } from './testing/operations.ts';

const api = useHarness();
const operations = documentedOperations();

interface Fixture {
  tenantId: string;
  key: string;
  destinationId: string;
  keyId: string;
  backfillId: string;
}

// The fixture's destination is in the account of the verify example, so the example verifies it; the
// create example names another account, so creating it next to the fixture's does not conflict.
const verifyExample = operations.find(
  (op) => op.path.endsWith('/verify') && op.params.includes('destinationId'),
)?.exampleBody as { roleArn: string } | undefined;
const fixtureAccount = verifyExample?.roleArn.split(':')[4] ?? '';

/** A tenant with every kind of resource, made through the API (runs and rejections as the worker writes them). */
async function fixture(): Promise<Fixture> {
  const { tenantId, key } = await api.createTenant();
  const settings = await api.request('PUT', `/v1/tenants/${tenantId}/vaikora`, {
    body: { apiKey: 'vk_test_fixture_key_000', agentIds: ['agt-1'] },
  });
  const destination = await api.request('POST', `/v1/tenants/${tenantId}/destinations`, {
    body: { accountId: fixtureAccount, regions: ['us-east-1'] },
  });
  const extraKey = await api.request('POST', `/v1/tenants/${tenantId}/api-keys`, { body: { name: 'spare' } });
  const backfill = await api.request('POST', `/v1/tenants/${tenantId}/backfills`, {
    body: { from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' },
  });
  expect([settings.status, destination.status, extraKey.status, backfill.status]).toEqual([
    200, 201, 201, 202,
  ]);
  await seedRun(api.db, tenantId);
  await seedRejected(api.db, tenantId, { destinationId: destination.body.destination.id });
  return {
    tenantId,
    key,
    destinationId: destination.body.destination.id,
    keyId: extraKey.body.id,
    backfillId: backfill.body.id,
  };
}

const pathOf = (op: DocumentedOperation, owner: Fixture): string =>
  fillPath(op.path, {
    tenantId: owner.tenantId,
    destinationId: owner.destinationId,
    keyId: owner.keyId,
    backfillId: owner.backfillId,
  });

const send = (op: DocumentedOperation, path: string, key: string | null) =>
  api.request(op.method, path, { key, ...(op.hasBody ? { body: op.exampleBody } : {}) });

// A tenant key is refused an operator operation outright (403), and told a resource of another tenant does
// not exist (404), exactly as for a resource that does not exist.
const denialFor = (op: DocumentedOperation): number => (op.access === 'operator' ? 403 : 404);

describe('the authorization matrix covers every documented /v1 operation', () => {
  it('finds the operations, each declaring its access and, when it takes a body, an example', () => {
    expect(operations.length).toBeGreaterThanOrEqual(20);
    for (const op of operations) {
      expect(['operator', 'tenant'], `${op.method} ${op.path}`).toContain(op.access);
      if (op.hasBody) expect(op.exampleBody, `${op.method} ${op.path} example`).toBeDefined();
    }
  });

  it.each(operations.map((op) => [`${op.method} ${op.path}`, op] as const))('%s', async (_name, op) => {
    const a = await fixture();
    const b = await fixture();
    // The operator acts on a tenant of its own, so that B's own successful call (a create, a delete) cannot
    // turn the operator's into a conflict.
    const c = await fixture();

    const noKey = await send(op, pathOf(op, b), null);
    const badKey = await send(op, pathOf(op, b), `vsh_${'0'.repeat(12)}_${'A'.repeat(43)}`);
    const otherTenant = await send(op, pathOf(op, b), a.key);
    const ownTenantOthersResource =
      op.params.length > 1
        ? await send(
            op,
            fillPath(op.path, {
              tenantId: a.tenantId,
              destinationId: b.destinationId,
              keyId: b.keyId,
              backfillId: b.backfillId,
            }),
            a.key,
          )
        : undefined;
    const ownKey = await send(op, pathOf(op, b), b.key);
    const operator = await api.request(op.method, pathOf(op, c), op.hasBody ? { body: op.exampleBody } : {});

    expect(noKey.status).toBe(401);
    expect(badKey.status).toBe(401);
    expect(otherTenant.status).toBe(denialFor(op));
    expect(otherTenant.body.error.code).toBe(op.access === 'operator' ? 'FORBIDDEN' : 'NOT_FOUND');
    if (ownTenantOthersResource !== undefined) {
      expect(ownTenantOthersResource.status).toBe(denialFor(op));
    }
    if (op.access === 'operator') expect(ownKey.status).toBe(403);
    else expect(ownKey.status, ownKey.text).toBeLessThan(300);
    expect(operator.status, operator.text).toBeGreaterThanOrEqual(200);
    expect(operator.status, operator.text).toBeLessThan(300);
  });
});
