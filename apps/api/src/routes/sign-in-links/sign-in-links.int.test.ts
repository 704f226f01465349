import { apiKeys, auditLog, tenants, webSignInLinks } from '@vsh/db';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { asApiError } from '../../errors.ts';
import { createSignInLink, redeemSignInLink, signInTokenHash } from '../../services/sign-in-links.ts';
import { useHarness } from '../../testing/harness.ts';
import { createSessionStore, DEFAULT_SESSION_OPTIONS } from '../../ui/session.ts';

const PUBLIC = 'https://connector.example.com';
const api = useHarness({ config: { publicBaseUrl: PUBLIC } });
const operator = { principal: { kind: 'operator', id: 'operator' } as const, requestId: 'req_test' };

async function tenantWithKey() {
  const { tenantId, key } = await api.createTenant();
  const [row] = await api.db.select().from(apiKeys).where(eq(apiKeys.tenantId, tenantId));
  if (row === undefined) throw new Error('no key');
  return { tenantId, key, keyId: row.id };
}

async function newLink(tenantId: string, body?: unknown) {
  const response = await api.request('POST', `/v1/tenants/${tenantId}/sign-in-links`, {
    ...(body === undefined ? {} : { body }),
  });
  expect(response.status, response.text).toBe(201);
  const url = new URL(response.body.url as string);
  return { url, token: url.searchParams.get('token') ?? '', body: response.body };
}

async function tenantRow(tenantId: string) {
  const [tenant] = await api.db.select().from(tenants).where(eq(tenants.id, tenantId));
  if (tenant === undefined) throw new Error('no tenant');
  return tenant;
}

describe('one-time sign-in links', () => {
  it('creates a link (operator only) for the newest key, keeping only the SHA-256 of its token', async () => {
    const { tenantId, key, keyId } = await tenantWithKey();
    const before = Date.now();

    const refused = await api.request('POST', `/v1/tenants/${tenantId}/sign-in-links`, { key });
    const { url, token, body } = await newLink(tenantId);
    const rows = await api.db.select().from(webSignInLinks).where(eq(webSignInLinks.tenantId, tenantId));
    const audit = await api.db.select().from(auditLog).where(eq(auditLog.tenantId, tenantId));

    expect(refused.status).toBe(403);
    expect(`${url.origin}${url.pathname}`).toBe(`${PUBLIC}/ui/login/link`);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(body.apiKeyId).toBe(keyId);
    const expiresInMs = Date.parse(body.expiresAt) - before;
    expect(expiresInMs).toBeGreaterThan(24 * 3_600_000 - 60_000);
    expect(expiresInMs).toBeLessThanOrEqual(24 * 3_600_000 + 60_000);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.tokenHash).toBe(signInTokenHash(token));
    expect(JSON.stringify(rows)).not.toContain(token);
    expect(audit.map((row) => row.action)).toContain('sign_in_link.created');
    expect(JSON.stringify(audit)).not.toContain(token);
    expect(api.logs.join('\n')).not.toContain(token);
  });

  it('redeems once as the tenant key; the second redemption gets nothing', async () => {
    const { tenantId, keyId } = await tenantWithKey();
    const { token } = await newLink(tenantId);

    const first = await redeemSignInLink(api.deps, token, Date.now());
    const second = await redeemSignInLink(api.deps, token, Date.now());

    expect(first).toEqual({ kind: 'tenant', id: keyId, tenantId });
    expect(second).toBeUndefined();
  });

  it('lets exactly one of two simultaneous redemptions win', async () => {
    const { tenantId } = await tenantWithKey();
    const tokens = await Promise.all(Array.from({ length: 5 }, async () => (await newLink(tenantId)).token));

    for (const token of tokens) {
      const results = await Promise.all([
        redeemSignInLink(api.deps, token, Date.now()),
        redeemSignInLink(api.deps, token, Date.now()),
      ]);
      expect(results.filter((result) => result !== undefined)).toHaveLength(1);
    }
  });

  it('refuses an expired link, a malformed token and an unknown one', async () => {
    const { tenantId } = await tenantWithKey();
    const tenant = await tenantRow(tenantId);
    const link = await createSignInLink(
      { ...api.deps, config: { ...api.deps.config, signInLinkTtlMs: 60_000 } },
      operator,
      tenant,
      {},
    );

    expect(await redeemSignInLink(api.deps, link.token, link.expiresAt.getTime())).toBeUndefined();
    expect(await redeemSignInLink(api.deps, `${link.token}x`, Date.now())).toBeUndefined();
    expect(await redeemSignInLink(api.deps, 'A'.repeat(43), Date.now())).toBeUndefined();
    expect(await redeemSignInLink(api.deps, link.token, link.expiresAt.getTime() - 1)).toBeDefined();
  });

  it('makes the link and the session it started useless once its key is revoked', async () => {
    const { tenantId, keyId } = await tenantWithKey();
    const unused = await newLink(tenantId);
    const used = await newLink(tenantId);
    const sessions = createSessionStore(DEFAULT_SESSION_OPTIONS);
    const principal = await redeemSignInLink(api.deps, used.token, Date.now());
    if (principal === undefined) throw new Error('link not redeemed');
    const started = await sessions.start(api.deps, principal, { client: '127.0.0.1', nowMs: Date.now() });
    if (!started.ok) throw new Error('no session');

    const revoked = await api.request('DELETE', `/v1/tenants/${tenantId}/api-keys/${keyId}`);

    expect(revoked.status).toBeLessThan(300);
    expect(await redeemSignInLink(api.deps, unused.token, Date.now())).toBeUndefined();
    expect(await sessions.find(api.deps, started.token, Date.now())).toBeUndefined();
  });

  it('makes links useless once the tenant is offboarded, and refuses new ones with 409', async () => {
    const { tenantId } = await tenantWithKey();
    const { token } = await newLink(tenantId);

    await api.request('POST', `/v1/tenants/${tenantId}/offboard`);
    const again = await api.request('POST', `/v1/tenants/${tenantId}/sign-in-links`);

    expect(await redeemSignInLink(api.deps, token, Date.now())).toBeUndefined();
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('TENANT_OFFBOARDED');
  });

  it("refuses another tenant's key (404) and a malformed key id (400)", async () => {
    const { tenantId } = await tenantWithKey();
    const other = await tenantWithKey();

    const foreign = await api.request('POST', `/v1/tenants/${tenantId}/sign-in-links`, {
      body: { apiKeyId: other.keyId },
    });
    const malformed = await api.request('POST', `/v1/tenants/${tenantId}/sign-in-links`, {
      body: { apiKeyId: 'nope' },
    });

    expect(foreign.status).toBe(404);
    expect(foreign.body.error.message).toContain('body.apiKeyId');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe('VALIDATION_FAILED');
  });

  it('refuses with 409 NOT_CONFIGURED in production when no public base URL is configured', async () => {
    const { tenantId } = await tenantWithKey();
    const tenant = await tenantRow(tenantId);

    const attempt = createSignInLink(
      { ...api.deps, config: { ...api.deps.config, mode: 'production', publicBaseUrl: undefined } },
      operator,
      tenant,
    );

    // The service refuses with a ServiceError; asApiError is the API's one mapping of it.
    await expect(attempt.catch(asApiError)).resolves.toMatchObject({ code: 'NOT_CONFIGURED' });
  });
});
