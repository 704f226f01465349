import { type RouteHandler, z } from '@hono/zod-openapi';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { defineRoute, jsonResponse, tenantIdParam } from '../../openapi.ts';
import { tenantHealth } from '../../services/tenants.ts';
import { TENANT_WITH_HEALTH_EXAMPLE, tenantWithHealthSchema, toTenant } from './shared.ts';

/** GET /v1/tenants/{tenantId}: its schemas, access and documented answers. */
export const route = defineRoute('tenant', {
  method: 'get',
  path: '/tenants/{tenantId}',
  operationId: 'getTenant',
  tags: ['tenants'],
  summary: 'Read a tenant and its health',
  request: { params: z.object({ tenantId: tenantIdParam }) },
  responses: {
    200: jsonResponse('The tenant.', tenantWithHealthSchema, TENANT_WITH_HEALTH_EXAMPLE),
  },
});

/** The handler of GET /v1/tenants/{tenantId}, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const tenant = c.get('tenant');
    const load = () => tenantHealth(deps, tenant);
    // Up to a second old, as the tenant row itself (ADR 0113).
    const health = (await deps.tenantReadCache?.read(tenant.id, 'health', load)) ?? (await load());
    return c.json({ ...toTenant(tenant), health }, 200);
  };
}
