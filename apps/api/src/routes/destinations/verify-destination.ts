import { type RouteHandler, z } from '@hono/zod-openapi';
import { isCustomerRoleName, parseRoleArn, ROLE_NAME_PREFIX } from '@vsh/customer-role';
import { type AwsDestination, awsDestinations, type DestinationVerification, type Tenant } from '@vsh/db';
import { and, eq } from 'drizzle-orm';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { ApiError } from '../../errors.ts';
import { type Actor, audit } from '../../lib/audit.ts';
import { syncStreams } from '../../lib/streams.ts';
import { requireActive } from '../../middleware/authorize.ts';
import { defineRoute, destinationIdParam, tenantIdParam } from '../../openapi.ts';
import { type CheckResult, checkResultSchema, summarizeFailure } from '../../verify/checks.ts';
import { findDestination } from './find.ts';
import { destinationSchema, partitionOf, toDestination } from './shared.ts';

const bodySchema = z
  .strictObject({
    roleArn: z
      .string()
      .max(2048, 'must be at most 2048 characters')
      .refine((value) => parseRoleArn(value) !== null, {
        message: 'must be an IAM role ARN such as arn:aws:iam::123456789012:role/Data443-VaikoraSecurityHub',
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
      body: { required: true, content: { 'application/json': { schema: bodySchema } } },
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

/** The outcome of a verification: every check, and the destination after them. */
export interface RoleVerification {
  verified: boolean;
  checks: CheckResult[];
  destination: AwsDestination;
}

/**
 * Verifies a customer role for a destination of a tenant and records the outcome (shared by the route and
 * the onboarding page). Failed checks are data; a role in the wrong account, partition or name throws.
 */
export async function verifyDestinationRole(
  deps: ApiDeps,
  actor: Actor,
  tenant: Tenant,
  destinationId: string,
  roleArn: string,
): Promise<RoleVerification> {
  requireActive(tenant);
  const destination = await findDestination(deps.db, tenant.id, destinationId);
  const arn = parseRoleArn(roleArn);
  if (arn === null) throw new ApiError('VALIDATION_FAILED', 'body.roleArn: must be an IAM role ARN');
  if (arn.accountId !== destination.accountId) {
    throw new ApiError(
      'ACCOUNT_MISMATCH',
      `body.roleArn: the role is in account ${arn.accountId}, but this destination is account ${destination.accountId}`,
    );
  }
  const partition = partitionOf(destination);
  if (arn.partition !== partition) {
    throw new ApiError(
      'PARTITION_MISMATCH',
      `body.roleArn: the destination's regions are in partition ${partition}`,
    );
  }
  if (!isCustomerRoleName(arn.roleName)) {
    throw new ApiError(
      'ROLE_NAME_NOT_ALLOWED',
      `body.roleArn: the role name must start with ${ROLE_NAME_PREFIX} (Data443's worker may assume only those roles)`,
    );
  }

  const result = await deps.verifier.verify({
    tenantId: tenant.id,
    destinationId: destination.id,
    roleArn,
    externalId: destination.externalId,
    regions: destination.regions,
  });
  const now = deps.clock();
  const verification: DestinationVerification = {
    checkedAt: now.toISOString(),
    ok: result.ok,
    checks: result.checks,
  };
  const updated = await deps.db.transaction(async (tx) => {
    const where = and(eq(awsDestinations.id, destination.id), eq(awsDestinations.tenantId, tenant.id));
    const [row] = await tx
      .update(awsDestinations)
      .set(
        result.ok
          ? {
              state: destination.state === 'active' ? 'active' : 'verified',
              roleArn,
              roleName: arn.roleName,
              lastVerifiedAt: now,
              lastVerification: verification,
              lastError: null,
              consecutiveFailures: 0,
              firstFailureAt: null,
            }
          : // A failed check never replaces a working role ARN: the worker keeps using the verified one.
            { lastVerification: verification, lastError: summarizeFailure(result) },
      )
      .where(where)
      .returning();
    const streams = result.ok ? await syncStreams(tx, tenant.id) : undefined;
    await audit(tx, actor.principal, actor.requestId, {
      tenantId: tenant.id,
      action: 'destination.verified',
      target: destination.id,
      details: {
        ok: result.ok,
        roleArn,
        failed: result.checks.filter((check) => !check.ok).map((check) => check.code),
        ...(streams === undefined ? {} : { streams }),
      },
    });
    return row;
  });
  if (updated === undefined) throw new ApiError('NOT_FOUND', 'destination not found');
  return { verified: result.ok, checks: result.checks, destination: updated };
}

/** The handler of POST /v1/tenants/{tenantId}/destinations/{destinationId}/verify, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const out = await verifyDestinationRole(
      deps,
      { principal: c.get('principal'), requestId: c.get('requestId') },
      c.get('tenant'),
      c.req.valid('param').destinationId,
      c.req.valid('json').roleArn,
    );
    return c.json(
      { verified: out.verified, checks: out.checks, destination: toDestination(out.destination) },
      200,
    );
  };
}
