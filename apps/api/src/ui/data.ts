import { type HealthChecklist, type HealthStatus, healthRank } from '@vsh/core';
import {
  type Database,
  type RecentFinding,
  type Run,
  rejectedRecords,
  runs,
  type Tenant,
  tenants,
} from '@vsh/db';
import { and, count, desc, eq, gte } from 'drizzle-orm';
import { z } from 'zod';
import { ServiceError } from '../services/errors.ts';
import { namePageWithHealth } from '../services/health.ts';
import type { ActivityHour } from '../services/status.ts';

/** A tenant by id, or undefined (ids longer than any real one are not looked up). */
export async function findTenant(db: Database, tenantId: string): Promise<Tenant | undefined> {
  if (tenantId.length > 64) return undefined;
  const [row] = await db.select().from(tenants).where(eq(tenants.id, tenantId)).limit(1);
  return row;
}

/** The latest runs of a tenant, newest first. */
export async function recentRuns(db: Database, tenantId: string, limit: number): Promise<Run[]> {
  return db.select().from(runs).where(eq(runs.tenantId, tenantId)).orderBy(desc(runs.id)).limit(limit);
}

/** Distinct rejected records seen since a time: in all, and per destination (records rejected while reading have none). */
export interface RejectedSummary {
  total: number;
  byDestination: Map<string, number>;
}

/**
 * How many distinct records were rejected (seen at least once) since `since`. Each record is one row per
 * stream however often later runs read it again (ADR 0033), so this counts records, not recordings.
 */
export async function rejectedSince(db: Database, tenantId: string, since: Date): Promise<RejectedSummary> {
  const rows = await db
    .select({ destinationId: rejectedRecords.destinationId, n: count() })
    .from(rejectedRecords)
    .where(and(eq(rejectedRecords.tenantId, tenantId), gte(rejectedRecords.lastSeenAt, since)))
    .groupBy(rejectedRecords.destinationId);
  const byDestination = new Map<string, number>();
  let total = 0;
  for (const row of rows) {
    total += row.n;
    if (row.destinationId !== null) byDestination.set(row.destinationId, row.n);
  }
  return { total, byDestination };
}

/**
 * The findings the given runs reported sending, newest first by the finding's time across runs (a run
 * stores its findings in the order it sent them), each finding once.
 */
export function findingsOf(runList: readonly Run[], limit: number): RecentFinding[] {
  const seen = new Set<string>();
  const all: RecentFinding[] = [];
  for (const run of runList) {
    for (const finding of run.recentFindings) {
      if (seen.has(finding.id)) continue;
      seen.add(finding.id);
      all.push(finding);
    }
  }
  const at = (f: RecentFinding) => {
    const ms = Date.parse(f.time);
    return Number.isNaN(ms) ? 0 : ms;
  };
  return all.sort((a, b) => at(b) - at(a) || b.id.localeCompare(a.id)).slice(0, limit);
}

/** One hour of a tenant's activity: what the runs that started in it imported and rejected, and the worst lag. */
export interface ActivityBucket {
  start: Date;
  runs: number;
  imported: number;
  rejected: number;
  maxLagSeconds: number | null;
}

const HOUR_MS = 3_600_000;

/**
 * The last `hours` whole hours up to now (the current one included), oldest first, from the tenant's runs
 * summed per hour by PostgreSQL (`activityHours`, ADR 0113); hours without runs are zero.
 */
export function activityOf(hourly: readonly ActivityHour[], now: Date, hours = 24): ActivityBucket[] {
  const firstStart = Math.floor(now.getTime() / HOUR_MS) * HOUR_MS - (hours - 1) * HOUR_MS;
  const buckets: ActivityBucket[] = Array.from({ length: hours }, (_, i) => ({
    start: new Date(firstStart + i * HOUR_MS),
    runs: 0,
    imported: 0,
    rejected: 0,
    maxLagSeconds: null,
  }));
  for (const row of hourly) {
    const at = row.hourStart.getTime() - firstStart;
    if (at < 0) continue;
    const bucket = buckets[Math.floor(at / HOUR_MS)];
    if (bucket === undefined) continue;
    bucket.runs += row.runs;
    bucket.imported += row.imported;
    bucket.rejected += row.rejected;
    if (row.maxLagSeconds !== null) {
      bucket.maxLagSeconds = Math.max(bucket.maxLagSeconds ?? 0, row.maxLagSeconds);
    }
  }
  return buckets;
}

/** One row of the operator overview: the shared health (ADR 0100) and the facts shown next to it. */
export interface TenantHealth {
  id: string;
  name: string;
  state: Tenant['state'];
  health: HealthStatus;
  /** Why the health is what it is, for a person. */
  reasons: string[];
  checklist: HealthChecklist;
  destinations: { total: number; working: number; failing: number; pending: number };
  lastRun: { status: Run['status']; startedAt: Date; lagSeconds: number | null } | null;
  failedRuns24h: number;
  imported24h: number;
}

export const OVERVIEW_SORTS = ['health', 'name', 'lastRun', 'imported', 'lag'] as const;
export type OverviewSort = (typeof OVERVIEW_SORTS)[number];

/** Tenants per page of the operator overview. */
export const OVERVIEW_PAGE_SIZE = 50;

/** Where a page of the overview starts: after or before a tenant (by name, then id), or at the start. */
export type OverviewPosition = { after: string } | { before: string } | Record<string, never>;

/** A page of the overview: its rows, the cursors of the pages around it, and the number of tenants. */
export interface OverviewPage {
  rows: TenantHealth[];
  previous: string | null;
  next: string | null;
  total: number;
}

const overviewCursor = z.tuple([z.string().min(1).max(200), z.string().min(1).max(64)]);

function encodeOverviewCursor(tenant: Pick<Tenant, 'name' | 'id'>): string {
  return Buffer.from(JSON.stringify([tenant.name, tenant.id]), 'utf8').toString('base64url');
}

/** The (name, id) a cursor of the overview stands for; a cursor this page did not write is a 400. */
function decodeOverviewCursor(cursor: string): [string, string] {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  const parsed = overviewCursor.safeParse(value);
  if (!parsed.success)
    throw new ServiceError('invalid_input', 'query.after: is not a cursor this page wrote');
  return parsed.data;
}

/**
 * One page of tenants by name (keyset on tenants(name, id), ADR 0109) with each one's health from the same
 * model as the API and the CLI, in the grouped queries of `healthFacts` for the page's tenants only.
 */
export async function overviewPage(
  db: Database,
  now: Date,
  position: OverviewPosition,
  limit = OVERVIEW_PAGE_SIZE,
): Promise<OverviewPage> {
  const backwards = 'before' in position;
  const fetched = await namePageWithHealth(
    db,
    'after' in position
      ? { after: decodeOverviewCursor(position.after) }
      : 'before' in position
        ? { before: decodeOverviewCursor(position.before) }
        : {},
    limit + 1,
    now,
  );
  // Read backwards, the extra row is the first in name order; forwards, the last.
  const more = fetched.rows.length > limit;
  const paged = backwards ? fetched.rows.slice(more ? 1 : 0) : fetched.rows.slice(0, limit);
  const page = paged.map((row) => row.tenant);
  const first = page[0];
  const last = page.at(-1);
  const hasPrevious = backwards ? more : 'after' in position;
  const hasNext = backwards ? true : more;
  const rows = paged.flatMap(({ tenant, facts: f }) => {
    const d = f.health.destinations;
    const lastRun = f.health.lastRun;
    return [
      {
        id: tenant.id,
        name: tenant.name,
        state: tenant.state,
        health: f.health.status,
        reasons: f.health.reasons,
        checklist: f.health.checklist,
        destinations: {
          total: d.pending + d.verified + d.active + d.degraded + d.disabled,
          working: d.verified + d.active,
          failing: d.degraded + d.disabled,
          pending: d.pending,
        },
        lastRun:
          lastRun === null
            ? null
            : {
                status: lastRun.status,
                startedAt: new Date(lastRun.startedAt),
                lagSeconds: f.lastRunLagSeconds,
              },
        failedRuns24h: f.failedRuns24h,
        imported24h: f.imported24h,
      },
    ];
  });
  return {
    rows,
    previous: hasPrevious && first !== undefined ? encodeOverviewCursor(first) : null,
    next: hasNext && last !== undefined ? encodeOverviewCursor(last) : null,
    total: fetched.total,
  };
}

/** Sorts overview rows by a key; ties fall back to the name so the order is stable. */
export function sortHealth(rows: TenantHealth[], sort: OverviewSort, descending: boolean): TenantHealth[] {
  const key = (row: TenantHealth): number | string => {
    switch (sort) {
      case 'health':
        return healthRank(row.health);
      case 'name':
        return row.name.toLowerCase();
      case 'lastRun':
        return row.lastRun?.startedAt.getTime() ?? 0;
      case 'imported':
        return row.imported24h;
      case 'lag':
        return row.lastRun?.lagSeconds ?? -1;
    }
  };
  const direction = descending ? -1 : 1;
  return [...rows].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    if (ka < kb) return -direction;
    if (ka > kb) return direction;
    return a.name.localeCompare(b.name) || a.id.localeCompare(b.id);
  });
}
