import { type ApiKey, apiKeys, type Database, type Tenant, type Transaction, tenants } from '@vsh/db';
import { and, count, desc, eq, isNull } from 'drizzle-orm';
import type { ApiDeps } from '../deps.ts';
import { generateApiKey } from '../lib/api-keys.ts';
import { type Actor, audit } from '../lib/audit.ts';
import { requireActive } from './common.ts';
import { ServiceError } from './errors.ts';
import { displayName } from './schemas.ts';

/** Active keys a tenant may hold: enough for rotation with overlap and a few integrations, and bounded. */
export const MAX_ACTIVE_KEYS = 20;

/** The name of an API key, as the caller gives it. */
export const apiKeyName = displayName(100);

/** A just-created key: its row and the whole key, which exists here and nowhere else. */
export interface CreatedApiKey {
  row: ApiKey;
  key: string;
}

/** Creates a tenant API key in the transaction; the caller audits it. */
export async function insertApiKey(tx: Transaction, tenantId: string, name: string): Promise<CreatedApiKey> {
  const material = generateApiKey();
  const [row] = await tx
    .insert(apiKeys)
    .values({ tenantId, name, prefix: material.prefix, hash: material.hash })
    .returning();
  if (row === undefined) throw new Error('insert into api_keys returned no row');
  return { row, key: material.key };
}

/** Audits the creation of an API key (prefix only, never the key). */
export async function auditKeyCreated(tx: Transaction, actor: Actor, created: CreatedApiKey): Promise<void> {
  await audit(tx, actor, {
    tenantId: created.row.tenantId,
    action: 'api_key.created',
    target: created.row.id,
    details: { prefix: created.row.prefix },
  });
}

/**
 * Creates a tenant API key. The count and the insert run in one transaction that first locks the
 * tenant's row, so creations for one tenant take turns (concurrent ones cannot all see 19 and all
 * insert) and an offboarding, which updates that row, cannot interleave with them: a creation that
 * waited on it sees the tenant offboarded.
 */
export async function createApiKey(
  deps: Pick<ApiDeps, 'db'>,
  actor: Actor,
  tenant: Tenant,
  name: string,
): Promise<CreatedApiKey> {
  requireActive(tenant);
  const created = await deps.db.transaction(async (tx) => {
    const [locked] = await tx.select().from(tenants).where(eq(tenants.id, tenant.id)).for('update');
    if (locked === undefined) throw new ServiceError('not_found', 'tenant not found');
    requireActive(locked);
    const [active] = await tx
      .select({ count: count() })
      .from(apiKeys)
      .where(and(eq(apiKeys.tenantId, tenant.id), isNull(apiKeys.revokedAt)));
    if ((active?.count ?? 0) >= MAX_ACTIVE_KEYS) return undefined;
    const apiKey = await insertApiKey(tx, tenant.id, name);
    await auditKeyCreated(tx, actor, apiKey);
    return apiKey;
  });
  if (created === undefined) {
    throw new ServiceError(
      'conflict',
      `a tenant has at most ${MAX_ACTIVE_KEYS} active API keys; revoke one first`,
    );
  }
  return created;
}

/** A tenant's API keys (revoked ones included), newest first. */
export async function listApiKeys(db: Database, tenantId: string): Promise<ApiKey[]> {
  return db.select().from(apiKeys).where(eq(apiKeys.tenantId, tenantId)).orderBy(desc(apiKeys.id)).limit(200);
}

/**
 * Revokes a tenant's API key (idempotent: an already revoked key is returned as it is). This instance
 * forgets it at once; others within KEY_CACHE_MAX_AGE_MS (ADR 0108).
 */
export async function revokeApiKey(
  deps: Pick<ApiDeps, 'db' | 'clock' | 'apiKeyCache'>,
  actor: Actor,
  tenant: Tenant,
  keyId: string,
): Promise<ApiKey> {
  const now = deps.clock();
  const ofTenant = and(eq(apiKeys.id, keyId), eq(apiKeys.tenantId, tenant.id));
  const row = await deps.db.transaction(async (tx) => {
    const [revoked] = await tx
      .update(apiKeys)
      .set({ revokedAt: now })
      .where(and(ofTenant, isNull(apiKeys.revokedAt)))
      .returning();
    if (revoked === undefined) {
      const [existing] = await tx.select().from(apiKeys).where(ofTenant).limit(1);
      return existing;
    }
    await audit(tx, actor, {
      tenantId: tenant.id,
      action: 'api_key.revoked',
      target: revoked.id,
      details: { prefix: revoked.prefix },
    });
    return revoked;
  });
  if (row === undefined) throw new ServiceError('not_found', 'API key not found');
  deps.apiKeyCache?.evictKey(row.id);
  return row;
}
