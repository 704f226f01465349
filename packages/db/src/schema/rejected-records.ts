import { sql } from 'drizzle-orm';
import { check, index, integer, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { awsDestinations } from './aws-destinations.ts';
import { idColumn, oneOf, timestamptz } from './columns.ts';
import { runs } from './runs.ts';
import { tenants } from './tenants.ts';

export const rejectionStages = ['parse', 'validate', 'import'] as const;
export type RejectionStage = (typeof rejectionStages)[number];

/**
 * Hard ceiling on the stored size of `raw`, in bytes. Writers bound the record first with `storableRaw`
 * (8 KiB by default); this CHECK is only the backstop that keeps one huge bad record from bloating the table.
 */
export const maxRawTextBytes = 32_768;

/**
 * A record the worker could not turn into a finding, or that Security Hub refused, kept once per stream
 * (`scope`) with its reason and how often it was seen (ADR 0033). `created_at` is when it was first seen.
 */
export const rejectedRecords = pgTable(
  'rejected_records',
  {
    id: idColumn('rej'),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    /**
     * Where the record was rejected, the key it is kept once under: the destination id, `agent:<agentId>`
     * for a record rejected while reading (before any destination), or `tenant` when neither is known.
     * Plain text, not the destination's foreign key, so that deleting a destination never merges rows.
     */
    scope: text('scope').notNull(),
    /** sha256 (base64url) of the record as received, or of a canonical text of it: its identity within the scope. */
    fingerprint: text('fingerprint').notNull(),
    destinationId: text('destination_id').references(() => awsDestinations.id, { onDelete: 'set null' }),
    /** The run that first kept it. */
    runId: text('run_id').references(() => runs.id, { onDelete: 'set null' }),
    /** The latest run that saw it (a backfill seeing it again leaves this as it was). */
    lastRunId: text('last_run_id').references(() => runs.id, { onDelete: 'set null' }),
    actionId: text('action_id'),
    stage: text('stage', { enum: rejectionStages }).notNull(),
    code: text('code').notNull(),
    reason: text('reason').notNull(),
    /** The record as escaped text (JSON, or the reader's own text of it), at most 8 KiB: the start of it when longer. */
    raw: text('raw'),
    /** UTF-8 size of the whole escaped text `raw` starts with; larger than `raw` exactly when it was cut. */
    rawBytes: integer('raw_bytes'),
    /** Why `raw` is empty although the record had content (JSON could not write it, or the database refused it). */
    rawUnstoredReason: text('raw_unstored_reason'),
    /** How many recordings (runs, backfill pages) saw it. */
    occurrences: integer('occurrences').notNull().default(1),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    lastSeenAt: timestamptz('last_seen_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('rejected_records_scope_fingerprint_key').on(t.tenantId, t.scope, t.fingerprint),
    // The list the API and the status page show: newest last-seen first, keyset on (last_seen_at, id); read
    // backwards, an ascending index matches `order by last_seen_at desc, id desc` (ADR 0109).
    index('rejected_records_tenant_last_seen_idx').on(t.tenantId, t.lastSeenAt, t.id),
    // The status window's "kept since" counts per destination (ADR 0109).
    index('rejected_records_tenant_created_idx').on(t.tenantId, t.createdAt),
    // Deleting old runs sets run_id / last_run_id to null here; without these every such delete scans the table.
    index('rejected_records_run_id_idx').on(t.runId),
    index('rejected_records_last_run_id_idx').on(t.lastRunId),
    check('rejected_records_stage_check', oneOf(t.stage, rejectionStages)),
    check(
      'rejected_records_raw_size_check',
      sql`${t.raw} is null or octet_length(${t.raw}) <= ${sql.raw(String(maxRawTextBytes))}`,
    ),
    check(
      'rejected_records_raw_bytes_check',
      sql`(${t.raw} is null) = (${t.rawBytes} is null) and (${t.raw} is null or ${t.rawBytes} >= octet_length(${t.raw}))`,
    ),
    check('rejected_records_occurrences_check', sql`${t.occurrences} >= 1`),
  ],
);

export type RejectedRecord = typeof rejectedRecords.$inferSelect;
export type NewRejectedRecord = typeof rejectedRecords.$inferInsert;
