import { boolean, index, integer, jsonb, pgTable, text } from 'drizzle-orm/pg-core';
import { timestamptz } from './columns.ts';
import { tenants } from './tenants.ts';

/**
 * When each tenant is next due. A row exists while the tenant should be polled; offboarding or pausing
 * deletes it. Kept apart from `tenants` because the worker rewrites it on every run (every few minutes for
 * every tenant), and a narrow row with a single index keeps that churn off the tenant row and its indexes.
 *
 * Finding due tenants is one index range scan, cheap at 10,000 tenants:
 *   select tenant_id from tenant_schedules where next_run_at <= now() order by next_run_at limit 100
 *   for update skip locked
 * "Run now" sets `run_requested_at` and pulls `next_run_at` to now; the worker clears the request when
 * it starts the run.
 */
export const tenantSchedules = pgTable(
  'tenant_schedules',
  {
    tenantId: text('tenant_id')
      .primaryKey()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    nextRunAt: timestamptz('next_run_at').notNull().defaultNow(),
    runRequestedAt: timestamptz('run_requested_at'),
    lastRunStartedAt: timestamptz('last_run_started_at'),
    lastRunFinishedAt: timestamptz('last_run_finished_at'),
    // The last run ended ok having written and sent nothing (ADR 0136): the next first tries without the lease.
    lastRunQuiet: boolean('last_run_quiet').notNull().default(false),
    // The tenant's state as its last quiet run found it (ADR 0137: the worker's StateSnapshot, checked
    // when read); cleared when a run under the lease starts, which also counts it in `lease_runs`: a
    // quiet run keeps its state only when the count has not moved since it loaded the tenant.
    quietState: jsonb('quiet_state'),
    leaseRuns: integer('lease_runs').notNull().default(0),
    updatedAt: timestamptz('updated_at')
      .notNull()
      .defaultNow()
      .$onUpdate(() => new Date()),
  },
  (t) => [index('tenant_schedules_next_run_at_idx').on(t.nextRunAt)],
);

export type TenantSchedule = typeof tenantSchedules.$inferSelect;
export type NewTenantSchedule = typeof tenantSchedules.$inferInsert;
