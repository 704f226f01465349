import { type RouteHandler, z } from '@hono/zod-openapi';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { actorOf, defineRoute, jsonBody, jsonResponse, tenantIdParam } from '../../openapi.ts';
import { tenantName, tenantPlan, updateTenant } from '../../services/tenants.ts';
import { TENANT_EXAMPLE, tenantSchema, toTenant } from './shared.ts';

/** PATCH /v1/tenants/{tenantId}: its schemas, access and documented answers. */
export const route = defineRoute(
  'operator',
  {
    method: 'patch',
    path: '/tenants/{tenantId}',
    operationId: 'updateTenant',
    tags: ['tenants'],
    summary: "Change a tenant's name or plan",
    request: {
      params: z.object({ tenantId: tenantIdParam }),
      body: jsonBody(
        z
          .strictObject({ name: tenantName.optional(), plan: tenantPlan.optional() })
          .refine((body) => body.name !== undefined || body.plan !== undefined, 'give name or plan')
          .openapi({ example: { name: 'Acme Corporation' } }),
      ),
    },
    responses: {
      200: jsonResponse('The updated tenant.', tenantSchema, { ...TENANT_EXAMPLE, name: 'Acme Corporation' }),
    },
  },
  [409],
);

/** The handler of PATCH /v1/tenants/{tenantId}, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const updated = await updateTenant(deps, actorOf(c), c.get('tenant'), c.req.valid('json'));
    return c.json(toTenant(updated), 200);
  };
}
