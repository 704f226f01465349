import { sql } from 'drizzle-orm';
import { boolean, check, integer, jsonb, pgTable, text, unique } from 'drizzle-orm/pg-core';
import { idColumn, jsonbArray, oneOf, timestamps, timestamptz } from './columns.ts';
import { tenants } from './tenants.ts';

export const destinationStates = ['pending', 'verified', 'active', 'degraded', 'disabled'] as const;
export type DestinationState = (typeof destinationStates)[number];

/**
 * How findings reach the account (ADR 0121, 0122): `role`, through the cross-account role the customer's
 * stack created, under the account's own default product; `partner`, from Data443's own account under
 * Data443's partner product, after the customer accepted that product's findings (no role);
 * `security_lake`, as OCSF Parquet objects written through the role into the account's Security Lake
 * custom source (`securityLakeBucket`, `securityLakeSource`) instead of Security Hub.
 */
export const destinationDeliveries = ['role', 'partner', 'security_lake'] as const;
export type DestinationDelivery = (typeof destinationDeliveries)[number];

/** One named check of a verification (assume role, Security Hub enabled in a region, import allowed, ...). */
export interface VerificationCheck {
  name: string;
  ok: boolean;
  region?: string;
  code?: string;
  message?: string;
  /** What to do when the check failed, for a person. */
  fix?: string;
}

/** The outcome of the last verification of a destination, kept whole for the status API. */
export interface DestinationVerification {
  checkedAt: string;
  ok: boolean;
  checks: VerificationCheck[];
}

/**
 * One customer AWS account registered by a tenant: where its findings go and how we get in (the role the
 * customer's CloudFormation stack created, trusted with our ExternalId). The ExternalId is unique across
 * all tenants so one tenant can never be handed another's role (the confused-deputy guard).
 */
export const awsDestinations = pgTable(
  'aws_destinations',
  {
    id: idColumn('dst'),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    accountId: text('account_id').notNull(),
    regions: jsonb('regions').$type<string[]>().notNull(),
    /**
     * The Vaikora agents whose actions go to this account; null routes every agent of the tenant's
     * Vaikora settings here. Streams are the intersection with the settings' agents (apps/api streams.ts).
     */
    agentIds: text('agent_ids').array(),
    roleArn: text('role_arn'),
    externalId: text('external_id').notNull().unique('aws_destinations_external_id_unique'),
    roleName: text('role_name').notNull(),
    state: text('state', { enum: destinationStates }).notNull().default('pending'),
    lastVerifiedAt: timestamptz('last_verified_at'),
    lastVerification: jsonb('last_verification').$type<DestinationVerification>(),
    lastError: text('last_error'),
    consecutiveFailures: integer('consecutive_failures').notNull().default(0),
    firstFailureAt: timestamptz('first_failure_at'),
    /**
     * Whether the connector imports a heartbeat finding into this account's hubs at most hourly, so a
     * SOC can alert when it goes stale (ADR 0118). Off unless the tenant turns it on.
     */
    heartbeatEnabled: boolean('heartbeat_enabled').notNull().default(false),
    delivery: text('delivery', { enum: destinationDeliveries }).notNull().default('role'),
    /** The Security Lake bucket of the account's region (`security_lake` delivery only). */
    securityLakeBucket: text('security_lake_bucket'),
    /** The Security Lake custom source's name: objects go under `ext/<name>/` (`security_lake` only). */
    securityLakeSource: text('security_lake_source'),
    ...timestamps(),
  },
  (t) => [
    unique('aws_destinations_tenant_account_unique').on(t.tenantId, t.accountId),
    // Target of the composite foreign key from streams, which keeps a stream inside its tenant.
    unique('aws_destinations_tenant_id_id_unique').on(t.tenantId, t.id),
    check('aws_destinations_account_id_check', sql`${t.accountId} ~ '^[0-9]{12}$'`),
    check(
      'aws_destinations_regions_check',
      sql`${jsonbArray(t.regions)} and jsonb_array_length(${t.regions}) >= 1`,
    ),
    // IAM's own limits: ExternalId 2-1224 of [\w+=,.@:/-], role name 1-64 of [\w+=,.@-].
    // PostgreSQL regexes allow at most 255 repetitions, hence length() for the 1224 bound.
    check(
      'aws_destinations_external_id_check',
      sql`length(${t.externalId}) between 2 and 1224 and ${t.externalId} ~ '^[A-Za-z0-9_+=,.@:/-]+$'`,
    ),
    check('aws_destinations_role_name_check', sql`${t.roleName} ~ '^[A-Za-z0-9_+=,.@-]{1,64}$'`),
    check('aws_destinations_state_check', oneOf(t.state, destinationStates)),
    check('aws_destinations_delivery_check', oneOf(t.delivery, destinationDeliveries)),
    check(
      'aws_destinations_security_lake_check',
      sql`(${t.delivery} = 'security_lake') = (${t.securityLakeBucket} is not null and ${t.securityLakeSource} is not null) and (${t.securityLakeBucket} is null or ${t.securityLakeBucket} ~ '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$') and (${t.securityLakeSource} is null or ${t.securityLakeSource} ~ '^[A-Za-z0-9_.:-]{1,64}$')`,
    ),
    check(
      'aws_destinations_agent_ids_check',
      sql`${t.agentIds} is null or (cardinality(${t.agentIds}) between 1 and 100 and array_position(${t.agentIds}, null) is null)`,
    ),
    check('aws_destinations_consecutive_failures_check', sql`${t.consecutiveFailures} >= 0`),
    check(
      'aws_destinations_role_arn_check',
      sql`${t.roleArn} is null or ${t.roleArn} ~ '^arn:aws[a-z-]*:iam::[0-9]{12}:role/'`,
    ),
  ],
);

export type AwsDestination = typeof awsDestinations.$inferSelect;
export type NewAwsDestination = typeof awsDestinations.$inferInsert;
