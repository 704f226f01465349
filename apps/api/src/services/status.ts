import {
  awsDestinations,
  type Database,
  type DestinationRunStats,
  type DestinationState,
  type RejectedRecord,
  type Run,
  type RunStatus,
  rejectedRecords,
  runs,
  streams,
  type Tenant,
  type TenantState,
  tenantSchedules,
  vaikoraSettings,
} from '@vsh/db';
import { and, asc, count, desc, eq, getTableColumns, gte, type SQL, sql, sum } from 'drizzle-orm';
import type { ApiDeps } from '../deps.ts';
import { type Actor, audit } from '../lib/audit.ts';
import { iso, requireActive, wakeWorker } from './common.ts';
import { ServiceError } from './errors.ts';
import { olderThan, type Page, type PageRequest, pageOf } from './pagination.ts';
import { vaikoraConfigured } from './vaikora-settings.ts';

/** The window the status counts cover. */
const WINDOW_HOURS = 24;

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

interface WindowRun {
  id: string;
  status: RunStatus;
  startedAt: Date;
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

const asInt = (value: string | number | null | undefined): number => Number(value ?? 0);

/** A tenant's ingestion status over the last day (GET /status and the status page). */
export async function tenantStatus(
  deps: Pick<ApiDeps, 'db' | 'clock'>,
  tenant: Tenant,
): Promise<TenantStatus> {
  const since = new Date(deps.clock().getTime() - WINDOW_HOURS * 3_600_000);
  const [
    [schedule],
    [vaikora],
    [lastRun],
    [lastFinished],
    [totals],
    destinations,
    streamCounts,
    rejectedCounts,
    windowRuns,
  ] = await Promise.all([
    deps.db.select().from(tenantSchedules).where(eq(tenantSchedules.tenantId, tenant.id)).limit(1),
    deps.db
      .select({ verifiedAt: vaikoraSettings.verifiedAt, lastError: vaikoraSettings.lastError })
      .from(vaikoraSettings)
      .where(eq(vaikoraSettings.tenantId, tenant.id))
      .limit(1),
    deps.db.select().from(runs).where(eq(runs.tenantId, tenant.id)).orderBy(desc(runs.startedAt)).limit(1),
    deps.db
      .select({ lagSeconds: runs.lagSeconds })
      .from(runs)
      .where(and(eq(runs.tenantId, tenant.id), sql`${runs.finishedAt} is not null`))
      .orderBy(desc(runs.finishedAt))
      .limit(1),
    deps.db
      .select({
        runs: count(),
        failedRuns: sum(sql`case when ${runs.status} = 'failed' then 1 else 0 end`),
        imported: sum(runs.findingsImported),
        rejected: sum(runs.recordsRejected),
        skipped: sum(runs.actionsSkipped),
      })
      .from(runs)
      .where(and(eq(runs.tenantId, tenant.id), gte(runs.startedAt, since))),
    deps.db
      .select()
      .from(awsDestinations)
      .where(eq(awsDestinations.tenantId, tenant.id))
      .orderBy(asc(awsDestinations.id)),
    deps.db
      .select({ destinationId: streams.destinationId, n: count() })
      .from(streams)
      .where(and(eq(streams.tenantId, tenant.id), eq(streams.enabled, true)))
      .groupBy(streams.destinationId),
    deps.db
      .select({ destinationId: rejectedRecords.destinationId, n: count() })
      .from(rejectedRecords)
      .where(and(eq(rejectedRecords.tenantId, tenant.id), gte(rejectedRecords.createdAt, since)))
      .groupBy(rejectedRecords.destinationId),
    deps.db
      .select({
        id: runs.id,
        status: runs.status,
        startedAt: runs.startedAt,
        destinationStats: runs.destinationStats,
      })
      .from(runs)
      .where(and(eq(runs.tenantId, tenant.id), gte(runs.startedAt, since)))
      .orderBy(desc(runs.startedAt))
      .limit(MAX_WINDOW_RUNS),
  ]);
  return {
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
    cursorLagSeconds: lastFinished?.lagSeconds ?? null,
    counts: {
      runs: asInt(totals?.runs),
      failedRuns: asInt(totals?.failedRuns),
      imported: asInt(totals?.imported),
      rejected: asInt(totals?.rejected),
      skipped: asInt(totals?.skipped),
    },
    destinations: destinations.map((row) => ({
      id: row.id,
      accountId: row.accountId,
      regions: row.regions,
      state: row.state,
      lastVerifiedAt: iso(row.lastVerifiedAt),
      lastError: row.lastError,
      consecutiveFailures: row.consecutiveFailures,
      streams: streamCounts.find((s) => s.destinationId === row.id)?.n ?? 0,
      ...destinationActivity(windowRuns, row.id),
      rejectedRecords: rejectedCounts.find((r) => r.destinationId === row.id)?.n ?? 0,
    })),
  };
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
