import {
  apiKeys,
  awsDestinations,
  type Database,
  type RecentFinding,
  type Run,
  rejectedRecords,
  runs,
  type Tenant,
  tenants,
  vaikoraSettings,
} from '@vsh/db';
import { and, asc, count, desc, eq, gte, isNull, sql, sum } from 'drizzle-orm';
import type { Principal } from '../deps.ts';

/** Whether a session's principal still holds: its tenant key unrevoked and its tenant active. */
export async function principalStillValid(db: Database, principal: Principal): Promise<boolean> {
  if (principal.kind === 'operator') return true;
  const [row] = await db
    .select({ id: apiKeys.id })
    .from(apiKeys)
    .innerJoin(tenants, eq(tenants.id, apiKeys.tenantId))
    .where(
      and(
        eq(apiKeys.id, principal.id),
        eq(apiKeys.tenantId, principal.tenantId),
        isNull(apiKeys.revokedAt),
        eq(tenants.state, 'active'),
      ),
    )
    .limit(1);
  return row !== undefined;
}

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

/** The findings the given runs reported sending, newest run first, each finding once. */
export function findingsOf(runList: readonly Run[], limit: number): RecentFinding[] {
  const seen = new Set<string>();
  const out: RecentFinding[] = [];
  for (const run of runList) {
    for (const finding of run.recentFindings) {
      if (seen.has(finding.id)) continue;
      seen.add(finding.id);
      out.push(finding);
      if (out.length >= limit) return out;
    }
  }
  return out;
}

export type Health = 'failing' | 'attention' | 'healthy' | 'offboarded';

/** One row of the operator overview. */
export interface TenantHealth {
  id: string;
  name: string;
  state: Tenant['state'];
  health: Health;
  /** Why the health is what it is, for a person. */
  reasons: string[];
  destinations: { total: number; working: number; failing: number; pending: number };
  lastRun: { status: Run['status']; startedAt: Date; lagSeconds: number | null } | null;
  failedRuns24h: number;
  imported24h: number;
}

export const OVERVIEW_SORTS = ['health', 'name', 'lastRun', 'imported', 'lag'] as const;
export type OverviewSort = (typeof OVERVIEW_SORTS)[number];

const HEALTH_RANK: Record<Health, number> = { failing: 0, attention: 1, healthy: 2, offboarded: 3 };
const MAX_TENANTS = 2_000;

/** Every tenant's health in one pass of grouped queries (no query per tenant). */
export async function tenantsHealth(db: Database, now: Date): Promise<TenantHealth[]> {
  const since = new Date(now.getTime() - 24 * 3_600_000);
  const [tenantRows, destinationCounts, lastRuns, windowTotals, configured] = await Promise.all([
    db.select().from(tenants).orderBy(asc(tenants.name)).limit(MAX_TENANTS),
    db
      .select({ tenantId: awsDestinations.tenantId, state: awsDestinations.state, n: count() })
      .from(awsDestinations)
      .groupBy(awsDestinations.tenantId, awsDestinations.state),
    db
      .selectDistinctOn([runs.tenantId], {
        tenantId: runs.tenantId,
        status: runs.status,
        startedAt: runs.startedAt,
        lagSeconds: runs.lagSeconds,
      })
      .from(runs)
      .orderBy(runs.tenantId, desc(runs.startedAt)),
    db
      .select({
        tenantId: runs.tenantId,
        failed: sum(sql`case when ${runs.status} = 'failed' then 1 else 0 end`),
        imported: sum(runs.findingsImported),
      })
      .from(runs)
      .where(gte(runs.startedAt, since))
      .groupBy(runs.tenantId),
    db.select({ tenantId: vaikoraSettings.tenantId }).from(vaikoraSettings),
  ]);
  const configuredIds = new Set(configured.map((row) => row.tenantId));
  return tenantRows.map((tenant) => {
    const destinations = { total: 0, working: 0, failing: 0, pending: 0 };
    for (const row of destinationCounts) {
      if (row.tenantId !== tenant.id) continue;
      destinations.total += row.n;
      if (row.state === 'verified' || row.state === 'active') destinations.working += row.n;
      else if (row.state === 'pending') destinations.pending += row.n;
      else destinations.failing += row.n;
    }
    const last = lastRuns.find((row) => row.tenantId === tenant.id);
    const totals = windowTotals.find((row) => row.tenantId === tenant.id);
    const failedRuns24h = Number(totals?.failed ?? 0);
    const reasons: string[] = [];
    if (destinations.failing > 0) reasons.push(`${destinations.failing} destination(s) degraded or disabled`);
    if (last?.status === 'failed') reasons.push('last run failed');
    const failing = reasons.length > 0;
    if (!configuredIds.has(tenant.id)) reasons.push('Vaikora not connected');
    if (destinations.working === 0) reasons.push('no verified destination');
    if (last === undefined) reasons.push('no run yet');
    else if (last.status === 'partial') reasons.push('last run partial');
    if (failedRuns24h > 0 && last?.status !== 'failed')
      reasons.push(`${failedRuns24h} failed run(s) in 24 h`);
    const health: Health =
      tenant.state === 'offboarded'
        ? 'offboarded'
        : failing
          ? 'failing'
          : reasons.length > 0
            ? 'attention'
            : 'healthy';
    return {
      id: tenant.id,
      name: tenant.name,
      state: tenant.state,
      health,
      reasons,
      destinations,
      lastRun:
        last === undefined
          ? null
          : { status: last.status, startedAt: last.startedAt, lagSeconds: last.lagSeconds },
      failedRuns24h,
      imported24h: Number(totals?.imported ?? 0),
    };
  });
}

/** Sorts overview rows by a key; ties fall back to the name so the order is stable. */
export function sortHealth(rows: TenantHealth[], sort: OverviewSort, descending: boolean): TenantHealth[] {
  const key = (row: TenantHealth): number | string => {
    switch (sort) {
      case 'health':
        return HEALTH_RANK[row.health];
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
