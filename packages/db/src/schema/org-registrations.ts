import { sql } from 'drizzle-orm';
import { check, index, jsonb, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { awsDestinations, type DestinationVerification } from './aws-destinations.ts';
import { idColumn, jsonbArray, oneOf, timestamps, timestamptz } from './columns.ts';
import { tenants } from './tenants.ts';

/**
 * One organisation registration token of a tenant (ADR 0119): the StackSet deployed across an AWS
 * Organization carries it, and each member account's custom resource presents it once to register
 * itself. Only the lookup prefix and the SHA-256 of the whole token are kept, as for API keys. Every
 * account registered with it gets the ExternalId `external_id_prefix || account id` (43 characters),
 * unique per account and tenant because the prefix is unique.
 */
export const orgRegistrations = pgTable(
  'org_registrations',
  {
    id: idColumn('org'),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    prefix: text('prefix').notNull().unique('org_registrations_prefix_unique'),
    hash: text('hash').notNull(),
    externalIdPrefix: text('external_id_prefix')
      .notNull()
      .unique('org_registrations_external_id_prefix_unique'),
    roleName: text('role_name').notNull(),
    regions: jsonb('regions').$type<string[]>().notNull(),
    expiresAt: timestamptz('expires_at').notNull(),
    revokedAt: timestamptz('revoked_at'),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
  },
  (t) => [
    index('org_registrations_tenant_id_idx').on(t.tenantId),
    check('org_registrations_hash_check', sql`${t.hash} ~ '^[0-9a-f]{64}$'`),
    check('org_registrations_external_id_prefix_check', sql`${t.externalIdPrefix} ~ '^[A-Za-z0-9_-]{31}$'`),
    check('org_registrations_role_name_check', sql`${t.roleName} ~ '^[A-Za-z0-9_+=,.@-]{1,64}$'`),
    check(
      'org_registrations_regions_check',
      sql`${jsonbArray(t.regions, 32)} and jsonb_array_length(${t.regions}) >= 1`,
    ),
  ],
);

export const orgAccountStates = ['verified', 'failed', 'removed'] as const;
export type OrgAccountState = (typeof orgAccountStates)[number];

/**
 * One member account that registered through an organisation registration: the destination it became,
 * the outcome of its last verification (per check and region) and, when it failed, why. A removed account
 * (the StackSet instance deleted) keeps its row with `removed_at`; its destination is gone.
 */
export const orgAccounts = pgTable(
  'org_accounts',
  {
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    accountId: text('account_id').notNull(),
    registrationId: text('registration_id')
      .notNull()
      .references(() => orgRegistrations.id, { onDelete: 'cascade' }),
    /** The destination the account became; null once removed (deleting the destination clears it). */
    destinationId: text('destination_id').references(() => awsDestinations.id, { onDelete: 'set null' }),
    roleArn: text('role_arn').notNull(),
    regions: jsonb('regions').$type<string[]>().notNull(),
    state: text('state', { enum: orgAccountStates }).notNull(),
    /** Why the last verification failed (the first failing check), or null. */
    reason: text('reason'),
    lastVerification: jsonb('last_verification').$type<DestinationVerification>(),
    removedAt: timestamptz('removed_at'),
    ...timestamps(),
  },
  (t) => [
    primaryKey({ name: 'org_accounts_pkey', columns: [t.tenantId, t.accountId] }),
    index('org_accounts_registration_id_idx').on(t.registrationId),
    check('org_accounts_account_id_check', sql`${t.accountId} ~ '^[0-9]{12}$'`),
    check('org_accounts_state_check', oneOf(t.state, orgAccountStates)),
    check(
      'org_accounts_regions_check',
      sql`${jsonbArray(t.regions, 32)} and jsonb_array_length(${t.regions}) >= 1`,
    ),
    check('org_accounts_role_arn_check', sql`${t.roleArn} ~ '^arn:aws[a-z-]*:iam::[0-9]{12}:role/'`),
  ],
);

export type OrgRegistration = typeof orgRegistrations.$inferSelect;
export type OrgAccount = typeof orgAccounts.$inferSelect;
