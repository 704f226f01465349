import {
  awsDestinations,
  type Database,
  type DestinationRunStats,
  type DestinationState,
  type RejectedRecord,
  type Run,
  type RunStatus,
  rejectedRecords,
  rowsOf,
  runs,
  streams,
  type Tenant,
  type TenantState,
  tenantSchedules,
  tenants,
  vaikoraSettings,
} from '@vsh/db';
import { and, asc, desc, eq, getTableColumns, gte, type SQL, sql } from 'drizzle-orm';
import type { ApiDeps } from '../deps.ts';
import { type Actor, audit } from '../lib/audit.ts';
import { preparedPer } from '../lib/prepared.ts';
import { iso, requireActive, wakeWorker } from './common.ts';
import { ServiceError } from './errors.ts';
import { type Health, healthFromInputs, noDestinations } from './health.ts';
import { olderThan, type Page, type PageRequest, pageOf } from './pagination.ts';
import { vaikoraConfigured } from './vaikora-settings.ts';

/** The window the status counts cover. */
export const WINDOW_HOURS = 24;

/** A run as the API and the pages show it. */
export interface RunView {
  id: string;
  status: RunStatus;
  startedAt: string;
  finishedAt: string | null;
  /** A quiet run (ADR 0136): it found nothing new to write or send, and took no lease. */
  quiet: boolean;
  actionsRead: number;
  findingsMapped: number;
  findingsImported: number;
  actionsSkipped: number;
  recordsRejected: number;
  throttles: number;
  lagSeconds: number | null;
  errorCode: string | null;
  errorMessage: string | null;
  recentFindings: Run['recentFindings'];
  destinationStats: Run['destinationStats'];
}

/** A run row as the API shows it. */
export function toRun(row: Run): RunView {
  return {
    id: row.id,
    status: row.status,
    startedAt: iso(row.startedAt),
    finishedAt: iso(row.finishedAt),
    quiet: row.quiet,
    actionsRead: row.actionsRead,
    findingsMapped: row.findingsMapped,
    findingsImported: row.findingsImported,
    actionsSkipped: row.actionsSkipped,
    recordsRejected: row.recordsRejected,
    throttles: row.throttles,
    lagSeconds: row.lagSeconds,
    errorCode: row.errorCode,
    errorMessage: row.errorMessage,
    recentFindings: row.recentFindings,
    destinationStats: row.destinationStats,
  };
}

interface Counts {
  imported: number;
  rejected: number;
  skipped: number;
}

/** One destination in a tenant's status: its state, and what the window's runs did there. */
interface DestinationStatus {
  id: string;
  accountId: string;
  regions: string[];
  state: DestinationState;
  lastVerifiedAt: string | null;
  lastError: string | null;
  consecutiveFailures: number;
  streams: number;
  counts: Counts;
  lastRun: { id: string; status: RunStatus; startedAt: string } | null;
  cursorLagSeconds: number | null;
  lastRunError: string | null;
  rejectedRecords: number;
}

/** A tenant's ingestion status (the API's `TenantStatus`). */
export interface TenantStatus {
  tenantId: string;
  state: TenantState;
  windowHours: number;
  schedule: {
    nextRunAt: string;
    runRequestedAt: string | null;
    lastRunStartedAt: string | null;
    lastRunFinishedAt: string | null;
  } | null;
  vaikora: { configured: boolean; verifiedAt: string | null; lastError: string | null };
  lastRun: RunView | null;
  cursorLagSeconds: number | null;
  counts: Counts & { runs: number; failedRuns: number };
  destinations: DestinationStatus[];
}

// At one run a minute, a day is 1,440 runs; the cap bounds the work if a worker misbehaves.
const MAX_WINDOW_RUNS = 2_000;

/** What the window's runs did for one destination: counts, and its latest run's stats. */
interface DestinationActivityRow {
  imported: string | number | null;
  rejected: string | number | null;
  skipped: string | number | null;
}
interface DestinationLatestRow {
  id: string;
  status: RunStatus;
  startedAt: string;
  stats: Partial<DestinationRunStats> | null;
}

/** A destination's counts, latest run, lag and error, as the window's per-destination stats sum them. */
function destinationActivity(
  activity: DestinationActivityRow | null,
  latest: DestinationLatestRow | null,
): Pick<DestinationStatus, 'counts' | 'lastRun' | 'cursorLagSeconds' | 'lastRunError'> {
  const error = latest?.stats?.errorCode ?? null;
  return {
    counts: {
      imported: Number(activity?.imported ?? 0),
      rejected: Number(activity?.rejected ?? 0),
      skipped: Number(activity?.skipped ?? 0),
    },
    lastRun:
      latest === null
        ? null
        : { id: latest.id, status: latest.status, startedAt: new Date(latest.startedAt).toISOString() },
    cursorLagSeconds: latest?.stats?.lagSeconds ?? null,
    lastRunError: error === null ? null : `${error}: ${latest?.stats?.errorMessage ?? ''}`.trim(),
  };
}

/** A tenant's status and health (ADR 0100), read once for the API and the status page. */
export interface StatusFacts {
  status: TenantStatus;
  health: Health;
}

const tenantParam = sql.placeholder('tenantId');
// ISO strings cast by PostgreSQL: drizzle does not encode a Date bound to a placeholder.
const sinceParam = sql`${sql.placeholder('since')}::timestamptz`;
// Columns of the outer row by name: inside sql`` in a select list drizzle writes columns without their
// table, so `${runs.tenantId} = ${tenants.id}` would compare two columns of runs.
const DESTINATION_ID = sql.raw('"aws_destinations"."id"');

/**
 * The tenant's single facts in one row: its schedule, its Vaikora settings, the lag of its latest finished
 * run (by start: a few entries of runs(tenant_id, started_at), where ordering by finished_at sorted every
 * run), whether any run ever imported a finding (a scalar subquery ordered as runs_tenant_imported_idx
 * is, so the planner walks that index: an EXISTS drops its ORDER BY and LIMIT, and its plan may then scan
 * all runs for the first match) and the window's counts summed by PostgreSQL over one range of
 * runs(tenant_id, started_at), newest MAX_WINDOW_RUNS at most.
 */
const tenantFacts = preparedPer((db) => {
  const capped = db
    .select({
      status: runs.status,
      findingsImported: runs.findingsImported,
      recordsRejected: runs.recordsRejected,
      actionsSkipped: runs.actionsSkipped,
    })
    .from(runs)
    .where(and(eq(runs.tenantId, tenants.id), gte(runs.startedAt, sinceParam)))
    .orderBy(desc(runs.startedAt))
    .limit(MAX_WINDOW_RUNS)
    .as('capped');
  const window = db
    .select({
      runs: sql<number>`count(*)::int`.as('runs'),
      failedRuns: sql<number>`(count(*) filter (where ${capped.status} = 'failed'))::int`.as('failed_runs'),
      imported: sql<string | null>`sum(${capped.findingsImported})`.as('imported'),
      rejected: sql<string | null>`sum(${capped.recordsRejected})`.as('rejected'),
      skipped: sql<string | null>`sum(${capped.actionsSkipped})`.as('skipped'),
    })
    .from(capped)
    .as('window');
  return db
    .select({
      nextRunAt: tenantSchedules.nextRunAt,
      runRequestedAt: tenantSchedules.runRequestedAt,
      lastRunStartedAt: tenantSchedules.lastRunStartedAt,
      lastRunFinishedAt: tenantSchedules.lastRunFinishedAt,
      vaikoraTenant: vaikoraSettings.tenantId,
      verifiedAt: vaikoraSettings.verifiedAt,
      lastError: vaikoraSettings.lastError,
      pollIntervalSeconds: vaikoraSettings.pollIntervalSeconds,
      lastFinishedLag: sql<number | null>`(select r.lag_seconds from ${runs} r
        where r.tenant_id = ${tenantParam} and r.finished_at is not null
        order by r.started_at desc limit 1)`,
      importedAny: sql<boolean>`coalesce((select true from ${runs} r
        where r.tenant_id = ${tenantParam} and r.findings_imported > 0
        order by r.started_at desc limit 1), false)`,
      window: {
        runs: window.runs,
        failedRuns: window.failedRuns,
        imported: window.imported,
        rejected: window.rejected,
        skipped: window.skipped,
      },
    })
    .from(tenants)
    .leftJoin(tenantSchedules, eq(tenantSchedules.tenantId, tenants.id))
    .leftJoin(vaikoraSettings, eq(vaikoraSettings.tenantId, tenants.id))
    .innerJoinLateral(window, sql`true`)
    .where(eq(tenants.id, tenantParam))
    .limit(1)
    .prepare('status_tenant_facts');
});

/** The tenant's latest run by start: a `limit 1` walk of runs(tenant_id, started_at). */
const latestRun = preparedPer((db) =>
  db
    .select()
    .from(runs)
    .where(eq(runs.tenantId, tenantParam))
    .orderBy(desc(runs.startedAt))
    .limit(1)
    .prepare('status_latest_run'),
);

/**
 * Each destination with its enabled streams, the records kept for it in the window, and what the window's
 * runs did for it, summed by PostgreSQL from `runs.destination_stats` (the newest MAX_WINDOW_RUNS runs of
 * the range that name it) with the stats of the latest of them.
 */
const destinationFacts = preparedPer((db) =>
  db
    .select({
      ...getTableColumns(awsDestinations),
      streams: sql<number>`(select count(*)::int from ${streams} st
        where st.destination_id = ${DESTINATION_ID} and st.enabled)`,
      rejectedRecords: sql<number>`(select count(*)::int from ${rejectedRecords} rr
        where rr.tenant_id = ${tenantParam}
          and rr.created_at >= ${sinceParam}
          and rr.destination_id = ${DESTINATION_ID})`,
      activity: sql<DestinationActivityRow | null>`(select jsonb_build_object(
          'imported', sum((r.stats->>'imported')::bigint),
          'rejected', sum((r.stats->>'rejected')::bigint),
          'skipped', sum((r.stats->>'skipped')::bigint))
        from (select r.destination_stats -> ${DESTINATION_ID} as stats from ${runs} r
          where r.tenant_id = ${tenantParam} and r.started_at >= ${sinceParam}
            and r.destination_stats ? ${DESTINATION_ID}
          order by r.started_at desc limit ${sql.raw(String(MAX_WINDOW_RUNS))}) r)`,
      latest: sql<DestinationLatestRow | null>`(select jsonb_build_object('id', r.id, 'status', r.status,
          'startedAt', r.started_at, 'stats', r.destination_stats -> ${DESTINATION_ID})
        from ${runs} r
        where r.tenant_id = ${tenantParam} and r.started_at >= ${sinceParam}
          and r.destination_stats ? ${DESTINATION_ID}
        order by r.started_at desc limit 1)`,
    })
    .from(awsDestinations)
    .where(eq(awsDestinations.tenantId, tenantParam))
    .orderBy(asc(awsDestinations.id))
    .prepare('status_destinations'),
);

/**
 * A tenant's status and health in three prepared statements whatever its history (ADR 0109, 0113): every
 * count is summed by PostgreSQL over one index range of the window, so the answer's cost does not grow
 * with the tenant's runs (it read and parsed up to 2,000 rows of JSON before).
 */
export async function statusFacts(deps: Pick<ApiDeps, 'db' | 'clock'>, tenant: Tenant): Promise<StatusFacts> {
  const now = deps.clock();
  const params = {
    tenantId: tenant.id,
    since: new Date(now.getTime() - WINDOW_HOURS * 3_600_000).toISOString(),
  };
  const [[facts], [lastRun], destinations] = await Promise.all([
    tenantFacts(deps.db).execute(params),
    latestRun(deps.db).execute({ tenantId: tenant.id }),
    destinationFacts(deps.db).execute(params),
  ]);
  const schedule = facts?.nextRunAt == null ? undefined : { ...facts, nextRunAt: facts.nextRunAt };
  const vaikora =
    facts?.vaikoraTenant == null || facts.pollIntervalSeconds === null
      ? undefined
      : {
          verifiedAt: facts.verifiedAt,
          lastError: facts.lastError,
          pollIntervalSeconds: facts.pollIntervalSeconds,
        };
  const window = facts?.window;
  const counts = {
    runs: window?.runs ?? 0,
    failedRuns: window?.failedRuns ?? 0,
    imported: Number(window?.imported ?? 0),
    rejected: Number(window?.rejected ?? 0),
    skipped: Number(window?.skipped ?? 0),
  };
  const destinationStates = noDestinations();
  for (const row of destinations) destinationStates[row.state]++;
  const health = healthFromInputs(
    tenant,
    {
      destinations: destinationStates,
      vaikora,
      lastRun,
      failedRuns24h: counts.failedRuns,
      firstFindingImported: facts?.importedAny === true,
    },
    now,
  );
  const status: TenantStatus = {
    tenantId: tenant.id,
    state: tenant.state,
    windowHours: WINDOW_HOURS,
    schedule:
      schedule === undefined
        ? null
        : {
            nextRunAt: iso(schedule.nextRunAt),
            runRequestedAt: iso(schedule.runRequestedAt),
            lastRunStartedAt: iso(schedule.lastRunStartedAt),
            lastRunFinishedAt: iso(schedule.lastRunFinishedAt),
          },
    vaikora: {
      configured: vaikora !== undefined,
      verifiedAt: iso(vaikora?.verifiedAt ?? null),
      lastError: vaikora?.lastError ?? null,
    },
    lastRun: lastRun === undefined ? null : toRun(lastRun),
    cursorLagSeconds: facts?.lastFinishedLag ?? null,
    counts,
    destinations: destinations.map((row) => ({
      id: row.id,
      accountId: row.accountId,
      regions: row.regions,
      state: row.state,
      lastVerifiedAt: iso(row.lastVerifiedAt),
      lastError: row.lastError,
      consecutiveFailures: row.consecutiveFailures,
      streams: row.streams,
      ...destinationActivity(row.activity, row.latest),
      rejectedRecords: row.rejectedRecords,
    })),
  };
  return { status, health };
}

/** One hour of a tenant's runs, as the status page's activity chart shows it. */
export interface ActivityHour {
  hourStart: Date;
  runs: number;
  imported: number;
  rejected: number;
  maxLagSeconds: number | null;
}

const hourlyRuns = preparedPer((db) =>
  db
    .select({
      hourStartMs:
        sql<string>`(extract(epoch from date_trunc('hour', ${runs.startedAt}, 'UTC')) * 1000)::bigint`.as(
          'hour_start_ms',
        ),
      runs: sql<number>`count(*)::int`.as('runs'),
      imported: sql<string | null>`sum(${runs.findingsImported})`.as('imported'),
      rejected: sql<string | null>`sum(${runs.recordsRejected})`.as('rejected'),
      maxLagSeconds: sql<number | null>`max(${runs.lagSeconds})`.as('max_lag_seconds'),
    })
    .from(runs)
    .where(and(eq(runs.tenantId, tenantParam), gte(runs.startedAt, sinceParam)))
    .groupBy(sql`1`)
    .prepare('status_hourly_runs'),
);

/** The tenant's runs since `since` summed per UTC hour by PostgreSQL (one index range, at most 24 rows a day). */
export async function activityHours(db: Database, tenantId: string, since: Date): Promise<ActivityHour[]> {
  const rows = await hourlyRuns(db).execute({ tenantId, since: since.toISOString() });
  return rows.map((row) => ({
    hourStart: new Date(Number(row.hourStartMs)),
    runs: row.runs,
    imported: Number(row.imported ?? 0),
    rejected: Number(row.rejected ?? 0),
    maxLagSeconds: row.maxLagSeconds,
  }));
}

/** A tenant's ingestion status over the last day (GET /status and the status page). */
export async function tenantStatus(
  deps: Pick<ApiDeps, 'db' | 'clock'>,
  tenant: Tenant,
): Promise<TenantStatus> {
  return (await statusFacts(deps, tenant)).status;
}

/**
 * A cheap version of everything the status page's live section shows (ADR 0109): one statement of bounded,
 * indexed lookups (the schedule, the Vaikora settings, the destinations and stream counts, the latest ten
 * runs by id, the newest rejected record). The caller adds what changes with time alone (a minute).
 */
export async function liveVersion(db: Database, tenantId: string): Promise<string> {
  const [row] = rowsOf<{ version: string | null }>(
    await db.execute(sql`select concat_ws('|',
      (select concat_ws(',', s.next_run_at, s.run_requested_at, s.last_run_started_at, s.last_run_finished_at)
        from ${tenantSchedules} s where s.tenant_id = ${tenantId}),
      (select concat_ws(',', v.verified_at, v.last_error, v.poll_interval_seconds, v.updated_at)
        from ${vaikoraSettings} v where v.tenant_id = ${tenantId}),
      (select string_agg(concat_ws(',', d.id, d.state, d.account_id, d.regions, d.last_verified_at, d.last_error,
          d.consecutive_failures, d.updated_at), ';' order by d.id)
        from ${awsDestinations} d where d.tenant_id = ${tenantId}),
      (select concat_ws(',', count(*) filter (where st.enabled), max(st.updated_at))
        from ${streams} st where st.tenant_id = ${tenantId}),
      (select string_agg(concat_ws(',', r.id, r.status, r.finished_at), ';')
        from (select id, status, finished_at from ${runs} where tenant_id = ${tenantId}
              order by id desc limit 10) r),
      (select concat_ws(',', x.id, x.last_seen_at, x.occurrences)
        from (select id, last_seen_at, occurrences from ${rejectedRecords} where tenant_id = ${tenantId}
              order by last_seen_at desc, id desc limit 1) x)
    ) as version`),
  );
  return row?.version ?? '';
}

const CURSOR = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\.(\d{6})Z ([a-z]{3}_[0-9a-hjkmnp-tv-z]{26})$/;

/**
 * The keyset condition after a cursor: rows seen before its (last_seen_at, id). A cursor is the base64url
 * of the last row's last-seen time, to the microsecond as PostgreSQL keeps it, and its id; the time is
 * checked to be a real one here, so a forged cursor is a 400 and never reaches the database's parser.
 */
function seenBefore(cursor: string | undefined): SQL | undefined {
  if (cursor === undefined) return undefined;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = CURSOR.exec(text);
  const [, seconds = '', micros = '', id = ''] = match ?? [];
  const date = new Date(`${seconds}.${micros.slice(0, 3)}Z`);
  if (
    match === null ||
    Buffer.from(text, 'utf8').toString('base64url') !== cursor ||
    Number.isNaN(date.getTime()) ||
    date.toISOString().slice(0, 19) !== seconds
  ) {
    throw new ServiceError('invalid_input', 'query.cursor: is not a cursor this API returned');
  }
  return sql`(${rejectedRecords.lastSeenAt}, ${rejectedRecords.id}) < (${`${seconds}.${micros}Z`}::timestamptz, ${id})`;
}

/**
 * A page of a tenant's rejected records, most recently seen first, after an opaque cursor (the API's and
 * the status page's). Records seen again move to the top; a reader paging meanwhile may miss such a record
 * on the later pages, never sees one twice.
 */
export async function rejectedPage(
  db: Database,
  tenantId: string,
  cursor: string | undefined,
  limit: number,
): Promise<Page<RejectedRecord>> {
  const rows = await db
    .select({
      ...getTableColumns(rejectedRecords),
      seenKey: sql<string>`to_char(${rejectedRecords.lastSeenAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
    })
    .from(rejectedRecords)
    .where(and(eq(rejectedRecords.tenantId, tenantId), seenBefore(cursor)))
    .orderBy(desc(rejectedRecords.lastSeenAt), desc(rejectedRecords.id))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    items: page.map(({ seenKey: _, ...row }) => row),
    nextCursor:
      rows.length > limit && last !== undefined
        ? Buffer.from(`${last.seenKey} ${last.id}`, 'utf8').toString('base64url')
        : null,
  };
}

/** Whether a kept record's raw text is only the start of it. */
export function rawTruncated(row: Pick<RejectedRecord, 'raw' | 'rawBytes'>): boolean {
  return row.raw !== null && row.rawBytes !== null && row.rawBytes > Buffer.byteLength(row.raw, 'utf8');
}

/** A page of a tenant's runs, newest first. */
export async function listRuns(db: Database, tenantId: string, page: PageRequest): Promise<Page<Run>> {
  const rows = await db
    .select()
    .from(runs)
    .where(and(eq(runs.tenantId, tenantId), olderThan(runs.id, page.cursor)))
    .orderBy(desc(runs.id))
    .limit(page.limit + 1);
  return pageOf(rows, page.limit);
}

/** Records "run now" for a tenant and wakes the worker; returns when it was asked for. */
export async function requestRun(
  deps: Pick<ApiDeps, 'db' | 'clock' | 'onRunNow' | 'logger'>,
  actor: Actor,
  tenant: Tenant,
): Promise<Date> {
  requireActive(tenant);
  const now = deps.clock();
  await deps.db.transaction(async (tx) => {
    if (!(await vaikoraConfigured(tx, tenant.id))) {
      throw new ServiceError('not_configured', 'set the Vaikora connection before asking for a run');
    }
    await tx
      .insert(tenantSchedules)
      .values({ tenantId: tenant.id, nextRunAt: now, runRequestedAt: now })
      .onConflictDoUpdate({
        target: tenantSchedules.tenantId,
        set: { nextRunAt: now, runRequestedAt: now },
      });
    await audit(tx, actor, {
      tenantId: tenant.id,
      action: 'tenant.run_requested',
      target: tenant.id,
    });
  });
  await wakeWorker(deps, actor, tenant.id);
  return now;
}
