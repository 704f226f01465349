import { type RouteHandler, z } from '@hono/zod-openapi';
import { parseRoleArn } from '@vsh/role-contract';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { actorOf, defineRoute, destinationIdParam, jsonBody, tenantIdParam } from '../../openapi.ts';
import { verifyDestination } from '../../services/destinations.ts';
import { CHECK_CODES, CHECK_NAMES } from '../../verify/checks.ts';
import { destinationSchema, toDestination } from './shared.ts';

/** One check of a verification, as the API answers it. */
const checkResultSchema = z
  .object({
    name: z.enum(CHECK_NAMES),
    ok: z.boolean(),
    code: z.enum(CHECK_CODES),
    region: z.string().optional(),
    message: z.string(),
    fix: z.string().optional(),
  })
  .openapi('VerificationCheck');

const bodySchema = z
  .strictObject({
    roleArn: z
      .string()
      .max(2048, 'must be at most 2048 characters')
      .refine((value) => parseRoleArn(value) !== null, {
        message: 'must be an IAM role ARN such as arn:aws:iam::123456789012:role/Data443-VaikoraSecurityHub',
      })
      .optional()
      .meta({
        description:
          "The role the customer's stack created: required for a destination in role mode, absent in partner-product mode (ADR 0121), which verifies that each region's hub accepts findings from Data443's product.",
      }),
  })
  .openapi({ example: { roleArn: 'arn:aws:iam::123456789012:role/Data443-VaikoraSecurityHub' } });

/** POST /v1/tenants/{tenantId}/destinations/{destinationId}/verify: its schemas, access and documented answers. */
export const route = defineRoute(
  'tenant',
  {
    method: 'post',
    operationId: 'verifyDestination',
    path: '/tenants/{tenantId}/destinations/{destinationId}/verify',
    tags: ['destinations'],
    summary:
      'Verify the customer role: assume it with the ExternalId, prove it refuses others, check Security Hub',
    description:
      "Failed checks are an outcome (200, verified: false) with a code, a message and a fix per check. The role must be in the destination's account (ACCOUNT_MISMATCH) and partition, and its name must start with Data443-Vaikora. AssumeRole is retried for about a minute while IAM propagates a new role.",
    request: {
      params: z.object({ tenantId: tenantIdParam, destinationId: destinationIdParam }),
      body: jsonBody(bodySchema),
    },
    responses: {
      200: {
        description: 'The checks and the destination after them.',
        content: {
          'application/json': {
            schema: z.object({
              verified: z.boolean(),
              checks: z.array(checkResultSchema),
              destination: destinationSchema,
            }),
          },
        },
      },
    },
  },
  [409, 422],
);

/** The handler of POST /v1/tenants/{tenantId}/destinations/{destinationId}/verify, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const { destinationId } = c.req.valid('param');
    const { roleArn } = c.req.valid('json');
    const out = await verifyDestination(deps, actorOf(c), c.get('tenant'), destinationId, roleArn);
    const { verified, checks, destination } = out;
    return c.json({ verified, checks, destination: toDestination(destination) }, 200);
  };
}
