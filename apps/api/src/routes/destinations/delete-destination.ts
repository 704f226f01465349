import { type RouteHandler, z } from '@hono/zod-openapi';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { actorOf, defineRoute, destinationIdParam, tenantIdParam } from '../../openapi.ts';
import { deleteDestination } from '../../services/destinations.ts';

/** DELETE /v1/tenants/{tenantId}/destinations/{destinationId}: its schemas, access and documented answers. */
export const route = defineRoute(
  'tenant',
  {
    method: 'delete',
    operationId: 'deleteDestination',
    path: '/tenants/{tenantId}/destinations/{destinationId}',
    tags: ['destinations'],
    summary: 'Remove a destination and its streams (findings already in Security Hub stay there)',
    request: { params: z.object({ tenantId: tenantIdParam, destinationId: destinationIdParam }) },
    responses: { 204: { description: 'Removed.' } },
  },
  [409],
);

/** The handler of DELETE /v1/tenants/{tenantId}/destinations/{destinationId}, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    await deleteDestination(deps, actorOf(c), c.get('tenant'), c.req.valid('param').destinationId);
    return c.body(null, 204);
  };
}
