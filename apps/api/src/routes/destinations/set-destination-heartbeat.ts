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
import { destinationHeartbeatSchema, setDestinationHeartbeat } from '../../services/destinations.ts';
import { DESTINATION_EXAMPLE, destinationSchema, toDestination } from './shared.ts';

/** PUT /v1/tenants/{tenantId}/destinations/{destinationId}/heartbeat: its schemas, access and documented answers. */
export const route = defineRoute(
  'tenant',
  {
    method: 'put',
    operationId: 'setDestinationHeartbeat',
    path: '/tenants/{tenantId}/destinations/{destinationId}/heartbeat',
    tags: ['destinations'],
    summary:
      "Turn the destination's heartbeat finding on or off (at most one import an hour per hub; off by default)",
    request: {
      params: z.object({ tenantId: tenantIdParam, destinationId: destinationIdParam }),
      body: jsonBody(destinationHeartbeatSchema.openapi({ example: { enabled: true } })),
    },
    responses: {
      200: jsonResponse('The destination after the change.', destinationSchema, {
        ...DESTINATION_EXAMPLE,
        heartbeatEnabled: true,
      }),
    },
  },
  [409],
);

/** The handler of PUT /v1/tenants/{tenantId}/destinations/{destinationId}/heartbeat, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const { destinationId } = c.req.valid('param');
    const row = await setDestinationHeartbeat(
      deps,
      actorOf(c),
      c.get('tenant'),
      destinationId,
      c.req.valid('json'),
    );
    return c.json(toDestination(row), 200);
  };
}
