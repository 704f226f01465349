import { type RouteHandler, z } from '@hono/zod-openapi';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { defineRoute, tenantIdParam } from '../../openapi.ts';
import { listDestinations } from '../../services/destinations.ts';
import { destinationSchema, toDestination } from './shared.ts';

/** GET /v1/tenants/{tenantId}/destinations: its schemas, access and documented answers. */
export const route = defineRoute('tenant', {
  method: 'get',
  operationId: 'listDestinations',
  path: '/tenants/{tenantId}/destinations',
  tags: ['destinations'],
  summary: "List a tenant's AWS destinations",
  request: { params: z.object({ tenantId: tenantIdParam }) },
  responses: {
    200: {
      description: 'Every destination of the tenant, oldest first.',
      content: { 'application/json': { schema: z.object({ items: z.array(destinationSchema) }) } },
    },
  },
});

/** The handler of GET /v1/tenants/{tenantId}/destinations, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const rows = await listDestinations(deps.db, c.get('tenant').id);
    return c.json({ items: rows.map(toDestination) }, 200);
  };
}
