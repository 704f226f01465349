import {
  apiKeys,
  awsDestinations,
  streams,
  type Tenant,
  tenantSchedules,
  tenants,
  vaikoraSettings,
} from '@vsh/db';
import { and, desc, eq, isNull } from 'drizzle-orm';
import { z } from 'zod';
import type { ApiDeps } from '../deps.ts';
import { type Actor, audit } from '../lib/audit.ts';
import { type Health, healthOf } from '../services/health.ts';
import { auditKeyCreated, type CreatedApiKey, insertApiKey } from './api-keys.ts';
import { requireActive } from './common.ts';
import { olderThan, type Page, type PageRequest, pageOf } from './pagination.ts';
import { displayName } from './schemas.ts';

export const tenantName = displayName(200);

export const tenantPlan = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,31}$/, 'must be 1 to 32 lower-case letters, digits, _ or -');

/** What creates a tenant (the body of POST /v1/tenants, and the operator's invite form). */
export const createTenantSchema = z.strictObject({ name: tenantName, plan: tenantPlan.optional() });

export type CreateTenantInput = z.infer<typeof createTenantSchema>;

/**
 * Creates a tenant and its first API key in one transaction, audited. The whole key is in the result and
 * nowhere else.
 */
export async function createTenant(
  deps: Pick<ApiDeps, 'db'>,
  actor: Actor,
  input: CreateTenantInput,
): Promise<{ tenant: Tenant; apiKey: CreatedApiKey }> {
  return deps.db.transaction(async (tx) => {
    const [tenant] = await tx
      .insert(tenants)
      .values({ name: input.name, ...(input.plan === undefined ? {} : { plan: input.plan }) })
      .returning();
    if (tenant === undefined) throw new Error('insert into tenants returned no row');
    const apiKey = await insertApiKey(tx, tenant.id, 'default');
    await audit(tx, actor, {
      tenantId: tenant.id,
      action: 'tenant.created',
      target: tenant.id,
      details: { plan: tenant.plan },
    });
    await auditKeyCreated(tx, actor, apiKey);
    return { tenant, apiKey };
  });
}

/** Changes a tenant's name or plan (an omitted field keeps its value). */
export async function updateTenant(
  deps: Pick<ApiDeps, 'db'>,
  actor: Actor,
  tenant: Tenant,
  input: { name?: string | undefined; plan?: string | undefined },
): Promise<Tenant> {
  requireActive(tenant);
  const changes = {
    ...(input.name === undefined ? {} : { name: input.name }),
    ...(input.plan === undefined ? {} : { plan: input.plan }),
  };
  const updated = await deps.db.transaction(async (tx) => {
    const [row] = await tx.update(tenants).set(changes).where(eq(tenants.id, tenant.id)).returning();
    await audit(tx, actor, {
      tenantId: tenant.id,
      action: 'tenant.updated',
      target: tenant.id,
      details: { fields: Object.keys(changes) },
    });
    return row;
  });
  if (updated === undefined) throw new Error('update of tenants returned no row');
  return updated;
}

/**
 * Offboards a tenant (idempotent): its schedule and Vaikora settings (with the encrypted key) are
 * deleted, every API key revoked, every destination and stream disabled; the tenant row, its runs,
 * rejected records and audit trail are kept. This instance forgets the tenant's keys at once; others
 * within KEY_CACHE_MAX_AGE_MS (ADR 0108).
 */
export async function offboardTenant(
  deps: Pick<ApiDeps, 'db' | 'clock' | 'apiKeyCache' | 'tenantReadCache'>,
  actor: Actor,
  tenant: Tenant,
): Promise<Tenant> {
  if (tenant.state === 'offboarded') {
    deps.apiKeyCache?.evictTenant(tenant.id);
    deps.tenantReadCache?.evict(tenant.id);
    return tenant;
  }
  const now = deps.clock();
  const updated = await deps.db.transaction(async (tx) => {
    const [row] = await tx
      .update(tenants)
      .set({ state: 'offboarded', offboardedAt: now })
      .where(and(eq(tenants.id, tenant.id), eq(tenants.state, 'active')))
      .returning();
    if (row === undefined) return undefined;
    await tx.delete(tenantSchedules).where(eq(tenantSchedules.tenantId, tenant.id));
    const erased = await tx
      .delete(vaikoraSettings)
      .where(eq(vaikoraSettings.tenantId, tenant.id))
      .returning({ tenantId: vaikoraSettings.tenantId });
    const revoked = await tx
      .update(apiKeys)
      .set({ revokedAt: now })
      .where(and(eq(apiKeys.tenantId, tenant.id), isNull(apiKeys.revokedAt)))
      .returning({ id: apiKeys.id });
    const disabled = await tx
      .update(awsDestinations)
      .set({ state: 'disabled' })
      .where(eq(awsDestinations.tenantId, tenant.id))
      .returning({ id: awsDestinations.id });
    await tx.update(streams).set({ enabled: false }).where(eq(streams.tenantId, tenant.id));
    await audit(tx, actor, {
      tenantId: tenant.id,
      action: 'tenant.offboarded',
      target: tenant.id,
      details: {
        vaikoraSettingsErased: erased.length > 0,
        revokedApiKeys: revoked.map((key) => key.id),
        disabledDestinations: disabled.map((destination) => destination.id),
      },
    });
    return row;
  });
  deps.apiKeyCache?.evictTenant(tenant.id);
  deps.tenantReadCache?.evict(tenant.id);
  // A concurrent offboard got there first: answer with the state it left.
  return updated ?? { ...tenant, state: 'offboarded', offboardedAt: tenant.offboardedAt ?? now };
}

/** A tenant with its health summary (ADR 0100). */
export interface TenantWithHealth {
  tenant: Tenant;
  health: Health;
}

/** A page of tenants with their health, newest first. */
export async function listTenants(
  deps: Pick<ApiDeps, 'db' | 'clock'>,
  page: PageRequest,
): Promise<Page<TenantWithHealth>> {
  const rows = await deps.db
    .select()
    .from(tenants)
    .where(olderThan(tenants.id, page.cursor))
    .orderBy(desc(tenants.id))
    .limit(page.limit + 1);
  const { items, nextCursor } = pageOf(rows, page.limit);
  const health = await healthOf(deps.db, items, deps.clock());
  return {
    items: items.flatMap((tenant) => {
      const summary = health.get(tenant.id);
      return summary === undefined ? [] : [{ tenant, health: summary }];
    }),
    nextCursor,
  };
}

/** One tenant's health summary. */
export async function tenantHealth(deps: Pick<ApiDeps, 'db' | 'clock'>, tenant: Tenant): Promise<Health> {
  const health = (await healthOf(deps.db, [tenant], deps.clock())).get(tenant.id);
  if (health === undefined) throw new Error('health summary missing for the tenant');
  return health;
}
