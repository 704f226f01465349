import { randomBytes } from 'node:crypto';
import { type RouteHandler, z } from '@hono/zod-openapi';
import {
  ACCOUNT_ID_PATTERN,
  DEFAULT_ROLE_NAME,
  EXTERNAL_ID_PATTERN,
  isCustomerRoleName,
  partitionOfRegion,
  ROLE_NAME_PREFIX,
  SUPPORTED_PARTITIONS,
} from '@vsh/customer-role';
import { type AwsDestination, awsDestinations, pgErrorCodes, pgErrorOf, type Tenant } from '@vsh/db';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { ApiError } from '../../errors.ts';
import { type Actor, audit } from '../../lib/audit.ts';
import { requireActive } from '../../middleware/authorize.ts';
import { defineRoute, tenantIdParam } from '../../openapi.ts';
import { agentIdsSchema } from '../vaikora/shared.ts';
import {
  destinationSchema,
  onboardingOf,
  onboardingSchema,
  REGION_PATTERN,
  toDestination,
} from './shared.ts';

/** The body of a destination registration (also what the onboarding page's form is parsed with). */
export const bodySchema = z
  .strictObject({
    accountId: z.string().regex(ACCOUNT_ID_PATTERN, 'must be a 12-digit AWS account id'),
    regions: z
      .array(z.string().regex(REGION_PATTERN, 'must be an AWS region name such as us-east-1'))
      .min(1, 'must name at least one region')
      .max(32, 'must name at most 32 regions')
      .refine((regions) => new Set(regions).size === regions.length, 'must not repeat a region'),
    partition: z.enum(SUPPORTED_PARTITIONS).optional(),
    roleName: z.string().max(64, 'must be at most 64 characters').optional(),
    agentIds: agentIdsSchema.optional().openapi({
      description:
        "The Vaikora agents whose findings go to this account; omit to route every agent of the tenant's Vaikora settings here.",
    }),
  })
  .openapi({
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
    request: {
      params: z.object({ tenantId: tenantIdParam }),
      body: { required: true, content: { 'application/json': { schema: bodySchema } } },
    },
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

/** 32 random bytes, base64url: the ExternalId, generated here and only here (ADR 0040). */
export function newExternalId(): string {
  const id = randomBytes(32).toString('base64url');
  if (!EXTERNAL_ID_PATTERN.test(id))
    throw new Error('generated ExternalId does not match the template pattern');
  return id;
}

/**
 * Registers an AWS account for a tenant (shared by the route and the onboarding page); returns the new row.
 * `agentIds` routes only those agents here (null/omitted: every agent of the Vaikora settings).
 */
export async function registerDestination(
  deps: ApiDeps,
  actor: Actor,
  tenant: Tenant,
  body: z.infer<typeof bodySchema>,
): Promise<AwsDestination> {
  requireActive(tenant);
  const partitions = new Set(body.regions.map(partitionOfRegion));
  const [partition] = partitions;
  if (partitions.size !== 1 || partition === undefined) {
    throw new ApiError(
      'PARTITION_MISMATCH',
      'body.regions: all regions of a destination must be in one partition',
    );
  }
  if (body.partition !== undefined && body.partition !== partition) {
    throw new ApiError('PARTITION_MISMATCH', `body.partition: the regions are in partition ${partition}`);
  }
  const roleName = body.roleName ?? DEFAULT_ROLE_NAME;
  if (!isCustomerRoleName(roleName)) {
    throw new ApiError(
      'ROLE_NAME_NOT_ALLOWED',
      `body.roleName: must start with ${ROLE_NAME_PREFIX} and use only IAM name characters (Data443's worker may assume only those roles)`,
    );
  }
  let row: AwsDestination | undefined;
  try {
    row = await deps.db.transaction(async (tx) => {
      const [inserted] = await tx
        .insert(awsDestinations)
        .values({
          tenantId: tenant.id,
          accountId: body.accountId,
          regions: body.regions,
          roleName,
          agentIds: body.agentIds ?? null,
          externalId: newExternalId(),
        })
        .returning();
      if (inserted === undefined) throw new Error('insert into aws_destinations returned no row');
      await audit(tx, actor.principal, actor.requestId, {
        tenantId: tenant.id,
        action: 'destination.created',
        target: inserted.id,
        details: {
          accountId: inserted.accountId,
          regions: inserted.regions,
          roleName,
          agentIds: inserted.agentIds,
        },
      });
      return inserted;
    });
  } catch (err) {
    const pg = pgErrorOf(err);
    if (
      pg?.code === pgErrorCodes.uniqueViolation &&
      pg.constraint === 'aws_destinations_tenant_account_unique'
    ) {
      throw new ApiError(
        'CONFLICT',
        `a destination for account ${body.accountId} already exists; delete it first`,
      );
    }
    throw err;
  }
  return row;
}

/** The handler of POST /v1/tenants/{tenantId}/destinations, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const row = await registerDestination(
      deps,
      { principal: c.get('principal'), requestId: c.get('requestId') },
      c.get('tenant'),
      c.req.valid('json'),
    );
    return c.json(
      {
        destination: toDestination(row),
        onboarding: onboardingOf(deps.config, row, deps.localAws !== undefined),
      },
      201,
    );
  };
}
