import { type RouteHandler, z } from '@hono/zod-openapi';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import {
  actorOf,
  defineRoute,
  destinationIdParam,
  jsonBody,
  jsonResponse,
  tenantIdParam,
} from '../../openapi.ts';
import { regionsSchema, updateDestinationRouting } from '../../services/destinations.ts';
import { agentIdsSchema } from '../../services/schemas.ts';
import { DESTINATION_EXAMPLE, destinationSchema, toDestination } from './shared.ts';

/** The body of PATCH /v1/tenants/{tenantId}/destinations/{destinationId}: what may change after registration. */
const routingBodySchema = z
  .strictObject({
    agentIds: agentIdsSchema.nullable().optional().openapi({
      description: "The agents routed here; null routes every agent of the tenant's Vaikora settings.",
    }),
    regions: regionsSchema.optional(),
  })
  .refine((body) => body.agentIds !== undefined || body.regions !== undefined, {
    message: 'must change agentIds or regions',
  })
  .openapi({ example: { agentIds: ['agt-support-bot'], regions: ['us-east-1'] } });

/** PATCH /v1/tenants/{tenantId}/destinations/{destinationId}: its schemas, access and documented answers. */
export const route = defineRoute(
  'tenant',
  {
    method: 'patch',
    operationId: 'updateDestinationRouting',
    path: '/tenants/{tenantId}/destinations/{destinationId}',
    tags: ['destinations'],
    summary:
      'Change which Vaikora agents and regions a destination receives (re-syncs streams; an added region needs a new verification)',
    request: {
      params: z.object({ tenantId: tenantIdParam, destinationId: destinationIdParam }),
      body: jsonBody(routingBodySchema),
    },
    responses: {
      200: jsonResponse('The destination after the change.', destinationSchema, DESTINATION_EXAMPLE),
    },
  },
  [409, 422],
);

/** The handler of PATCH /v1/tenants/{tenantId}/destinations/{destinationId}, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const { destinationId } = c.req.valid('param');
    const row = await updateDestinationRouting(
      deps,
      actorOf(c),
      c.get('tenant'),
      destinationId,
      c.req.valid('json'),
    );
    return c.json(toDestination(row), 200);
  };
}
