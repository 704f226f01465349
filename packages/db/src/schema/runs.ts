import { sql } from 'drizzle-orm';
import { boolean, check, index, integer, jsonb, pgTable, text } from 'drizzle-orm/pg-core';
import { idColumn, jsonbArray, oneOf, timestamptz } from './columns.ts';
import { tenants } from './tenants.ts';

export const runStatuses = ['running', 'ok', 'partial', 'failed'] as const;
export type RunStatus = (typeof runStatuses)[number];

/** At most this many recently sent findings are kept on a run (a CHECK holds the bound). */
export const maxRecentFindings = 50;

/** One finding a run sent, as the status API shows it. */
export interface RecentFinding {
  id: string;
  title: string;
  severity: string;
  time: string;
  region: string;
}

/**
 * What one run did for one destination (keyed by destination id in `runs.destination_stats`), so the
 * status API can show counts, lag and the last error per destination, not only per tenant.
 */
export interface DestinationRunStats {
  imported: number;
  /** Findings or actions rejected for this destination this run (one per stream, repeats included). */
  rejected: number;
  /** Actions below the tenant's thresholds. */
  skipped: number;
  /**
   * Actions the destination's streams read (once per stream), absent in runs recorded before ADR 0100.
   * `read = alreadySent + otherAgent + skipped + rejected + imported + notSent` holds when present
   * (`otherAgent` absent means 0).
   */
  read?: number;
  /** Actions an earlier run already handled (the overlap window read them again). */
  alreadySent?: number;
  /** Actions that named another agent than the stream's: that agent's own route delivers them (ADR 0098). */
  otherAgent?: number;
  /** Findings not sent yet (Security Hub busy, the run stopped, an import failed): the next run tries again. */
  notSent?: number;
  /** How far behind Vaikora this destination's cursors were when the run ended. */
  lagSeconds?: number | null;
  errorCode?: string | null;
  errorMessage?: string | null;
}

/** One tenant run of the worker: written as `running` when it starts and finished with its counts. */
export const runs = pgTable(
  'runs',
  {
    id: idColumn('run'),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    workerId: text('worker_id'),
    startedAt: timestamptz('started_at').notNull().defaultNow(),
    finishedAt: timestamptz('finished_at'),
    status: text('status', { enum: runStatuses }).notNull().default('running'),
    actionsRead: integer('actions_read').notNull().default(0),
    findingsMapped: integer('findings_mapped').notNull().default(0),
    findingsImported: integer('findings_imported').notNull().default(0),
    actionsSkipped: integer('actions_skipped').notNull().default(0),
    recordsRejected: integer('records_rejected').notNull().default(0),
    throttles: integer('throttles').notNull().default(0),
    lagSeconds: integer('lag_seconds'),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    recentFindings: jsonb('recent_findings').$type<RecentFinding[]>().notNull().default([]),
    /** Per destination id: what this run imported, rejected and skipped there (empty when not recorded). */
    destinationStats: jsonb('destination_stats')
      .$type<Record<string, DestinationRunStats>>()
      .notNull()
      .default({}),
    /**
     * A quiet run (ADR 0136): it took no lease, since it found nothing to write or send, and may overlap
     * another run of the tenant; it is recorded once it ended ok. Every other run held the tenant's lease.
     */
    quiet: boolean('quiet').notNull().default(false),
  },
  (t) => [
    // Ascending on purpose (ADR 0109): drizzle's `.desc()` writes DESC NULLS LAST, which `order by x desc`
    // (NULLS FIRST) cannot use; a plain index read backwards serves it exactly.
    index('runs_tenant_started_idx').on(t.tenantId, t.startedAt),
    // The runs list and the status page's latest runs, newest id first (keyset on id, ADR 0109).
    index('runs_tenant_id_idx').on(t.tenantId, t.id),
    // "Has this tenant ever imported a finding" as one index probe, not a sum over all its runs (ADR 0109).
    index('runs_tenant_imported_idx').on(t.tenantId, t.startedAt).where(sql`${t.findingsImported} > 0`),
    check('runs_status_check', oneOf(t.status, runStatuses)),
    check('runs_finished_check', sql`(${t.status} = 'running') = (${t.finishedAt} is null)`),
    check(
      'runs_counts_check',
      sql`${t.actionsRead} >= 0 and ${t.findingsMapped} >= 0 and ${t.findingsImported} >= 0 and ${t.actionsSkipped} >= 0 and ${t.recordsRejected} >= 0 and ${t.throttles} >= 0`,
    ),
    check('runs_recent_findings_check', jsonbArray(t.recentFindings, maxRecentFindings)),
    check('runs_destination_stats_check', sql`jsonb_typeof(${t.destinationStats}) = 'object'`),
    check('runs_quiet_check', sql`not ${t.quiet} or (${t.status} = 'ok' and ${t.findingsImported} = 0)`),
  ],
);

export type Run = typeof runs.$inferSelect;
export type NewRun = typeof runs.$inferInsert;
