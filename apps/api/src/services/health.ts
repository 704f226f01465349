import { type HealthChecklist, type HealthStatus, tenantHealth } from '@vsh/core';
import {
  awsDestinations,
  type Database,
  type DestinationState,
  destinationStates,
  type RunStatus,
  runs,
  type Tenant,
  vaikoraSettings,
} from '@vsh/db';
import { count, desc, inArray, sql, sum } from 'drizzle-orm';
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

const DAY_MS = 24 * 3_600_000;
const DEFAULT_POLL_SECONDS = 300;

/**
 * Health and overview facts of many tenants in four grouped queries whatever their number (destination
 * counts, Vaikora settings, latest runs, run totals), all filtered by the tenants' ids.
 */
export async function healthFacts(
  db: Database,
  page: Tenant[],
  now: Date,
): Promise<Map<string, HealthFacts>> {
  const ids = page.map((tenant) => tenant.id);
  const out = new Map<string, HealthFacts>();
  if (ids.length === 0) return out;
  // A bound ISO string: raw Dates inside sql`` reach postgres-js unconverted.
  const since = new Date(now.getTime() - DAY_MS).toISOString();
  const [destinationRows, vaikoraRows, runRows, totalRows] = await Promise.all([
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
    db
      .selectDistinctOn([runs.tenantId], {
        tenantId: runs.tenantId,
        id: runs.id,
        status: runs.status,
        startedAt: runs.startedAt,
        finishedAt: runs.finishedAt,
        lagSeconds: runs.lagSeconds,
      })
      .from(runs)
      .where(inArray(runs.tenantId, ids))
      .orderBy(runs.tenantId, desc(runs.startedAt)),
    db
      .select({
        tenantId: runs.tenantId,
        failed24h: sum(
          sql`case when ${runs.status} = 'failed' and ${runs.startedAt} >= ${since}::timestamptz then 1 else 0 end`,
        ),
        imported24h: sum(
          sql`case when ${runs.startedAt} >= ${since}::timestamptz then ${runs.findingsImported} else 0 end`,
        ),
        imported: sum(runs.findingsImported),
      })
      .from(runs)
      .where(inArray(runs.tenantId, ids))
      .groupBy(runs.tenantId),
  ]);
  for (const tenant of page) {
    const destinations = Object.fromEntries(destinationStates.map((state) => [state, 0])) as Record<
      DestinationState,
      number
    >;
    for (const row of destinationRows) if (row.tenantId === tenant.id) destinations[row.state] = row.n;
    const vaikora = vaikoraRows.find((row) => row.tenantId === tenant.id);
    const lastRun = runRows.find((row) => row.tenantId === tenant.id);
    const totals = totalRows.find((row) => row.tenantId === tenant.id);
    const failedRuns24h = Number(totals?.failed24h ?? 0);
    const shared = tenantHealth({
      tenantState: tenant.state,
      vaikora: { configured: vaikora !== undefined, lastError: vaikora?.lastError ?? null },
      destinations,
      lastRun: lastRun === undefined ? null : { status: lastRun.status, startedAt: lastRun.startedAt },
      failedRuns24h,
      firstFindingImported: Number(totals?.imported ?? 0) > 0,
      pollIntervalSeconds: vaikora?.pollIntervalSeconds ?? DEFAULT_POLL_SECONDS,
      now,
    });
    out.set(tenant.id, {
      health: {
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
      },
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
