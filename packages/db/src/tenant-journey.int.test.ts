import { createHash } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Database } from './client.ts';
import { pgErrorOf } from './errors.ts';
import { migrate } from './migrate.ts';
import { apiKeys, awsDestinations, tenants, webSignInLinks } from './schema/index.ts';
import { createTestDatabase } from './testing.ts';

const backends = [
  {
    name: 'PostgreSQL',
    open: async () => {
      const test = await createTestDatabase();
      return { db: test.db, close: test.drop };
    },
  },
  {
    name: 'PGlite',
    open: async () => {
      const handle = await createDb({ kind: 'pglite', dataDir: 'memory' });
      await migrate(handle.db);
      return handle;
    },
  },
];

const hash = (text: string) => createHash('sha256').update(text).digest('hex');

describe.each(backends)('migration 0006: destination routing and sign-in links ($name)', (backend) => {
  let db: Database;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ db, close } = await backend.open());
  });
  afterAll(async () => {
    await close?.();
  });

  async function tenantWithKey() {
    const [tenant] = await db.insert(tenants).values({ name: 'Acme' }).returning();
    if (tenant === undefined) throw new Error('no tenant');
    const [key] = await db
      .insert(apiKeys)
      .values({
        tenantId: tenant.id,
        prefix: `vsh_${tenant.id.slice(-12)}`,
        hash: hash(tenant.id),
        name: 'k',
      })
      .returning();
    if (key === undefined) throw new Error('no key');
    return { tenantId: tenant.id, keyId: key.id };
  }

  const destination = (tenantId: string, agentIds: string[] | null) =>
    db.insert(awsDestinations).values({
      tenantId,
      accountId: '123456789012',
      regions: ['us-east-1'],
      externalId: `ext-${Math.random().toString(36).slice(2)}`,
      roleName: 'Data443-VaikoraSecurityHub',
      agentIds,
    });

  it('keeps null (every agent) or 1 to 100 agent ids, never an empty list or a null element', async () => {
    const { tenantId } = await tenantWithKey();
    await destination(tenantId, null);
    const other = await tenantWithKey();
    await destination(other.tenantId, ['agt-a', 'agt-b']);

    for (const bad of [[], Array.from({ length: 101 }, (_, i) => `a${i}`)]) {
      const third = await tenantWithKey();
      const error = await destination(third.tenantId, bad).catch((err: unknown) => err);
      expect(pgErrorOf(error)?.constraint).toBe('aws_destinations_agent_ids_check');
    }
    const [row] = await db.select().from(awsDestinations).where(eq(awsDestinations.tenantId, other.tenantId));
    expect(row?.agentIds).toEqual(['agt-a', 'agt-b']);
  });

  it('stores only a hex SHA-256 of a link token, once, and deletes links with their key or tenant', async () => {
    const { tenantId, keyId } = await tenantWithKey();
    const now = new Date();
    const later = new Date(now.getTime() + 60_000);
    const link = { tenantId, apiKeyId: keyId, createdAt: now, expiresAt: later };

    await db.insert(webSignInLinks).values({ ...link, tokenHash: hash('one') });
    const clear = await db
      .insert(webSignInLinks)
      .values({ ...link, tokenHash: 'A'.repeat(43) })
      .catch((err: unknown) => err);
    const twice = await db
      .insert(webSignInLinks)
      .values({ ...link, tokenHash: hash('one') })
      .catch((err: unknown) => err);
    const backwards = await db
      .insert(webSignInLinks)
      .values({ ...link, tokenHash: hash('two'), expiresAt: now })
      .catch((err: unknown) => err);

    expect(pgErrorOf(clear)?.constraint).toBe('web_sign_in_links_token_hash_check');
    expect(pgErrorOf(twice)?.constraint).toBe('web_sign_in_links_token_hash_unique');
    expect(pgErrorOf(backwards)?.constraint).toBe('web_sign_in_links_expiry_check');

    await db.delete(apiKeys).where(eq(apiKeys.id, keyId));
    expect(await db.select().from(webSignInLinks).where(eq(webSignInLinks.tenantId, tenantId))).toEqual([]);

    const second = await tenantWithKey();
    await db.insert(webSignInLinks).values({
      tenantId: second.tenantId,
      apiKeyId: second.keyId,
      tokenHash: hash('three'),
      createdAt: now,
      expiresAt: later,
    });
    await db.delete(tenants).where(eq(tenants.id, second.tenantId));
    expect(
      await db.select().from(webSignInLinks).where(eq(webSignInLinks.tenantId, second.tenantId)),
    ).toEqual([]);
  });
});
