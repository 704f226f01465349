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

/** A run of the status window, with what the counts, the destinations and the activity chart need. */
export interface WindowRun {
  id: string;
  status: RunStatus;
  startedAt: Date;
  findingsImported: number;
  recordsRejected: number;
  actionsSkipped: number;
  lagSeconds: number | null;
  destinationStats: Record<string, DestinationRunStats>;
}

/** A destination's counts, latest run, lag and error, from the per-destination stats of the window's runs (newest first). */
function destinationActivity(windowRuns: WindowRun[], destinationId: string) {
  const counts = { imported: 0, rejected: 0, skipped: 0 };
  let latest: { run: WindowRun; stats: DestinationRunStats } | undefined;
  for (const run of windowRuns) {
    const stats = run.destinationStats[destinationId];
    if (stats === undefined) continue;
    counts.imported += stats.imported;
    counts.rejected += stats.rejected;
    counts.skipped += stats.skipped;
    latest ??= { run, stats };
  }
  const error = latest?.stats.errorCode ?? null;
  return {
    counts,
    lastRun:
      latest === undefined
        ? null
        : { id: latest.run.id, status: latest.run.status, startedAt: latest.run.startedAt.toISOString() },
    cursorLagSeconds: latest?.stats.lagSeconds ?? null,
    lastRunError: error === null ? null : `${error}: ${latest?.stats.errorMessage ?? ''}`.trim(),
  };
}

/** The tenant-wide counts of the window's runs. */
function windowCounts(windowRuns: WindowRun[]): TenantStatus['counts'] {
  const counts = { runs: windowRuns.length, failedRuns: 0, imported: 0, rejected: 0, skipped: 0 };
  for (const run of windowRuns) {
    if (run.status === 'failed') counts.failedRuns++;
    counts.imported += run.findingsImported;
    counts.rejected += run.recordsRejected;
    counts.skipped += run.actionsSkipped;
  }
  return counts;
}

/** A tenant's status, its health (ADR 0100) and the window's runs, read once for the status page. */
export interface StatusFacts {
  status: TenantStatus;
  health: Health;
  /** The runs that started in the last `windowHours`, newest first (at most MAX_WINDOW_RUNS). */
  windowRuns: WindowRun[];
}

/**
 * A tenant's status and health in four bounded, indexed statements whatever its history (ADR 0109): the
 * latest runs are `limit 1` walks of runs(tenant_id, started_at), the counts one range of it over the
 * window, "ever imported a finding" one probe of a partial index.
 */
export async function statusFacts(deps: Pick<ApiDeps, 'db' | 'clock'>, tenant: Tenant): Promise<StatusFacts> {
  const now = deps.clock();
  const since = new Date(now.getTime() - WINDOW_HOURS * 3_600_000);
  const sinceIso = since.toISOString();
  const [[facts], [lastRun], destinations, windowRuns] = await Promise.all([
    // One row of the tenant's single facts: its schedule, its Vaikora settings, the lag of its latest
    // finished run (by start: a few entries of runs(tenant_id, started_at), where ordering by finished_at
    // sorted every run) and whether any run ever imported a finding (one probe of the partial index).
    deps.db
      .select({
        nextRunAt: tenantSchedules.nextRunAt,
        runRequestedAt: tenantSchedules.runRequestedAt,
        lastRunStartedAt: tenantSchedules.lastRunStartedAt,
        lastRunFinishedAt: tenantSchedules.lastRunFinishedAt,
        vaikoraTenant: vaikoraSettings.tenantId,
        verifiedAt: vaikoraSettings.verifiedAt,
        lastError: vaikoraSettings.lastError,
        pollIntervalSeconds: vaikoraSettings.pollIntervalSeconds,
        // Written with table aliases: inside sql`` in a select list drizzle writes columns without their
        // table, so `${runs.tenantId} = ${tenants.id}` would compare two columns of runs.
        lastFinishedLag: sql<number | null>`(select r.lag_seconds from ${runs} r
          where r.tenant_id = ${tenant.id} and r.finished_at is not null
          order by r.started_at desc limit 1)`,
        // A scalar subquery ordered as runs_tenant_imported_idx is, so the planner walks that index: an
        // EXISTS drops its ORDER BY and LIMIT, and its plan may then scan all runs for the first match.
        importedAny: sql<boolean>`coalesce((select true from ${runs} r
          where r.tenant_id = ${tenant.id} and r.findings_imported > 0
          order by r.started_at desc limit 1), false)`,
      })
      .from(tenants)
      .leftJoin(tenantSchedules, eq(tenantSchedules.tenantId, tenants.id))
      .leftJoin(vaikoraSettings, eq(vaikoraSettings.tenantId, tenants.id))
      .where(eq(tenants.id, tenant.id))
      .limit(1),
    deps.db.select().from(runs).where(eq(runs.tenantId, tenant.id)).orderBy(desc(runs.startedAt)).limit(1),
    // Each destination with its enabled streams and the records kept for it in the window.
    deps.db
      .select({
        ...getTableColumns(awsDestinations),
        streams: sql<number>`(select count(*)::int from ${streams} st
          where st.destination_id = ${sql.raw('"aws_destinations"."id"')} and st.enabled)`,
        rejectedRecords: sql<number>`(select count(*)::int from ${rejectedRecords} rr
          where rr.tenant_id = ${tenant.id}
            and rr.created_at >= ${sinceIso}::timestamptz
            and rr.destination_id = ${sql.raw('"aws_destinations"."id"')})`,
      })
      .from(awsDestinations)
      .where(eq(awsDestinations.tenantId, tenant.id))
      .orderBy(asc(awsDestinations.id)),
    deps.db
      .select({
        id: runs.id,
        status: runs.status,
        startedAt: runs.startedAt,
        findingsImported: runs.findingsImported,
        recordsRejected: runs.recordsRejected,
        actionsSkipped: runs.actionsSkipped,
        lagSeconds: runs.lagSeconds,
        destinationStats: runs.destinationStats,
      })
      .from(runs)
      .where(and(eq(runs.tenantId, tenant.id), gte(runs.startedAt, since)))
      .orderBy(desc(runs.startedAt))
      .limit(MAX_WINDOW_RUNS),
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
  const counts = windowCounts(windowRuns);
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
      ...destinationActivity(windowRuns, row.id),
      rejectedRecords: row.rejectedRecords,
    })),
  };
  return { status, health, windowRuns };
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
