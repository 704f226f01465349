import { type RouteHandler, z } from '@hono/zod-openapi';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { defineRoute, destinationIdParam, tenantIdParam } from '../../openapi.ts';
import { findDestination } from '../../services/destinations.ts';
import { destinationAnswer, destinationSchema, onboardingSchema } from './shared.ts';

/** GET /v1/tenants/{tenantId}/destinations/{destinationId}: its schemas, access and documented answers. */
export const route = defineRoute('tenant', {
  method: 'get',
  operationId: 'getDestination',
  path: '/tenants/{tenantId}/destinations/{destinationId}',
  tags: ['destinations'],
  summary: 'Read a destination with its onboarding material',
  request: { params: z.object({ tenantId: tenantIdParam, destinationId: destinationIdParam }) },
  responses: {
    200: {
      description: 'The destination and what the customer deploys.',
      content: {
        'application/json': {
          schema: z.object({ destination: destinationSchema, onboarding: onboardingSchema }),
        },
      },
    },
  },
});

/** The handler of GET /v1/tenants/{tenantId}/destinations/{destinationId}, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const row = await findDestination(deps.db, c.get('tenant').id, c.req.valid('param').destinationId);
    return c.json(destinationAnswer(deps, row), 200);
  };
}
