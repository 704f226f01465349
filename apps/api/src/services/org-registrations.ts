import { createHash, randomBytes } from 'node:crypto';
import {
  type AwsDestination,
  awsDestinations,
  type Database,
  type OrgAccount,
  type OrgRegistration,
  orgAccounts,
  orgRegistrations,
  pgErrorCodes,
  pgErrorOf,
  type Tenant,
  tenants,
} from '@vsh/db';
import {
  ACCOUNT_ID_PATTERN,
  DEFAULT_ROLE_NAME,
  isCustomerRoleName,
  parseRoleArn,
  partitionOfRegion,
  ROLE_NAME_PREFIX,
} from '@vsh/role-contract';
import { and, asc, desc, eq, isNull } from 'drizzle-orm';
import { z } from 'zod';
import type { ApiDeps } from '../deps.ts';
import { hashesEqual } from '../lib/api-keys.ts';
import { type Actor, audit } from '../lib/audit.ts';
import { requireActive } from './common.ts';
import {
  assertRoomForDestination,
  deleteDestination,
  regionsSchema,
  verifyDestinationRole,
} from './destinations.ts';
import { ServiceError } from './errors.ts';

// Crockford base32 lower case, as API keys: the lookup part of a token someone copies.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const LOOKUP_CHARS = 12;

/** `vsho_` + 12 lookup characters + `_` + 32 random bytes base64url: an organisation registration token. */
const ORG_TOKEN_PATTERN = /^vsho_[0-9a-hjkmnp-tv-z]{12}_[A-Za-z0-9_-]{43}$/;
const TOKEN_PREFIX_LENGTH = 5 + LOOKUP_CHARS;

/** Length of the ExternalId prefix: with the 12-digit account id it makes a 43-character ExternalId. */
const EXTERNAL_ID_PREFIX_LENGTH = 31;

/** Longest and default lifetime of a registration token, in days. */
const MAX_TOKEN_DAYS = 90;
const DEFAULT_TOKEN_DAYS = 14;
const DAY_MS = 86_400_000;

/** The parameters of infra/customer-role/org-stackset.yaml the API fills in (a test holds them to the file). */
export const ORG_STACKSET_PARAMETERS = {
  registrationToken: 'RegistrationToken',
  registrationUrl: 'RegistrationUrl',
  externalIdPrefix: 'ExternalIdPrefix',
  securityHubRegions: 'SecurityHubRegions',
  data443AccountId: 'Data443AccountId',
  workerRoleName: 'WorkerRoleName',
  roleName: 'RoleName',
} as const;

/** Where the member accounts' custom resource posts (relative to the API's public base URL). */
export const ORG_REGISTRATION_PATH = '/org-registrations/accounts';

/** The ExternalId of one member account registered through a registration: the prefix, then the account id. */
function memberExternalId(externalIdPrefix: string, accountId: string): string {
  return `${externalIdPrefix}${accountId}`;
}

/** What issues an organisation registration token (POST .../org-registration). */
export const issueOrgRegistrationSchema = z.strictObject({
  name: z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters'),
  regions: regionsSchema,
  roleName: z.string().max(64, 'must be at most 64 characters').optional(),
  expiresInDays: z
    .number()
    .int('must be a whole number of days')
    .min(1, 'must be at least 1 day')
    .max(MAX_TOKEN_DAYS, `must be at most ${MAX_TOKEN_DAYS} days`)
    .optional(),
});
export type IssueOrgRegistrationInput = z.infer<typeof issueOrgRegistrationSchema>;

const tokenField = z.string().min(1, 'is required').max(200, 'must be at most 200 characters');
const accountIdField = z.string().regex(ACCOUNT_ID_PATTERN, 'must be a 12-digit AWS account id');

/** The body a member account's custom resource posts to register (Create and Update). */
export const orgAccountRegistrationSchema = z.strictObject({
  registrationToken: tokenField,
  accountId: accountIdField,
  regions: regionsSchema,
  roleArn: z.string().max(2048, 'must be at most 2048 characters'),
});
export type OrgAccountRegistrationInput = z.infer<typeof orgAccountRegistrationSchema>;

/** The body a member account's custom resource posts when its stack instance is deleted. */
export const orgAccountRemovalSchema = z.strictObject({
  registrationToken: tokenField,
  accountId: accountIdField,
});
export type OrgAccountRemovalInput = z.infer<typeof orgAccountRemovalSchema>;

/** A registration as shown to its tenant: never the token's hash. */
export type OrgRegistrationView = Omit<OrgRegistration, 'hash'>;

function viewOf(row: OrgRegistration): OrgRegistrationView {
  const { hash: _hash, ...view } = row;
  return view;
}

function newToken(): { token: string; prefix: string; hash: string } {
  let lookup = '';
  for (const byte of randomBytes(LOOKUP_CHARS)) lookup += ALPHABET[byte & 31];
  const token = `vsho_${lookup}_${randomBytes(32).toString('base64url')}`;
  return { token, prefix: token.slice(0, TOKEN_PREFIX_LENGTH), hash: hashToken(token) };
}

function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * Issues a tenant's organisation registration token (shown once, stored hashed) and revokes the one it
 * replaces: a tenant has at most one live token, so rotating is issuing again (ADR 0119).
 */
export async function issueOrgRegistration(
  deps: Pick<ApiDeps, 'db' | 'clock'>,
  actor: Actor,
  tenant: Tenant,
  input: IssueOrgRegistrationInput,
): Promise<{ registration: OrgRegistrationView; token: string }> {
  requireActive(tenant);
  const partitions = new Set(input.regions.map(partitionOfRegion));
  if (partitions.size !== 1) {
    throw new ServiceError('partition_mismatch', 'body.regions: all regions must be in one partition');
  }
  const roleName = input.roleName ?? DEFAULT_ROLE_NAME;
  if (!isCustomerRoleName(roleName)) {
    throw new ServiceError(
      'role_name_not_allowed',
      `body.roleName: must start with ${ROLE_NAME_PREFIX} and use only IAM name characters`,
    );
  }
  const now = deps.clock();
  const material = newToken();
  const row = await deps.db.transaction(async (tx) => {
    const revoked = await tx
      .update(orgRegistrations)
      .set({ revokedAt: now })
      .where(and(eq(orgRegistrations.tenantId, tenant.id), isNull(orgRegistrations.revokedAt)))
      .returning({ id: orgRegistrations.id });
    const [inserted] = await tx
      .insert(orgRegistrations)
      .values({
        tenantId: tenant.id,
        name: input.name,
        prefix: material.prefix,
        hash: material.hash,
        externalIdPrefix: randomBytes(24).toString('base64url').slice(0, EXTERNAL_ID_PREFIX_LENGTH),
        roleName,
        regions: input.regions,
        expiresAt: new Date(now.getTime() + (input.expiresInDays ?? DEFAULT_TOKEN_DAYS) * DAY_MS),
      })
      .returning();
    if (inserted === undefined) throw new Error('insert into org_registrations returned no row');
    await audit(tx, actor, {
      tenantId: tenant.id,
      action: 'org_registration.issued',
      target: inserted.id,
      details: {
        prefix: inserted.prefix,
        regions: inserted.regions,
        roleName,
        expiresAt: inserted.expiresAt.toISOString(),
        revoked: revoked.map((r) => r.id),
      },
    });
    return inserted;
  });
  return { registration: viewOf(row), token: material.token };
}

/** Revokes the tenant's live token (idempotent); accounts already registered keep their destinations. */
export async function revokeOrgRegistration(
  deps: Pick<ApiDeps, 'db' | 'clock'>,
  actor: Actor,
  tenant: Tenant,
): Promise<{ revoked: string[] }> {
  requireActive(tenant);
  return deps.db.transaction(async (tx) => {
    const rows = await tx
      .update(orgRegistrations)
      .set({ revokedAt: deps.clock() })
      .where(and(eq(orgRegistrations.tenantId, tenant.id), isNull(orgRegistrations.revokedAt)))
      .returning({ id: orgRegistrations.id });
    const revoked = rows.map((row) => row.id);
    if (revoked.length > 0) {
      await audit(tx, actor, {
        tenantId: tenant.id,
        action: 'org_registration.revoked',
        target: revoked[0] ?? null,
        details: { revoked },
      });
    }
    return { revoked };
  });
}

/** The tenant's live registration (unrevoked, newest), or null; expired ones are returned and say so. */
export async function currentOrgRegistration(
  db: Database,
  tenantId: string,
): Promise<OrgRegistrationView | null> {
  const [row] = await db
    .select()
    .from(orgRegistrations)
    .where(and(eq(orgRegistrations.tenantId, tenantId), isNull(orgRegistrations.revokedAt)))
    .orderBy(desc(orgRegistrations.id))
    .limit(1);
  return row === undefined ? null : viewOf(row);
}

/** The tenant's organisation accounts (removed ones too), by account id; bounded like destinations. */
export async function listOrgAccounts(db: Database, tenantId: string): Promise<OrgAccount[]> {
  return db
    .select()
    .from(orgAccounts)
    .where(eq(orgAccounts.tenantId, tenantId))
    .orderBy(asc(orgAccounts.accountId))
    .limit(1000);
}

/**
 * The live registration a presented token belongs to, with its active tenant. Unknown, malformed and
 * revoked tokens are `token_invalid` (401), an expired one `token_expired`; the hash is compared in
 * constant time, and an unknown prefix hashes too so both paths do the same work.
 */
async function redeem(
  deps: Pick<ApiDeps, 'db' | 'clock'>,
  token: string,
): Promise<{ registration: OrgRegistration; tenant: Tenant }> {
  const invalid = () => new ServiceError('token_invalid', 'the registration token is not valid');
  const presentedHash = hashToken(token);
  if (!ORG_TOKEN_PATTERN.test(token)) throw invalid();
  const [found] = await deps.db
    .select({ registration: orgRegistrations, tenant: tenants })
    .from(orgRegistrations)
    .innerJoin(tenants, eq(tenants.id, orgRegistrations.tenantId))
    .where(eq(orgRegistrations.prefix, token.slice(0, TOKEN_PREFIX_LENGTH)))
    .limit(1);
  if (found === undefined || !hashesEqual(presentedHash, found.registration.hash)) throw invalid();
  if (found.registration.revokedAt !== null) {
    throw new ServiceError('token_invalid', 'the registration token was revoked; issue a new one');
  }
  if (deps.clock().getTime() >= found.registration.expiresAt.getTime()) {
    throw new ServiceError(
      'token_expired',
      `the registration token expired at ${found.registration.expiresAt.toISOString()}; issue a new one and update the StackSet`,
    );
  }
  requireActive(found.tenant);
  return found;
}

/** The audit actor of a registration: the token's registration id stands where an API key id would. */
function registrationActor(registration: OrgRegistration, requestId: string): Actor {
  return { principal: { kind: 'tenant', id: registration.id, tenantId: registration.tenantId }, requestId };
}

/** What a registration call answers: the account as stored, and whether this call created it. */
export interface OrgAccountRegistration {
  account: OrgAccount;
  created: boolean;
}

/**
 * Registers one member account with a registration token (the custom resource's Create and Update):
 * makes it a destination of the token's tenant with the account's ExternalId, verifies it at once (assume
 * role, Security Hub in each region) and stores the outcome. Calling again is idempotent: the same
 * destination is verified again (an Update after the customer fixed something). A destination the tenant
 * registered by hand for the same account is left alone (`conflict`).
 */
export async function registerOrgAccount(
  deps: Pick<ApiDeps, 'db' | 'clock' | 'verifier'>,
  requestId: string,
  input: OrgAccountRegistrationInput,
): Promise<OrgAccountRegistration> {
  const { registration, tenant } = await redeem(deps, input.registrationToken);
  const outside = input.regions.filter((region) => !registration.regions.includes(region));
  if (outside.length > 0) {
    throw new ServiceError(
      'invalid_input',
      `body.regions: ${outside.join(', ')} not among the registration's regions (${registration.regions.join(', ')})`,
    );
  }
  const arn = parseRoleArn(input.roleArn);
  if (arn === null) throw new ServiceError('invalid_input', 'body.roleArn: must be an IAM role ARN');
  if (arn.accountId !== input.accountId) {
    throw new ServiceError(
      'account_mismatch',
      `body.roleArn: the role is in account ${arn.accountId}, not ${input.accountId}`,
    );
  }
  if (arn.roleName !== registration.roleName) {
    throw new ServiceError(
      'role_name_not_allowed',
      `body.roleArn: the registration's role is ${registration.roleName}, not ${arn.roleName}`,
    );
  }
  const partition = partitionOfRegion(registration.regions[0] ?? 'us-east-1');
  if (arn.partition !== partition) {
    throw new ServiceError('partition_mismatch', `body.roleArn: the regions are in partition ${partition}`);
  }
  const actor = registrationActor(registration, requestId);
  const externalId = memberExternalId(registration.externalIdPrefix, input.accountId);

  const upsert = () =>
    deps.db.transaction(async (tx) => {
      const [existing] = await tx
        .select({ destination: awsDestinations, account: orgAccounts })
        .from(awsDestinations)
        .leftJoin(
          orgAccounts,
          and(
            eq(orgAccounts.tenantId, awsDestinations.tenantId),
            eq(orgAccounts.destinationId, awsDestinations.id),
          ),
        )
        .where(and(eq(awsDestinations.tenantId, tenant.id), eq(awsDestinations.accountId, input.accountId)))
        .limit(1)
        .for('update', { of: awsDestinations });
      // Ours: registered through an organisation token before, or just now by a concurrent call with this one.
      const ours = existing?.account != null || existing?.destination.externalId === externalId;
      if (existing !== undefined && !ours) {
        throw new ServiceError(
          'conflict',
          `account ${input.accountId} is already a destination of this tenant, registered outside the organisation`,
        );
      }
      if (existing !== undefined) {
        // Same tenant, perhaps a newer token (a rotated ExternalId prefix): the destination follows it.
        const [updated] = await tx
          .update(awsDestinations)
          .set({ externalId, roleName: registration.roleName, regions: input.regions })
          .where(eq(awsDestinations.id, existing.destination.id))
          .returning();
        return { destination: updated ?? existing.destination, created: false };
      }
      await assertRoomForDestination(tx, tenant.id);
      const [inserted] = await tx
        .insert(awsDestinations)
        .values({
          tenantId: tenant.id,
          accountId: input.accountId,
          regions: input.regions,
          roleName: registration.roleName,
          agentIds: null,
          externalId,
        })
        .returning();
      if (inserted === undefined) throw new Error('insert into aws_destinations returned no row');
      await audit(tx, actor, {
        tenantId: tenant.id,
        action: 'destination.created',
        target: inserted.id,
        details: { accountId: inserted.accountId, regions: inserted.regions, registration: registration.id },
      });
      return { destination: inserted, created: true };
    });
  let destination: AwsDestination;
  let created: boolean;
  try {
    ({ destination, created } = await upsert());
  } catch (err) {
    // Two calls for a new account at once: the loser finds the winner's destination on a second look.
    const pg = pgErrorOf(err);
    const raced = ['aws_destinations_tenant_account_unique', 'aws_destinations_external_id_unique'];
    if (pg?.code !== pgErrorCodes.uniqueViolation || !raced.includes(pg.constraint ?? '')) throw err;
    ({ destination, created } = await upsert());
  }

  const verification = await verifyDestinationRole(deps, actor, tenant, destination.id, input.roleArn);
  const account = await recordAccount(deps.db, registration, destination, input, verification);
  return { account, created };
}

async function recordAccount(
  db: Database,
  registration: OrgRegistration,
  destination: AwsDestination,
  input: OrgAccountRegistrationInput,
  verification: Awaited<ReturnType<typeof verifyDestinationRole>>,
): Promise<OrgAccount> {
  const values = {
    registrationId: registration.id,
    destinationId: destination.id,
    roleArn: input.roleArn,
    regions: input.regions,
    state: verification.verified ? ('verified' as const) : ('failed' as const),
    reason: verification.verified ? null : (verification.destination.lastError ?? 'verification failed'),
    lastVerification: verification.destination.lastVerification,
    removedAt: null,
  };
  const [row] = await db
    .insert(orgAccounts)
    .values({ tenantId: registration.tenantId, accountId: input.accountId, ...values })
    .onConflictDoUpdate({ target: [orgAccounts.tenantId, orgAccounts.accountId], set: values })
    .returning();
  if (row === undefined) throw new Error('upsert into org_accounts returned no row');
  return row;
}

/**
 * Removes one member account (the custom resource's Delete): its destination is deleted (findings already
 * imported stay in Security Hub) and the account is kept as `removed`. Only an account of the token's own
 * tenant can be removed; any other answers `not_found`, as an unknown one does.
 */
export async function removeOrgAccount(
  deps: Pick<ApiDeps, 'db' | 'clock'>,
  requestId: string,
  input: OrgAccountRemovalInput,
): Promise<OrgAccount> {
  const { registration, tenant } = await redeem(deps, input.registrationToken);
  const [current] = await deps.db
    .select()
    .from(orgAccounts)
    .where(and(eq(orgAccounts.tenantId, tenant.id), eq(orgAccounts.accountId, input.accountId)))
    .limit(1);
  if (current === undefined) {
    throw new ServiceError(
      'not_found',
      `account ${input.accountId} is not registered with this organisation`,
    );
  }
  if (current.destinationId !== null) {
    try {
      await deleteDestination(
        deps,
        registrationActor(registration, requestId),
        tenant,
        current.destinationId,
      );
    } catch (err) {
      // Deleted by the tenant meanwhile: the account is removed all the same.
      if (!(err instanceof ServiceError && err.code === 'not_found')) throw err;
    }
  }
  const [row] = await deps.db
    .update(orgAccounts)
    .set({ state: 'removed', destinationId: null, removedAt: deps.clock(), reason: null })
    .where(and(eq(orgAccounts.tenantId, tenant.id), eq(orgAccounts.accountId, input.accountId)))
    .returning();
  if (row === undefined) throw new ServiceError('not_found', `account ${input.accountId} is not registered`);
  return row;
}

/** True when a registration can still register accounts at `now`. */
export function isLive(registration: Pick<OrgRegistration, 'revokedAt' | 'expiresAt'>, now: Date): boolean {
  return registration.revokedAt === null && now.getTime() < registration.expiresAt.getTime();
}
