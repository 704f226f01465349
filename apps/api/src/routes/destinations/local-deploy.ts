import { type RouteHandler, z } from '@hono/zod-openapi';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { actorOf, defineRoute, destinationIdParam, jsonResponse, tenantIdParam } from '../../openapi.ts';
import { deployRoleLocally } from '../../services/destinations.ts';

/** POST /v1/tenants/{tenantId}/destinations/{destinationId}/local-deploy: its schemas and answers. */
export const route = defineRoute(
  'tenant',
  {
    method: 'post',
    operationId: 'deployDestinationRoleLocally',
    path: '/tenants/{tenantId}/destinations/{destinationId}/local-deploy',
    tags: ['destinations'],
    summary:
      "Local stack only: deploy the destination's customer role into the local AWS account (then verify it)",
    request: { params: z.object({ tenantId: tenantIdParam, destinationId: destinationIdParam }) },
    responses: {
      200: jsonResponse('The role the local stack created.', z.object({ roleArn: z.string() }), {
        roleArn: 'arn:aws:iam::210987654321:role/Data443-VaikoraSecurityHub',
      }),
    },
  },
  [409, 502],
);

/** The handler of POST .../local-deploy, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const { destinationId } = c.req.valid('param');
    return c.json(await deployRoleLocally(deps, actorOf(c), c.get('tenant'), destinationId), 200);
  };
}
