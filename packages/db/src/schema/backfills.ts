import { sql } from 'drizzle-orm';
import { check, index, integer, pgTable, text } from 'drizzle-orm/pg-core';
import { awsDestinations } from './aws-destinations.ts';
import { idColumn, oneOf, timestamptz } from './columns.ts';
import { tenants } from './tenants.ts';

export const backfillStates = ['queued', 'running', 'done', 'failed'] as const;
export type BackfillState = (typeof backfillStates)[number];

/**
 * An operator's request to re-send one tenant's actions of a time range `[from, to)` (ADR 0095). The
 * worker claims queued rows, sweeps Vaikora down to `from` and imports what qualifies with the same
 * stable finding ids as the regular runs, so a backfill never duplicates a finding; it never moves a
 * stream cursor. The counters are rewritten after every page so a caller can poll the progress.
 */
export const backfills = pgTable(
  'backfills',
  {
    id: idColumn('bkf'),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    /** Only this destination's streams; null: every runnable destination of the tenant. */
    destinationId: text('destination_id').references(() => awsDestinations.id, { onDelete: 'cascade' }),
    fromAt: timestamptz('from_at').notNull(),
    toAt: timestamptz('to_at').notNull(),
    state: text('state', { enum: backfillStates }).notNull().default('queued'),
    workerId: text('worker_id'),
    /** 0 to 100: agents swept, plus how far the current agent's sweep has come down from `to` to `from`. */
    progressPercent: integer('progress_percent').notNull().default(0),
    pages: integer('pages').notNull().default(0),
    actionsRead: integer('actions_read').notNull().default(0),
    /** Read actions whose time falls inside the range. */
    actionsInRange: integer('actions_in_range').notNull().default(0),
    findingsImported: integer('findings_imported').notNull().default(0),
    recordsRejected: integer('records_rejected').notNull().default(0),
    actionsSkipped: integer('actions_skipped').notNull().default(0),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    startedAt: timestamptz('started_at'),
    /** Written with every progress update: a running row not touched for long belongs to a dead worker. */
    heartbeatAt: timestamptz('heartbeat_at'),
    finishedAt: timestamptz('finished_at'),
  },
  (t) => [
    index('backfills_tenant_created_idx').on(t.tenantId, t.createdAt.desc()),
    index('backfills_state_created_idx').on(t.state, t.createdAt),
    check('backfills_state_check', oneOf(t.state, backfillStates)),
    check('backfills_range_check', sql`${t.fromAt} < ${t.toAt}`),
    check(
      'backfills_finished_check',
      sql`(${t.state} in ('done', 'failed')) = (${t.finishedAt} is not null)`,
    ),
    check(
      'backfills_counts_check',
      sql`${t.progressPercent} between 0 and 100 and ${t.pages} >= 0 and ${t.actionsRead} >= 0 and ${t.actionsInRange} >= 0 and ${t.findingsImported} >= 0 and ${t.recordsRejected} >= 0 and ${t.actionsSkipped} >= 0`,
    ),
  ],
);

export type Backfill = typeof backfills.$inferSelect;
export type NewBackfill = typeof backfills.$inferInsert;
