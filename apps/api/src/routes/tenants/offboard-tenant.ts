import { type RouteHandler, z } from '@hono/zod-openapi';
import { apiKeys, awsDestinations, streams, tenantSchedules, tenants, vaikoraSettings } from '@vsh/db';
import { and, eq, isNull } from 'drizzle-orm';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { audit } from '../../lib/audit.ts';
import { defineRoute, jsonResponse, tenantIdParam } from '../../openapi.ts';
import { TENANT_EXAMPLE, tenantSchema, toTenant } from './shared.ts';

/** POST /v1/tenants/{tenantId}/offboard: its schemas, access and documented answers. */
export const route = defineRoute('operator', {
  method: 'post',
  path: '/tenants/{tenantId}/offboard',
  operationId: 'offboardTenant',
  tags: ['tenants'],
  summary: 'Offboard a tenant: stop ingestion, erase its Vaikora key, revoke its API keys',
  description:
    'Idempotent. The tenant row, its runs, rejected records and the audit trail are kept; its schedule, its Vaikora settings (with the encrypted key) are deleted, every API key is revoked and every destination disabled.',
  request: { params: z.object({ tenantId: tenantIdParam }) },
  responses: {
    200: jsonResponse('The offboarded tenant.', tenantSchema, {
      ...TENANT_EXAMPLE,
      state: 'offboarded',
      updatedAt: '2026-02-01T00:00:00.000Z',
      offboardedAt: '2026-02-01T00:00:00.000Z',
    }),
  },
});

/** The handler of POST /v1/tenants/{tenantId}/offboard, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const tenant = c.get('tenant');
    if (tenant.state === 'offboarded') return c.json(toTenant(tenant), 200);
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
      await audit(tx, c.get('principal'), c.get('requestId'), {
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
    // A concurrent offboard got there first: answer with the state it left.
    return c.json(
      toTenant(updated ?? { ...tenant, state: 'offboarded', offboardedAt: tenant.offboardedAt ?? now }),
      200,
    );
  };
}
