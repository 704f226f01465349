import { sql } from 'drizzle-orm';
import { check, index, pgTable, text } from 'drizzle-orm/pg-core';
import { idColumn, oneOf, timestamps, timestamptz } from './columns.ts';

export const tenantStates = ['active', 'offboarded'] as const;
export type TenantState = (typeof tenantStates)[number];

/** A customer of the hosted connector. Offboarding is a state change, never a delete: runs and audit keep referring to it. */
export const tenants = pgTable(
  'tenants',
  {
    id: idColumn('ten'),
    name: text('name').notNull(),
    state: text('state', { enum: tenantStates }).notNull().default('active'),
    plan: text('plan').notNull().default('standard'),
    ...timestamps(),
    offboardedAt: timestamptz('offboarded_at'),
  },
  (t) => [
    // The operator overview pages through tenants by name (keyset on name, id; ADR 0109).
    index('tenants_name_idx').on(t.name, t.id),
    check('tenants_state_check', oneOf(t.state, tenantStates)),
    check('tenants_offboarded_at_check', sql`(${t.state} = 'offboarded') = (${t.offboardedAt} is not null)`),
    check('tenants_name_check', sql`length(${t.name}) between 1 and 200`),
  ],
);

export type Tenant = typeof tenants.$inferSelect;
export type NewTenant = typeof tenants.$inferInsert;
