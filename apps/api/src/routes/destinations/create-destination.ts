import { type RouteHandler, z } from '@hono/zod-openapi';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { actorOf, defineRoute, jsonBody, tenantIdParam } from '../../openapi.ts';
import {
  MAX_DESTINATIONS_PER_TENANT,
  registerDestination,
  registerDestinationSchema,
} from '../../services/destinations.ts';
import { destinationAnswer, destinationSchema, onboardingSchema } from './shared.ts';

/** The body of a destination registration. */
const bodySchema = registerDestinationSchema.openapi({
  example: {
    accountId: '210987654321',
    regions: ['us-east-1', 'eu-west-1'],
    agentIds: ['agt-support-bot'],
  },
});

/** POST /v1/tenants/{tenantId}/destinations: its schemas, access and documented answers. */
export const route = defineRoute(
  'tenant',
  {
    method: 'post',
    operationId: 'createDestination',
    path: '/tenants/{tenantId}/destinations',
    tags: ['destinations'],
    summary:
      'Register an AWS account: returns the ExternalId, trust policy and CloudFormation quick-create link',
    description: `A tenant has at most ${MAX_DESTINATIONS_PER_TENANT} destinations: the next is refused with 409 (as is an account already registered).`,
    request: { params: z.object({ tenantId: tenantIdParam }), body: jsonBody(bodySchema) },
    responses: {
      201: {
        description: 'The destination (state pending) and what the customer deploys.',
        content: {
          'application/json': {
            schema: z.object({ destination: destinationSchema, onboarding: onboardingSchema }),
          },
        },
      },
    },
  },
  [409, 422],
);

/** The handler of POST /v1/tenants/{tenantId}/destinations, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const row = await registerDestination(deps, actorOf(c), c.get('tenant'), c.req.valid('json'));
    return c.json(destinationAnswer(deps, row), 201);
  };
}
