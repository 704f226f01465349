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
import { and, asc, count, desc, eq, gte } from 'drizzle-orm';
import { type Health, healthFacts } from '../services/health.ts';

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
// At one run a minute a day is 1,440 runs; the cap bounds the work if a worker misbehaves.
const MAX_ACTIVITY_RUNS = 2_000;

/** The last `hours` whole hours up to now (the current one included), oldest first, from the runs that started in them. */
export async function hourlyActivity(
  db: Database,
  tenantId: string,
  now: Date,
  hours = 24,
): Promise<ActivityBucket[]> {
  const firstStart = Math.floor(now.getTime() / HOUR_MS) * HOUR_MS - (hours - 1) * HOUR_MS;
  const buckets: ActivityBucket[] = Array.from({ length: hours }, (_, i) => ({
    start: new Date(firstStart + i * HOUR_MS),
    runs: 0,
    imported: 0,
    rejected: 0,
    maxLagSeconds: null,
  }));
  const rows = await db
    .select({
      startedAt: runs.startedAt,
      imported: runs.findingsImported,
      rejected: runs.recordsRejected,
      lagSeconds: runs.lagSeconds,
    })
    .from(runs)
    .where(and(eq(runs.tenantId, tenantId), gte(runs.startedAt, new Date(firstStart))))
    .orderBy(desc(runs.startedAt))
    .limit(MAX_ACTIVITY_RUNS);
  for (const row of rows) {
    const bucket = buckets[Math.floor((row.startedAt.getTime() - firstStart) / HOUR_MS)];
    if (bucket === undefined) continue;
    bucket.runs++;
    bucket.imported += row.imported;
    bucket.rejected += row.rejected;
    if (row.lagSeconds !== null) bucket.maxLagSeconds = Math.max(bucket.maxLagSeconds ?? 0, row.lagSeconds);
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

const MAX_TENANTS = 2_000;

/** Every tenant's health from the same model as the API and the CLI, in one pass of grouped queries. */
export async function tenantsHealth(db: Database, now: Date): Promise<TenantHealth[]> {
  const tenantRows = await db.select().from(tenants).orderBy(asc(tenants.name)).limit(MAX_TENANTS);
  const facts = await healthFacts(db, tenantRows, now);
  return tenantRows.flatMap((tenant) => {
    const f = facts.get(tenant.id);
    if (f === undefined) return [];
    const d = f.health.destinations;
    const last = f.health.lastRun;
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
          last === null
            ? null
            : { status: last.status, startedAt: new Date(last.startedAt), lagSeconds: f.lastRunLagSeconds },
        failedRuns24h: f.failedRuns24h,
        imported24h: f.imported24h,
      },
    ];
  });
}

/** One tenant's shared health (ADR 0100), for the status page and the onboarding checklist. */
export async function healthOfTenant(db: Database, tenant: Tenant, now: Date): Promise<Health> {
  const f = (await healthFacts(db, [tenant], now)).get(tenant.id);
  if (f === undefined) throw new Error('health summary missing for the tenant');
  return f.health;
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
