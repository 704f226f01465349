import { type RouteHandler, z } from '@hono/zod-openapi';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { actorOf, defineRoute, jsonResponse, tenantIdParam } from '../../openapi.ts';
import { offboardTenant } from '../../services/tenants.ts';
import { TENANT_EXAMPLE, tenantSchema, toTenant } from './shared.ts';

/** POST /v1/tenants/{tenantId}/offboard: its schemas, access and documented answers. */
export const route = defineRoute('operator', {
  method: 'post',
  path: '/tenants/{tenantId}/offboard',
  operationId: 'offboardTenant',
  tags: ['tenants'],
  summary: 'Offboard a tenant: stop ingestion, erase its Vaikora key, revoke its API keys',
  description:
    'Idempotent. The tenant row, its runs, rejected records and the audit trail are kept; its schedule, its Vaikora settings (with the encrypted key) are deleted, every API key is revoked and every destination disabled. Its API keys stop working at once on the instance that answers, and on every other instance within 10 seconds (ADR 0108).',
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
  return async (c) => c.json(toTenant(await offboardTenant(deps, actorOf(c), c.get('tenant'))), 200);
}
