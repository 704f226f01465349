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
import { and, asc, desc, eq, getTableColumns, gte, type SQL, sql } from 'drizzle-orm';
import { preparedPer } from '../lib/prepared.ts';
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
// Written with aliases and the outer table by name: inside sql`` in a select list drizzle writes columns
// without their table, so `${runs.tenantId} = ${tenants.id}` would compare two columns of runs.
const TENANT_ID = sql.raw('"tenants"."id"');

/**
 * Every health fact of the tenants `where` selects, in ONE statement (ADR 0109, 0113): per tenant, its
 * destinations counted by state (a scalar aggregate over aws_destinations(tenant_id)), its Vaikora
 * settings (a join on the key), its latest run (a `limit 1` walk of runs(tenant_id, started_at)), the
 * window's failed runs and imported findings (one range of that index, `since` on) and whether any run
 * ever imported a finding (a scalar subquery ordered as runs_tenant_imported_idx is, so the planner walks
 * that index: an EXISTS drops its ORDER BY and LIMIT and may then scan all runs for the first match).
 */
function healthFields(db: Database, since: SQL) {
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
  const totals = db
    .select({
      failed: sql<number>`count(*) filter (where ${runs.status} = 'failed')::int`.as('failed'),
      imported: sql<string | null>`sum(${runs.findingsImported})`.as('imported'),
    })
    .from(runs)
    .where(and(eq(runs.tenantId, tenants.id), gte(runs.startedAt, since)))
    .as('totals');
  const fields = {
    tenantId: tenants.id,
    destinations: sql<Partial<Record<DestinationState, number>> | null>`(select jsonb_object_agg(x.state, x.n)
      from (select d.state, count(*)::int as n from ${awsDestinations} d
        where d.tenant_id = ${TENANT_ID} group by d.state) x)`,
    vaikoraTenant: vaikoraSettings.tenantId,
    verifiedAt: vaikoraSettings.verifiedAt,
    lastError: vaikoraSettings.lastError,
    pollIntervalSeconds: vaikoraSettings.pollIntervalSeconds,
    run: {
      id: latest.id,
      status: latest.status,
      startedAt: latest.startedAt,
      finishedAt: latest.finishedAt,
      lagSeconds: latest.lagSeconds,
    },
    failed24h: totals.failed,
    imported24h: totals.imported,
    importedAny: sql<boolean>`coalesce((select true from ${runs} r
      where r.tenant_id = ${TENANT_ID} and r.findings_imported > 0
      order by r.started_at desc limit 1), false)`,
  };
  return { fields, latest, totals };
}

/** The health facts of the tenants `where` selects (see healthFields). */
function healthStatement(db: Database, where: SQL, since: SQL) {
  const { fields, latest, totals } = healthFields(db, since);
  return db
    .select(fields)
    .from(tenants)
    .leftJoin(vaikoraSettings, eq(vaikoraSettings.tenantId, tenants.id))
    .leftJoinLateral(latest, sql`true`)
    .innerJoinLateral(totals, sql`true`)
    .where(where);
}

type HealthRow = Awaited<ReturnType<typeof healthStatement>>[number];

/** One tenant's health statement (GET /v1/tenants/{id}, the API's hottest read). */
const oneTenantHealth = preparedPer((db) =>
  healthStatement(
    db,
    eq(tenants.id, sql.placeholder('tenantId')),
    // An ISO string cast by PostgreSQL: drizzle does not encode a Date bound to a placeholder.
    sql`${sql.placeholder('since')}::timestamptz`,
  ).prepare('tenant_health'),
);

/**
 * A page's health statement, prepared too: building this statement cost drizzle about 2 ms of CPU per
 * call, ten times what PostgreSQL spends answering it for 50 tenants. The page's ids are one text
 * parameter split by PostgreSQL: ids never contain a comma (`ten_` and 26 base-32 characters), and the
 * driver is not told array types (ADR 0111), so a JavaScript array cannot be bound as `text[]`.
 */
const pageHealth = preparedPer((db) =>
  healthStatement(
    db,
    sql`${tenants.id} = any(string_to_array(${sql.placeholder('tenantIds')}::text, ','))`,
    sql`${sql.placeholder('since')}::timestamptz`,
  ).prepare('page_health'),
);

function factsOf(tenant: Tenant, row: HealthRow | undefined, now: Date): HealthFacts {
  const destinations = noDestinations();
  for (const [state, n] of Object.entries(row?.destinations ?? {})) {
    if (state in destinations) destinations[state as DestinationState] = n;
  }
  const lastRun = row?.run ?? undefined;
  const failedRuns24h = row?.failed24h ?? 0;
  const health = healthFromInputs(
    tenant,
    {
      destinations,
      vaikora:
        row?.vaikoraTenant == null || row.pollIntervalSeconds === null
          ? undefined
          : {
              verifiedAt: row.verifiedAt,
              lastError: row.lastError,
              pollIntervalSeconds: row.pollIntervalSeconds,
            },
      lastRun,
      failedRuns24h,
      firstFindingImported: row?.importedAny === true,
    },
    now,
  );
  return {
    health,
    failedRuns24h,
    imported24h: Number(row?.imported24h ?? 0),
    lastRunLagSeconds: lastRun?.lagSeconds ?? null,
  };
}

/**
 * Health and overview facts of a page of tenants in one statement whatever their number and however many
 * runs they have (ADR 0109, 0113); a page of one is the prepared statement.
 */
export async function healthFacts(
  db: Database,
  page: Tenant[],
  now: Date,
): Promise<Map<string, HealthFacts>> {
  const out = new Map<string, HealthFacts>();
  if (page.length === 0) return out;
  const since = new Date(now.getTime() - DAY_MS);
  const ids = page.map((tenant) => tenant.id);
  if (ids.some((id) => id.includes(','))) throw new RangeError('tenant ids never contain a comma');
  const rows: HealthRow[] =
    ids.length === 1
      ? await oneTenantHealth(db).execute({ tenantId: ids[0], since: since.toISOString() })
      : await pageHealth(db).execute({ tenantIds: ids.join(','), since: since.toISOString() });
  const byId = new Map(rows.map((row) => [row.tenantId, row]));
  for (const tenant of page) out.set(tenant.id, factsOf(tenant, byId.get(tenant.id), now));
  return out;
}

/** Where a page of tenants by name starts: after or before a (name, id), or at the start. */
export type NamePosition = { after: [string, string] } | { before: [string, string] } | Record<string, never>;

/**
 * A page of tenants by name (keyset on tenants(name, id), either direction), each with its health facts,
 * and the number of tenants: ONE prepared statement per direction (ADR 0113). The laterals run for the
 * rows the limit lets through only (a nested loop under the limit), and the count is an uncorrelated
 * subquery PostgreSQL evaluates once.
 */
function namePageStatement(db: Database, direction: 'first' | 'after' | 'before') {
  const { fields, latest, totals } = healthFields(db, sql`${sql.placeholder('since')}::timestamptz`);
  const key = sql`(${tenants.name}, ${tenants.id})`;
  const cursor = sql`(${sql.placeholder('name')}::text, ${sql.placeholder('id')}::text)`;
  const query = db
    .select({
      ...fields,
      tenant: getTableColumns(tenants),
      total: sql<number>`(select count(*)::int from ${tenants} all_tenants)`,
    })
    .from(tenants)
    .leftJoin(vaikoraSettings, eq(vaikoraSettings.tenantId, tenants.id))
    .leftJoinLateral(latest, sql`true`)
    .innerJoinLateral(totals, sql`true`)
    .$dynamic();
  const ordered =
    direction === 'before'
      ? query.where(sql`${key} < ${cursor}`).orderBy(desc(tenants.name), desc(tenants.id))
      : (direction === 'after' ? query.where(sql`${key} > ${cursor}`) : query).orderBy(
          asc(tenants.name),
          asc(tenants.id),
        );
  return ordered.limit(sql.placeholder('limit')).prepare(`overview_${direction}`);
}
const tenantCount = preparedPer((db) =>
  db.select({ n: sql<number>`count(*)::int` }).from(tenants).prepare('tenant_count'),
);
const namePageFirst = preparedPer((db) => namePageStatement(db, 'first'));
const namePageAfter = preparedPer((db) => namePageStatement(db, 'after'));
const namePageBefore = preparedPer((db) => namePageStatement(db, 'before'));

/** Up to `limit` tenants by name from `position` (in name order, also when reading backwards), with health. */
export async function namePageWithHealth(
  db: Database,
  position: NamePosition,
  limit: number,
  now: Date,
): Promise<{ rows: Array<{ tenant: Tenant; facts: HealthFacts }>; total: number }> {
  const since = new Date(now.getTime() - DAY_MS).toISOString();
  const rows =
    'after' in position
      ? await namePageAfter(db).execute({ since, limit, name: position.after[0], id: position.after[1] })
      : 'before' in position
        ? await namePageBefore(db).execute({ since, limit, name: position.before[0], id: position.before[1] })
        : await namePageFirst(db).execute({ since, limit });
  if ('before' in position) rows.reverse();
  // An empty page (past the last tenant) carries no count: ask for it alone.
  const total = rows[0]?.total ?? (await tenantCount(db).execute())[0]?.n ?? 0;
  return { rows: rows.map((row) => ({ tenant: row.tenant, facts: factsOf(row.tenant, row, now) })), total };
}

/** Health of each tenant of a page, as GET /tenants and GET /tenants/{id} answer it. */
export async function healthOf(db: Database, page: Tenant[], now: Date): Promise<Map<string, Health>> {
  const facts = await healthFacts(db, page, now);
  return new Map([...facts].map(([id, f]) => [id, f.health]));
}
