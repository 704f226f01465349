import { sql } from 'drizzle-orm';
import { check, index, jsonb, pgTable, text } from 'drizzle-orm/pg-core';
import { awsDestinations } from './aws-destinations.ts';
import { idColumn, oneOf, timestamptz } from './columns.ts';
import { runs } from './runs.ts';
import { tenants } from './tenants.ts';

export const rejectionStages = ['parse', 'validate', 'import'] as const;
export type RejectionStage = (typeof rejectionStages)[number];

/**
 * Hard ceiling on the stored size of `raw`, as Postgres prints it. Writers should bound the record first
 * with `boundRaw` (which uses a smaller budget, measured as JSON.stringify bytes); this CHECK is only the
 * backstop that keeps one huge bad record from bloating the table.
 */
export const maxRawTextBytes = 32_768;

/** A record the worker could not turn into a finding, or that Security Hub refused, kept with its reason. */
export const rejectedRecords = pgTable(
  'rejected_records',
  {
    id: idColumn('rej'),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    destinationId: text('destination_id').references(() => awsDestinations.id, { onDelete: 'set null' }),
    runId: text('run_id').references(() => runs.id, { onDelete: 'set null' }),
    actionId: text('action_id'),
    stage: text('stage', { enum: rejectionStages }).notNull(),
    code: text('code').notNull(),
    reason: text('reason').notNull(),
    raw: jsonb('raw'),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
  },
  (t) => [
    index('rejected_records_tenant_created_idx').on(t.tenantId, t.createdAt.desc()),
    // Deleting old runs sets run_id to null here; without this index every such delete scans the table.
    index('rejected_records_run_id_idx').on(t.runId),
    check('rejected_records_stage_check', oneOf(t.stage, rejectionStages)),
    check(
      'rejected_records_raw_size_check',
      sql`${t.raw} is null or octet_length(${t.raw}::text) <= ${sql.raw(String(maxRawTextBytes))}`,
    ),
  ],
);

export type RejectedRecord = typeof rejectedRecords.$inferSelect;
export type NewRejectedRecord = typeof rejectedRecords.$inferInsert;
