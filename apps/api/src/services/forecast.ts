import { awsDestinations, type DestinationDelivery, type DestinationState, runs, type Tenant } from '@vsh/db';
import { asc, eq, sql } from 'drizzle-orm';
import type { ApiDeps } from '../deps.ts';
import { preparedPer } from '../lib/prepared.ts';
import {
  FORECAST_WINDOW_DAYS,
  forecastIngestion,
  type IngestionForecast,
  SECURITY_HUB_INGESTION_PRICE,
} from './forecast-model.ts';

/**
 * The most runs of the window read for one destination: a run a minute for 7 days is 10,080; the cap
 * bounds the work if a worker misbehaves, and when it binds the rate is measured over the runs it kept.
 */
const MAX_FORECAST_RUNS = 14_000;

/** One destination's forecast, as the API and the status page show it. */
export interface DestinationForecast extends IngestionForecast {
  id: string;
  accountId: string;
  regions: string[];
  state: DestinationState;
  /**
   * How the findings arrive (ADR 0121, 0122): a `security_lake` destination's findings are S3 objects,
   * not Security Hub ingestion events, so its Security Hub cost is 0.
   */
  delivery: DestinationDelivery;
  /** Where the rate's measurement starts (null: no run reached the destination in the window). */
  observedFrom: string | null;
  runs: number;
  /** Findings Security Hub took for this destination over the measurement, every region summed. */
  importedObserved: number;
}

/** A tenant's Security Hub ingestion per month at its recent rate, per destination (GET /forecast). */
export interface TenantForecast {
  tenantId: string;
  generatedAt: string;
  windowDays: number;
  price: {
    usdPerEvent: number;
    freeEventsPerAccountRegionMonth: number;
    source: string;
    checkedOn: string;
  };
  totals: { findingsPerMonth: number; usdPerMonth: number; usdPerMonthWithoutFreeTier: number };
  destinations: DestinationForecast[];
}

interface ObservedRow {
  runs: number;
  imported: string | number | null;
  firstRunAt: string | null;
}

const tenantParam = sql.placeholder('tenantId');
// ISO strings cast by PostgreSQL: drizzle does not encode a Date bound to a placeholder.
const sinceParam = sql`${sql.placeholder('since')}::timestamptz`;
// The outer row's column by name (inside sql`` drizzle writes columns without their table).
const DESTINATION_ID = sql.raw('"aws_destinations"."id"');

/**
 * Each destination of the tenant with what the window's runs imported there, summed by PostgreSQL from
 * `runs.destination_stats` over one range of runs(tenant_id, started_at) (the newest MAX_FORECAST_RUNS
 * that name it), with the number of those runs and the first one's start: one statement per tenant.
 */
const forecastFacts = preparedPer((db) =>
  db
    .select({
      id: awsDestinations.id,
      accountId: awsDestinations.accountId,
      regions: awsDestinations.regions,
      state: awsDestinations.state,
      delivery: awsDestinations.delivery,
      createdAt: awsDestinations.createdAt,
      observed: sql<ObservedRow>`(select jsonb_build_object(
          'runs', count(*),
          'imported', sum((r.stats->>'imported')::bigint),
          'firstRunAt', min(r.started_at))
        from (select r.started_at, r.destination_stats -> ${DESTINATION_ID} as stats from ${runs} r
          where r.tenant_id = ${tenantParam} and r.started_at >= ${sinceParam}
            and r.destination_stats ? ${DESTINATION_ID}
          order by r.started_at desc limit ${sql.raw(String(MAX_FORECAST_RUNS))}) r)`,
    })
    .from(awsDestinations)
    .where(eq(awsDestinations.tenantId, tenantParam))
    .orderBy(asc(awsDestinations.id))
    .prepare('forecast_destinations'),
);

/**
 * Where a destination's rate is measured from: the window's start for a destination older than the
 * window, else its first run in the window (nothing is imported before it); when the cap bound, the
 * oldest run kept, so the rate is that of the runs counted.
 */
function observedFrom(row: { createdAt: Date; observed: ObservedRow }, sinceMs: number): number | null {
  const { runs: count, firstRunAt } = row.observed;
  if (count === 0 || firstRunAt === null) return null;
  const firstMs = new Date(firstRunAt).getTime();
  if (count >= MAX_FORECAST_RUNS) return firstMs;
  // A destination younger than the window: its streams' first run read back FIRST_RUN_LOOKBACK_MS of
  // Vaikora's history, so what it imported covers that span too; measured from its first run alone, a
  // day's backlog would read as an hour's rate (seen on the local stack: 74 findings as 53,280 a month).
  return row.createdAt.getTime() > sinceMs ? Math.max(sinceMs, firstMs - FIRST_RUN_LOOKBACK_MS) : sinceMs;
}

/**
 * How far back a new stream's first run reads (the worker's INITIAL_LOOKBACK_MS default, 24 h; a
 * deployment that changes it skews young destinations' early estimates only).
 */
const FIRST_RUN_LOOKBACK_MS = 24 * 3_600_000;

/**
 * A tenant's findings per month and Security Hub's bill for them, per destination, at the last
 * FORECAST_WINDOW_DAYS days' rate (ADR 0117), in one prepared statement.
 */
export async function tenantForecast(
  deps: Pick<ApiDeps, 'db' | 'clock'>,
  tenant: Pick<Tenant, 'id'>,
): Promise<TenantForecast> {
  const now = deps.clock();
  const nowMs = now.getTime();
  const sinceMs = nowMs - FORECAST_WINDOW_DAYS * 86_400_000;
  const rows = await forecastFacts(deps.db).execute({
    tenantId: tenant.id,
    since: new Date(sinceMs).toISOString(),
  });
  const destinations = rows.map((row): DestinationForecast => {
    const fromMs = observedFrom(row, sinceMs);
    const imported = Number(row.observed.imported ?? 0);
    const ingestion = forecastIngestion({
      imported,
      runs: row.observed.runs,
      observedFromMs: fromMs,
      nowMs,
      regions: row.regions.length,
    });
    const lake = row.delivery === 'security_lake';
    return {
      id: row.id,
      accountId: row.accountId,
      regions: row.regions,
      state: row.state,
      delivery: row.delivery,
      observedFrom: fromMs === null ? null : new Date(fromMs).toISOString(),
      runs: row.observed.runs,
      importedObserved: imported,
      ...ingestion,
      ...(lake ? { billableEventsPerMonth: 0, usdPerMonth: 0, usdPerMonthWithoutFreeTier: 0 } : {}),
    };
  });
  // Destinations of a tenant are distinct accounts (aws_destinations_tenant_account_unique): no two
  // share a free tier, so the tenant's bill is the sum of theirs (each account billed to the cent).
  const sum = (pick: (d: DestinationForecast) => number) =>
    destinations.reduce((total, d) => total + Math.round(pick(d) * 100), 0) / 100;
  return {
    tenantId: tenant.id,
    generatedAt: now.toISOString(),
    windowDays: FORECAST_WINDOW_DAYS,
    price: {
      usdPerEvent: SECURITY_HUB_INGESTION_PRICE.milliCentsPerEvent / 100_000,
      freeEventsPerAccountRegionMonth: SECURITY_HUB_INGESTION_PRICE.freeEventsPerAccountRegionMonth,
      source: SECURITY_HUB_INGESTION_PRICE.source,
      checkedOn: SECURITY_HUB_INGESTION_PRICE.checkedOn,
    },
    totals: {
      findingsPerMonth: destinations.reduce((total, d) => total + d.findingsPerMonth, 0),
      usdPerMonth: sum((d) => d.usdPerMonth),
      usdPerMonthWithoutFreeTier: sum((d) => d.usdPerMonthWithoutFreeTier),
    },
    destinations,
  };
}
