import { type HealthChecklist, type HealthStatus, tenantHealth } from '@vsh/core';
import {
  awsDestinations,
  type Database,
  type DestinationState,
  destinationStates,
  type RunStatus,
  runs,
  type Tenant,
  tenants,
  vaikoraSettings,
} from '@vsh/db';
import { and, count, desc, eq, exists, gte, inArray, sql, sum } from 'drizzle-orm';
import { iso } from './common.ts';

/** A tenant's health in the one health model (ADR 0100), as the API, the pages and the CLI show it. */
export interface Health {
  status: HealthStatus;
  reasons: string[];
  checklist: HealthChecklist;
  destinations: Record<DestinationState, number>;
  vaikora: { configured: boolean; verifiedAt: string | null; lastError: string | null };
  lastRun: { id: string; status: RunStatus; startedAt: string; finishedAt: string | null } | null;
}

/** A tenant's health with the facts the operator overview shows next to it. */
export interface HealthFacts {
  health: Health;
  failedRuns24h: number;
  imported24h: number;
  lastRunLagSeconds: number | null;
}

/** What the health of one tenant is computed from; every field is read by a bounded, indexed query (ADR 0109). */
export interface HealthInputs {
  destinations: Record<DestinationState, number>;
  vaikora: { verifiedAt: Date | null; lastError: string | null; pollIntervalSeconds: number } | undefined;
  lastRun: { id: string; status: RunStatus; startedAt: Date; finishedAt: Date | null } | undefined;
  failedRuns24h: number;
  /** Whether any run of the tenant ever imported a finding (an EXISTS on a partial index, never a sum). */
  firstFindingImported: boolean;
}

const DAY_MS = 24 * 3_600_000;
const DEFAULT_POLL_SECONDS = 300;

/** Zero of every destination state. */
export function noDestinations(): Record<DestinationState, number> {
  return Object.fromEntries(destinationStates.map((state) => [state, 0])) as Record<DestinationState, number>;
}

/** A tenant's health from its facts (pure: the one place the API's health shape is built). */
export function healthFromInputs(tenant: Tenant, inputs: HealthInputs, now: Date): Health {
  const { vaikora, lastRun, destinations } = inputs;
  const shared = tenantHealth({
    tenantState: tenant.state,
    vaikora: { configured: vaikora !== undefined, lastError: vaikora?.lastError ?? null },
    destinations,
    lastRun: lastRun === undefined ? null : { status: lastRun.status, startedAt: lastRun.startedAt },
    failedRuns24h: inputs.failedRuns24h,
    firstFindingImported: inputs.firstFindingImported,
    pollIntervalSeconds: vaikora?.pollIntervalSeconds ?? DEFAULT_POLL_SECONDS,
    now,
  });
  return {
    ...shared,
    destinations,
    vaikora: {
      configured: vaikora !== undefined,
      verifiedAt: iso(vaikora?.verifiedAt ?? null),
      lastError: vaikora?.lastError ?? null,
    },
    lastRun:
      lastRun === undefined
        ? null
        : {
            id: lastRun.id,
            status: lastRun.status,
            startedAt: iso(lastRun.startedAt),
            finishedAt: iso(lastRun.finishedAt),
          },
  };
}

// A literal, not a bound parameter: a generic plan can use the partial index only if its predicate is visible.
const importedSome = sql`${runs.findingsImported} > 0`;

/** The tenants of `ids` that ever imported a finding: one probe of `runs_tenant_imported_idx` per tenant. */
function importedAnyQuery(db: Database, ids: string[]) {
  return db
    .select({ tenantId: tenants.id })
    .from(tenants)
    .where(
      and(
        inArray(tenants.id, ids),
        exists(
          db
            .select({ one: sql`1` })
            .from(runs)
            .where(and(eq(runs.tenantId, tenants.id), importedSome)),
        ),
      ),
    );
}

/** The latest run (by start) of each tenant of `ids`: one `limit 1` walk of `runs_tenant_started_idx` per tenant. */
function latestRunsQuery(db: Database, ids: string[]) {
  const latest = db
    .select({
      id: runs.id,
      status: runs.status,
      startedAt: runs.startedAt,
      finishedAt: runs.finishedAt,
      lagSeconds: runs.lagSeconds,
    })
    .from(runs)
    .where(eq(runs.tenantId, tenants.id))
    .orderBy(desc(runs.startedAt))
    .limit(1)
    .as('latest');
  return db
    .select({
      tenantId: tenants.id,
      run: {
        id: latest.id,
        status: latest.status,
        startedAt: latest.startedAt,
        finishedAt: latest.finishedAt,
        lagSeconds: latest.lagSeconds,
      },
    })
    .from(tenants)
    .innerJoinLateral(latest, sql`true`)
    .where(inArray(tenants.id, ids));
}

/**
 * The last day's failed runs and imported findings of each tenant of `ids`: one range of
 * runs(tenant_id, started_at) per tenant (a lateral join, so the plan stays per tenant whatever the
 * statistics say about the page's tenants as a whole).
 */
function windowTotalsQuery(db: Database, ids: string[], since: Date) {
  const totals = db
    .select({
      failed: sum(sql`case when ${runs.status} = 'failed' then 1 else 0 end`).as('failed'),
      imported: sum(runs.findingsImported).as('imported'),
    })
    .from(runs)
    .where(and(eq(runs.tenantId, tenants.id), gte(runs.startedAt, since)))
    .as('totals');
  return db
    .select({ tenantId: tenants.id, failed24h: totals.failed, imported24h: totals.imported })
    .from(tenants)
    .innerJoinLateral(totals, sql`true`)
    .where(inArray(tenants.id, ids));
}

/**
 * Health and overview facts of a page of tenants in five grouped queries whatever their number and however
 * many runs they have (ADR 0109): destination counts, Vaikora settings, each tenant's latest run, the last
 * 24 hours' run totals (an index range), and whether any run ever imported a finding (an index probe).
 */
export async function healthFacts(
  db: Database,
  page: Tenant[],
  now: Date,
): Promise<Map<string, HealthFacts>> {
  const ids = page.map((tenant) => tenant.id);
  const out = new Map<string, HealthFacts>();
  if (ids.length === 0) return out;
  const since = new Date(now.getTime() - DAY_MS);
  const [destinationRows, vaikoraRows, runRows, totalRows, importedRows] = await Promise.all([
    db
      .select({ tenantId: awsDestinations.tenantId, state: awsDestinations.state, n: count() })
      .from(awsDestinations)
      .where(inArray(awsDestinations.tenantId, ids))
      .groupBy(awsDestinations.tenantId, awsDestinations.state),
    db
      .select({
        tenantId: vaikoraSettings.tenantId,
        verifiedAt: vaikoraSettings.verifiedAt,
        lastError: vaikoraSettings.lastError,
        pollIntervalSeconds: vaikoraSettings.pollIntervalSeconds,
      })
      .from(vaikoraSettings)
      .where(inArray(vaikoraSettings.tenantId, ids)),
    latestRunsQuery(db, ids),
    windowTotalsQuery(db, ids, since),
    importedAnyQuery(db, ids),
  ]);
  const imported = new Set(importedRows.map((row) => row.tenantId));
  for (const tenant of page) {
    const destinations = noDestinations();
    for (const row of destinationRows) if (row.tenantId === tenant.id) destinations[row.state] = row.n;
    const lastRun = runRows.find((row) => row.tenantId === tenant.id)?.run;
    const totals = totalRows.find((row) => row.tenantId === tenant.id);
    const failedRuns24h = Number(totals?.failed24h ?? 0);
    const health = healthFromInputs(
      tenant,
      {
        destinations,
        vaikora: vaikoraRows.find((row) => row.tenantId === tenant.id),
        lastRun,
        failedRuns24h,
        firstFindingImported: imported.has(tenant.id),
      },
      now,
    );
    out.set(tenant.id, {
      health,
      failedRuns24h,
      imported24h: Number(totals?.imported24h ?? 0),
      lastRunLagSeconds: lastRun?.lagSeconds ?? null,
    });
  }
  return out;
}

/** Health of each tenant of a page, as GET /tenants and GET /tenants/{id} answer it. */
export async function healthOf(db: Database, page: Tenant[], now: Date): Promise<Map<string, Health>> {
  const facts = await healthFacts(db, page, now);
  return new Map([...facts].map(([id, f]) => [id, f.health]));
}
