import { randomBytes } from 'node:crypto';
import { AWS_REGION_PATTERN } from '@vsh/core';
import {
  type AwsDestination,
  awsDestinations,
  type Database,
  type DestinationVerification,
  destinationDeliveries,
  pgErrorCodes,
  pgErrorOf,
  type Tenant,
  type Transaction,
  tenants,
} from '@vsh/db';
import {
  ACCOUNT_ID_PATTERN,
  customerRoleParameterValues,
  DEFAULT_ROLE_NAME,
  DEFAULT_STACK_NAME,
  EXTERNAL_ID_PATTERN,
  isCustomerRoleName,
  parseRoleArn,
  partitionOfRegion,
  ROLE_NAME_PREFIX,
  SUPPORTED_PARTITIONS,
} from '@vsh/role-contract';
import { and, asc, count, eq } from 'drizzle-orm';
import { z } from 'zod';
import type { ApiDeps } from '../deps.ts';
import { type Actor, audit } from '../lib/audit.ts';
import { type CheckResult, summarizeFailure, type VerificationResult } from '../verify/checks.ts';
import { requireActive } from './common.ts';
import { ServiceError } from './errors.ts';
import { partitionOf } from './onboarding.ts';
import { agentIdsSchema } from './schemas.ts';
import { syncStreams } from './streams.ts';

/** The regions of a destination: 1 to 32 distinct region names. */
export const regionsSchema = z
  .array(z.string().regex(AWS_REGION_PATTERN, 'must be an AWS region name such as us-east-1'))
  .min(1, 'must name at least one region')
  .max(32, 'must name at most 32 regions')
  .refine((regions) => new Set(regions).size === regions.length, 'must not repeat a region');

/** What registers a destination (the body of POST .../destinations, and the onboarding page's form). */
export const registerDestinationSchema = z.strictObject({
  accountId: z.string().regex(ACCOUNT_ID_PATTERN, 'must be a 12-digit AWS account id'),
  regions: regionsSchema,
  partition: z.enum(SUPPORTED_PARTITIONS).optional(),
  roleName: z.string().max(64, 'must be at most 64 characters').optional(),
  agentIds: agentIdsSchema.optional().meta({
    description:
      "The Vaikora agents whose findings go to this account; omit to route every agent of the tenant's Vaikora settings here.",
  }),
  delivery: z.enum(destinationDeliveries).optional().meta({
    description:
      "How findings reach the account (ADR 0121, 0122): `role` (the default) through the cross-account role the customer's stack creates, under the account's own product; `partner` from Data443's own account under Data443's Security Hub product, after the customer accepts that product's findings in each region (no role), only where this deployment offers it; `security_lake` as OCSF Parquet objects written through the role into the account's Security Lake custom source (then `securityLake` is required and `regions` names the lake's one region).",
  }),
  securityLake: z
    .strictObject({
      bucket: z
        .string()
        .regex(
          /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
          'must be an S3 bucket name such as aws-security-data-lake-us-east-1-abc123',
        ),
      sourceName: z
        .string()
        .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be the custom source name: 1 to 64 letters, digits, _ . : -'),
    })
    .optional()
    .meta({
      description:
        'The Security Lake bucket of the region and the custom source name (delivery `security_lake` only).',
    }),
});

export type RegisterDestinationInput = z.infer<typeof registerDestinationSchema>;

/** 32 random bytes, base64url: the ExternalId, generated here and only here (ADR 0040). */
function newExternalId(): string {
  const id = randomBytes(32).toString('base64url');
  if (!EXTERNAL_ID_PATTERN.test(id))
    throw new Error('generated ExternalId does not match the template pattern');
  return id;
}

/** The destination with this id of this tenant (both in the WHERE clause), or `not_found`. */
export async function findDestination(
  db: Database | Transaction,
  tenantId: string,
  destinationId: string,
): Promise<AwsDestination> {
  const [row] = await db.select().from(awsDestinations).where(ofTenant(tenantId, destinationId)).limit(1);
  if (row === undefined) throw notFound();
  return row;
}

/**
 * The most destinations (AWS accounts) a tenant may have: what one list shows whole (the list has no
 * pages), and a bound on the streams a run loads (destinations x regions x agents).
 */
export const MAX_DESTINATIONS_PER_TENANT = 500;

/** Every destination of a tenant, oldest first. */
export async function listDestinations(db: Database, tenantId: string): Promise<AwsDestination[]> {
  return db
    .select()
    .from(awsDestinations)
    .where(eq(awsDestinations.tenantId, tenantId))
    .orderBy(asc(awsDestinations.id))
    .limit(MAX_DESTINATIONS_PER_TENANT);
}

/**
 * Refuses a tenant's next destination when the tenant is no longer active (an offboarding committed
 * since the request read it) or has MAX_DESTINATIONS_PER_TENANT. Locks the tenant's row for the rest of
 * `tx` (`FOR NO KEY UPDATE`: the worker's rows that reference the tenant are not held up), so that
 * concurrent registrations of one tenant, and its offboarding, come one after the other.
 */
export async function assertRoomForDestination(tx: Transaction, tenantId: string): Promise<void> {
  const [locked] = await tx.select().from(tenants).where(eq(tenants.id, tenantId)).for('no key update');
  if (locked === undefined) throw new ServiceError('not_found', 'tenant not found');
  requireActive(locked);
  const [row] = await tx
    .select({ n: count() })
    .from(awsDestinations)
    .where(eq(awsDestinations.tenantId, tenantId));
  if ((row?.n ?? 0) >= MAX_DESTINATIONS_PER_TENANT) {
    throw new ServiceError(
      'conflict',
      `this tenant already has ${MAX_DESTINATIONS_PER_TENANT} destinations, the most it may have; delete one it no longer uses first`,
    );
  }
}

/**
 * Registers an AWS account for a tenant; returns the new row. `agentIds` routes only those agents here
 * (omitted: every agent of the Vaikora settings).
 */
export async function registerDestination(
  deps: Pick<ApiDeps, 'db' | 'config'>,
  actor: Actor,
  tenant: Tenant,
  input: RegisterDestinationInput,
): Promise<AwsDestination> {
  requireActive(tenant);
  const partitions = new Set(input.regions.map(partitionOfRegion));
  const [partition] = partitions;
  if (partitions.size !== 1 || partition === undefined) {
    throw new ServiceError(
      'partition_mismatch',
      'body.regions: all regions of a destination must be in one partition',
    );
  }
  if (input.partition !== undefined && input.partition !== partition) {
    throw new ServiceError('partition_mismatch', `body.partition: the regions are in partition ${partition}`);
  }
  const delivery = input.delivery ?? 'role';
  if ((delivery === 'security_lake') !== (input.securityLake !== undefined)) {
    throw new ServiceError(
      'invalid_input',
      delivery === 'security_lake'
        ? 'body.securityLake: required with delivery "security_lake": the lake bucket and the custom source name'
        : 'body.securityLake: only with delivery "security_lake"',
    );
  }
  if (delivery === 'security_lake' && input.regions.length !== 1) {
    throw new ServiceError(
      'invalid_input',
      'body.regions: a Security Lake destination names exactly the one region of its bucket',
    );
  }
  if (delivery === 'partner' && deps.config.partnerProduct === undefined) {
    throw new ServiceError(
      'not_available',
      'body.delivery: this deployment does not offer partner-product mode; register the account with its role (delivery "role")',
    );
  }
  const roleName = input.roleName ?? DEFAULT_ROLE_NAME;
  if (!isCustomerRoleName(roleName)) {
    throw new ServiceError(
      'role_name_not_allowed',
      `body.roleName: must start with ${ROLE_NAME_PREFIX} and use only IAM name characters (Data443's worker may assume only those roles)`,
    );
  }
  try {
    return await deps.db.transaction(async (tx) => {
      await assertRoomForDestination(tx, tenant.id);
      const [inserted] = await tx
        .insert(awsDestinations)
        .values({
          tenantId: tenant.id,
          accountId: input.accountId,
          regions: input.regions,
          roleName,
          agentIds: input.agentIds ?? null,
          externalId: newExternalId(),
          delivery,
          securityLakeBucket: input.securityLake?.bucket ?? null,
          securityLakeSource: input.securityLake?.sourceName ?? null,
        })
        .returning();
      if (inserted === undefined) throw new Error('insert into aws_destinations returned no row');
      await audit(tx, actor, {
        tenantId: tenant.id,
        action: 'destination.created',
        target: inserted.id,
        details: {
          accountId: inserted.accountId,
          regions: inserted.regions,
          roleName,
          agentIds: inserted.agentIds,
          delivery,
          ...(input.securityLake === undefined ? {} : { securityLake: input.securityLake }),
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
      throw new ServiceError(
        'conflict',
        `a destination for account ${input.accountId} already exists; delete it first`,
      );
    }
    throw err;
  }
}

/** Removes a destination and its streams (findings already in Security Hub stay there). */
export async function deleteDestination(
  deps: Pick<ApiDeps, 'db'>,
  actor: Actor,
  tenant: Tenant,
  destinationId: string,
): Promise<void> {
  requireActive(tenant);
  const removed = await deps.db.transaction(async (tx) => {
    const [row] = await tx
      .delete(awsDestinations)
      .where(ofTenant(tenant.id, destinationId))
      .returning({ id: awsDestinations.id, accountId: awsDestinations.accountId });
    if (row === undefined) return false;
    await audit(tx, actor, {
      tenantId: tenant.id,
      action: 'destination.deleted',
      target: row.id,
      details: { accountId: row.accountId },
    });
    return true;
  });
  if (!removed) throw notFound();
}

/** What `updateDestinationRouting` changes; an omitted field keeps its value. */
export interface DestinationRoutingInput {
  agentIds?: string[] | null | undefined;
  regions?: string[] | undefined;
}

/**
 * Changes which agents and regions a destination receives, then re-syncs the tenant's streams (new
 * routes enabled, dropped ones disabled, never deleted). A region added to a verified destination sends
 * it back to `pending`: Security Hub was checked only in the old regions, so it is verified again first.
 */
export async function updateDestinationRouting(
  deps: Pick<ApiDeps, 'db'>,
  actor: Actor,
  tenant: Tenant,
  destinationId: string,
  input: DestinationRoutingInput,
): Promise<AwsDestination> {
  requireActive(tenant);
  return deps.db.transaction(async (tx) => {
    const current = await findDestination(tx, tenant.id, destinationId);
    const changes: Partial<Pick<AwsDestination, 'agentIds' | 'regions' | 'state'>> = {};
    if (input.agentIds !== undefined) changes.agentIds = input.agentIds;
    if (input.regions !== undefined) {
      const partition = partitionOf(current);
      if (input.regions.some((region) => partitionOf({ regions: [region] }) !== partition)) {
        throw new ServiceError(
          'partition_mismatch',
          `body.regions: the destination is in partition ${partition}; register another destination for another partition`,
        );
      }
      changes.regions = input.regions;
      const added = input.regions.some((region) => !current.regions.includes(region));
      if (added && current.state !== 'pending' && current.state !== 'disabled') changes.state = 'pending';
    }
    const [updated] = await tx
      .update(awsDestinations)
      .set(changes)
      .where(ofTenant(tenant.id, current.id))
      .returning();
    if (updated === undefined) throw notFound();
    const streams = await syncStreams(tx, tenant.id);
    await audit(tx, actor, {
      tenantId: tenant.id,
      action: 'destination.routing_updated',
      target: updated.id,
      details: {
        ...(input.agentIds === undefined ? {} : { agentIds: updated.agentIds }),
        ...(input.regions === undefined ? {} : { regions: updated.regions }),
        ...(changes.state === undefined ? {} : { state: changes.state }),
        streams,
      },
    });
    return updated;
  });
}

/** What `setDestinationHeartbeat` takes: the body of PUT .../destinations/{destinationId}/heartbeat. */
export const destinationHeartbeatSchema = z.strictObject({
  enabled: z.boolean().meta({
    description:
      "true: the connector imports a heartbeat finding into each of this account's hubs at most once an hour, so a SOC can alert when it goes stale; false: it stops and archives the heartbeat finding.",
  }),
});

/**
 * Turns a destination's heartbeat finding on or off (ADR 0118). The worker reads it on the next run:
 * on imports the heartbeat then, off archives it once. Audit-logged when it changes.
 */
export async function setDestinationHeartbeat(
  deps: Pick<ApiDeps, 'db'>,
  actor: Actor,
  tenant: Tenant,
  destinationId: string,
  input: z.infer<typeof destinationHeartbeatSchema>,
): Promise<AwsDestination> {
  requireActive(tenant);
  return deps.db.transaction(async (tx) => {
    const current = await findDestination(tx, tenant.id, destinationId);
    if (current.heartbeatEnabled === input.enabled) return current;
    const [updated] = await tx
      .update(awsDestinations)
      .set({ heartbeatEnabled: input.enabled })
      .where(ofTenant(tenant.id, current.id))
      .returning();
    if (updated === undefined) throw notFound();
    await audit(tx, actor, {
      tenantId: tenant.id,
      action: 'destination.heartbeat_updated',
      target: updated.id,
      details: { heartbeatEnabled: updated.heartbeatEnabled },
    });
    return updated;
  });
}

/** The outcome of a verification: every check, and the destination after them. */
export interface RoleVerification {
  verified: boolean;
  checks: CheckResult[];
  destination: AwsDestination;
}

/** The parsed ARN of a role the destination may use, or the refusal of a role in the wrong place. */
function acceptedRole(destination: AwsDestination, roleArn: string) {
  const arn = parseRoleArn(roleArn);
  if (arn === null) throw new ServiceError('invalid_input', 'body.roleArn: must be an IAM role ARN');
  if (arn.accountId !== destination.accountId) {
    throw new ServiceError(
      'account_mismatch',
      `body.roleArn: the role is in account ${arn.accountId}, but this destination is account ${destination.accountId}`,
    );
  }
  const partition = partitionOf(destination);
  if (arn.partition !== partition) {
    throw new ServiceError(
      'partition_mismatch',
      `body.roleArn: the destination's regions are in partition ${partition}`,
    );
  }
  if (!isCustomerRoleName(arn.roleName)) {
    throw new ServiceError(
      'role_name_not_allowed',
      `body.roleArn: the role name must start with ${ROLE_NAME_PREFIX} (Data443's worker may assume only those roles)`,
    );
  }
  return arn;
}

/**
 * Verifies a destination of a tenant and records the outcome: its customer role (`roleArn`), or in
 * partner-product mode (ADR 0121, no role) whether each region's hub accepts Data443's product.
 */
export async function verifyDestination(
  deps: Pick<ApiDeps, 'db' | 'clock' | 'verifier' | 'config'>,
  actor: Actor,
  tenant: Tenant,
  destinationId: string,
  roleArn: string | undefined,
): Promise<RoleVerification> {
  requireActive(tenant);
  const destination = await findDestination(deps.db, tenant.id, destinationId);
  if (destination.delivery === 'partner') {
    if (roleArn !== undefined) {
      throw new ServiceError(
        'invalid_input',
        'body.roleArn: this account is in partner-product mode and has no role; verify it without one',
      );
    }
    return verifyPartnerDestination(deps, actor, tenant, destination);
  }
  if (roleArn === undefined) {
    throw new ServiceError('invalid_input', "body.roleArn: required: the role the customer's stack created");
  }
  return verifyRole(deps, actor, tenant, destination, roleArn);
}

/** Partner-product mode (ADR 0121): the delivery check in every region; records the outcome like a role's. */
async function verifyPartnerDestination(
  deps: Pick<ApiDeps, 'db' | 'clock' | 'verifier' | 'config'>,
  actor: Actor,
  tenant: Tenant,
  destination: AwsDestination,
): Promise<RoleVerification> {
  const product = deps.config.partnerProduct;
  const partition = partitionOfRegion(destination.regions[0] ?? '');
  if (product === undefined || deps.verifier.verifyPartner === undefined || partition === undefined) {
    throw new ServiceError(
      'not_available',
      'this deployment does not offer partner-product mode any more: register the account with its role',
    );
  }
  const result = await deps.verifier.verifyPartner({
    tenantId: tenant.id,
    destinationId: destination.id,
    accountId: destination.accountId,
    partition,
    product,
    regions: destination.regions,
  });
  return recordVerification(deps, actor, tenant, destination, result, {});
}

/**
 * Verifies a customer role for a destination of a tenant and records the outcome. Failed checks are
 * data; a role in the wrong account, partition or name throws, as does a destination in partner-product mode.
 */
export async function verifyDestinationRole(
  deps: Pick<ApiDeps, 'db' | 'clock' | 'verifier'>,
  actor: Actor,
  tenant: Tenant,
  destinationId: string,
  roleArn: string,
): Promise<RoleVerification> {
  requireActive(tenant);
  const destination = await findDestination(deps.db, tenant.id, destinationId);
  if (destination.delivery === 'partner') {
    throw new ServiceError(
      'invalid_input',
      'body.roleArn: this account is in partner-product mode and has no role; verify it without one',
    );
  }
  return verifyRole(deps, actor, tenant, destination, roleArn);
}

async function verifyRole(
  deps: Pick<ApiDeps, 'db' | 'clock' | 'verifier'>,
  actor: Actor,
  tenant: Tenant,
  destination: AwsDestination,
  roleArn: string,
): Promise<RoleVerification> {
  const arn = acceptedRole(destination, roleArn);
  const result = await deps.verifier.verify({
    tenantId: tenant.id,
    destinationId: destination.id,
    roleArn,
    externalId: destination.externalId,
    regions: destination.regions,
    ...(destination.securityLakeBucket === null || destination.securityLakeSource === null
      ? {}
      : {
          securityLake: {
            bucket: destination.securityLakeBucket,
            sourceName: destination.securityLakeSource,
          },
        }),
  });
  return recordVerification(deps, actor, tenant, destination, result, { roleArn, roleName: arn.roleName });
}

/** Stores a verification's outcome (and on success the role it proved, if any) and syncs the streams. */
async function recordVerification(
  deps: Pick<ApiDeps, 'db' | 'clock'>,
  actor: Actor,
  tenant: Tenant,
  destination: AwsDestination,
  result: VerificationResult,
  role: { roleArn?: string; roleName?: string },
): Promise<RoleVerification> {
  const now = deps.clock();
  const verification: DestinationVerification = {
    checkedAt: now.toISOString(),
    ok: result.ok,
    checks: result.checks,
  };
  const updated = await deps.db.transaction(async (tx) => {
    const [row] = await tx
      .update(awsDestinations)
      .set(
        result.ok
          ? {
              state: destination.state === 'active' ? 'active' : 'verified',
              ...role,
              lastVerifiedAt: now,
              lastVerification: verification,
              lastError: null,
              consecutiveFailures: 0,
              firstFailureAt: null,
            }
          : // A failed check never replaces a working role ARN: the worker keeps using the verified one.
            { lastVerification: verification, lastError: summarizeFailure(result) },
      )
      .where(ofTenant(tenant.id, destination.id))
      .returning();
    const streams = result.ok ? await syncStreams(tx, tenant.id) : undefined;
    await audit(tx, actor, {
      tenantId: tenant.id,
      action: 'destination.verified',
      target: destination.id,
      details: {
        ok: result.ok,
        ...(role.roleArn === undefined ? { delivery: destination.delivery } : { roleArn: role.roleArn }),
        failed: result.checks.filter((check) => !check.ok).map((check) => check.code),
        ...(streams === undefined ? {} : { streams }),
      },
    });
    return row;
  });
  if (updated === undefined) throw notFound();
  return { verified: result.ok, checks: result.checks, destination: updated };
}

/**
 * Deploys a destination's customer role into the local stack's emulated AWS account (local mode only),
 * with exactly the parameters the onboarding shows. The caller then verifies the role as usual.
 */
export async function deployRoleLocally(
  deps: Pick<ApiDeps, 'db' | 'config' | 'localAws' | 'logger'>,
  actor: Actor,
  tenant: Tenant,
  destinationId: string,
): Promise<{ roleArn: string }> {
  const port = deps.localAws;
  if (deps.config.mode !== 'local' || port === undefined) {
    throw new ServiceError(
      'not_available',
      'deploying the role from here works only with the local stack; deploy it in your AWS account',
    );
  }
  requireActive(tenant);
  const row = await findDestination(deps.db, tenant.id, destinationId);
  const [region = 'us-east-1'] = row.regions;
  const parameters = {
    ...customerRoleParameterValues({
      externalId: row.externalId,
      data443AccountId: deps.config.data443AccountId,
      workerRoleName: deps.config.workerRoleName,
      roleName: row.roleName,
    }),
  };
  let roleArn: string;
  try {
    ({ roleArn } = await port.deployRole({
      accountId: row.accountId,
      region,
      stackName: DEFAULT_STACK_NAME,
      parameters,
    }));
  } catch (err) {
    deps.logger.error({ requestId: actor.requestId, err }, 'local role deploy failed');
    throw new ServiceError(
      'local_deploy_failed',
      `the local stack could not deploy the role; quote request id ${actor.requestId}`,
      { cause: err },
    );
  }
  await audit(deps.db, actor, {
    tenantId: tenant.id,
    action: 'destination.local_deployed',
    target: row.id,
    details: { accountId: row.accountId, region, roleArn },
  });
  return { roleArn };
}

/** The WHERE clause of one destination of one tenant: every statement names both. */
function ofTenant(tenantId: string, destinationId: string) {
  return and(eq(awsDestinations.id, destinationId), eq(awsDestinations.tenantId, tenantId));
}

function notFound(): ServiceError {
  return new ServiceError('not_found', 'destination not found');
}
