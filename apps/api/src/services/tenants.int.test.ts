import { apiKeys, auditLog } from '@vsh/db';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { testConfig } from '../testing/harness.ts';
import { OPERATOR, refusalOf, useServiceTestbed } from '../testing/service-deps.ts';
import { createApiKey, listApiKeys, MAX_ACTIVE_KEYS, revokeApiKey } from './api-keys.ts';
import { createSignInLink, peekSignInLink, redeemSignInLink } from './sign-in-links.ts';
import { createTenant, offboardTenant, updateTenant } from './tenants.ts';

const codeOf = async (call: Promise<unknown>) => (await refusalOf(call)).code;
const bed = useServiceTestbed({ config: testConfig({ publicBaseUrl: 'https://connector.example.com' }) });

describe('tenants', () => {
  it('creates a tenant with its first key, audited in the order of the changes', async () => {
    const { tenant, apiKey } = await createTenant(bed.deps, OPERATOR, { name: 'Acme', plan: 'gold' });

    expect(tenant).toMatchObject({ name: 'Acme', plan: 'gold', state: 'active' });
    expect(apiKey.key.startsWith(apiKey.row.prefix)).toBe(true);
    const audit = await bed.deps.db.select().from(auditLog).where(eq(auditLog.tenantId, tenant.id));
    expect(audit.map((entry) => entry.action)).toEqual(['tenant.created', 'api_key.created']);
  });

  it('offboards once: keys revoked, later changes refused, a second offboard answers the same', async () => {
    const { tenant } = await createTenant(bed.deps, OPERATOR, { name: 'Leaving' });

    const offboarded = await offboardTenant(bed.deps, OPERATOR, tenant);
    const again = await offboardTenant(bed.deps, OPERATOR, offboarded);

    expect(again).toEqual(offboarded);
    const keys = await listApiKeys(bed.deps.db, tenant.id);
    expect(keys.every((key) => key.revokedAt !== null)).toBe(true);
    expect(await codeOf(updateTenant(bed.deps, OPERATOR, offboarded, { name: 'x' }))).toBe(
      'tenant_offboarded',
    );
    expect(await codeOf(createApiKey(bed.deps, OPERATOR, offboarded, 'ci'))).toBe('tenant_offboarded');
  });
});

describe('API keys', () => {
  it(`refuses a key beyond ${MAX_ACTIVE_KEYS} active ones, and accepts one again after a revocation`, async () => {
    const { tenant, apiKey } = await createTenant(bed.deps, OPERATOR, { name: 'Busy' });
    for (let i = 1; i < MAX_ACTIVE_KEYS; i += 1) await createApiKey(bed.deps, OPERATOR, tenant, `key ${i}`);

    const refused = await codeOf(createApiKey(bed.deps, OPERATOR, tenant, 'one too many'));
    await revokeApiKey(bed.deps, OPERATOR, tenant, apiKey.row.id);
    const accepted = await createApiKey(bed.deps, OPERATOR, tenant, 'replacement');

    expect(refused).toBe('conflict');
    expect(accepted.row.name).toBe('replacement');
  });

  it('revokes idempotently and answers not_found for another tenant’s key', async () => {
    const { tenant, apiKey } = await createTenant(bed.deps, OPERATOR, { name: 'Owner' });
    const { tenant: other } = await createTenant(bed.deps, OPERATOR, { name: 'Other' });

    const first = await revokeApiKey(bed.deps, OPERATOR, tenant, apiKey.row.id);
    const second = await revokeApiKey(bed.deps, OPERATOR, tenant, apiKey.row.id);

    expect(second.revokedAt).toEqual(first.revokedAt);
    expect(await codeOf(revokeApiKey(bed.deps, OPERATOR, other, apiKey.row.id))).toBe('not_found');
    const audit = await bed.deps.db.select().from(auditLog).where(eq(auditLog.target, apiKey.row.id));
    expect(audit.filter((entry) => entry.action === 'api_key.revoked')).toHaveLength(1);
  });
});

describe('sign-in links', () => {
  it('signs in once as the newest key; a peek does not use the link up', async () => {
    const { tenant, apiKey } = await createTenant(bed.deps, OPERATOR, { name: 'Linked' });
    const now = bed.deps.clock().getTime();

    const link = await createSignInLink(bed.deps, OPERATOR, tenant);

    expect(link.url.startsWith('https://connector.example.com/ui/login/link?token=')).toBe(true);
    expect(await peekSignInLink(bed.deps, link.token, now)).toEqual({ tenantName: 'Linked' });
    expect(await redeemSignInLink(bed.deps, link.token, now)).toEqual({
      kind: 'tenant',
      id: apiKey.row.id,
      tenantId: tenant.id,
    });
    expect(await redeemSignInLink(bed.deps, link.token, now)).toBeUndefined();
    expect(await peekSignInLink(bed.deps, link.token, now)).toBeUndefined();
  });

  it('refuses a tenant without a live key, an unknown key, and a deployment without a public URL', async () => {
    const { tenant, apiKey } = await createTenant(bed.deps, OPERATOR, { name: 'Keyless' });
    await revokeApiKey(bed.deps, OPERATOR, tenant, apiKey.row.id);
    const production = { ...bed.deps, config: testConfig({ mode: 'production' }) };

    expect(await codeOf(createSignInLink(bed.deps, OPERATOR, tenant))).toBe('conflict');
    expect(await codeOf(createSignInLink(bed.deps, OPERATOR, tenant, { apiKeyId: apiKey.row.id }))).toBe(
      'not_found',
    );
    expect(await codeOf(createSignInLink(production, OPERATOR, tenant))).toBe('not_configured');
    const rows = await bed.deps.db.select().from(apiKeys).where(eq(apiKeys.tenantId, tenant.id));
    expect(rows).toHaveLength(1);
  });
});
