import { sql } from 'drizzle-orm';
import { check, index, integer, jsonb, pgTable, text } from 'drizzle-orm/pg-core';
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
  },
  (t) => [
    index('runs_tenant_started_idx').on(t.tenantId, t.startedAt.desc()),
    check('runs_status_check', oneOf(t.status, runStatuses)),
    check('runs_finished_check', sql`(${t.status} = 'running') = (${t.finishedAt} is null)`),
    check(
      'runs_counts_check',
      sql`${t.actionsRead} >= 0 and ${t.findingsMapped} >= 0 and ${t.findingsImported} >= 0 and ${t.actionsSkipped} >= 0 and ${t.recordsRejected} >= 0 and ${t.throttles} >= 0`,
    ),
    check('runs_recent_findings_check', jsonbArray(t.recentFindings, maxRecentFindings)),
  ],
);

export type Run = typeof runs.$inferSelect;
export type NewRun = typeof runs.$inferInsert;
