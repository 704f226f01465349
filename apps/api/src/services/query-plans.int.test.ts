import { createDb, type Database, type DbHandle, rowsOf, type Tenant, tenants } from '@vsh/db';
import { createTestDatabase, type TestDatabase } from '@vsh/db/testing';
import { asc, inArray, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { overviewPage, recentRuns, rejectedSince } from '../ui/data.ts';
import { tenantForecast } from './forecast.ts';
import { healthFacts } from './health.ts';
import { activityHours, listRuns, liveVersion, rejectedPage, statusFacts } from './status.ts';

// Enough rows that PostgreSQL prefers an index wherever one serves (issue 17, ADR 0109): one busy tenant
// with 30 days of runs at 7 minutes and thousands of rejected records, and many tenants with a run
// every 12 hours for 30 days.
const TENANTS = 2_000;
const BUSY_RUNS = 6_000;
const SMALL_RUNS = 60;
const BUSY_REJECTED = 3_000;
const NOW = new Date();

interface Statement {
  query: string;
  params: unknown[];
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  Plans?: PlanNode[];
}

let database: TestDatabase;
let handle: DbHandle;
let db: Database;
let busy: Tenant;
let statements: Statement[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  handle = await createDb({
    kind: 'postgres',
    url: database.url,
    max: 4,
    logger: { logQuery: (query, params) => statements.push({ query, params }) },
  });
  db = handle.db;
  const now = NOW.toISOString();
  await db.execute(sql`insert into tenants (id, name)
    select 'ten_' || lpad(g::text, 26, '0'), 'Tenant ' || lpad(g::text, 5, '0') from generate_series(1, ${sql.raw(String(TENANTS))}) g`);
  // Ids are time-ordered as real ones are (so the tenants' runs interleave on the primary key).
  await db.execute(sql`insert into runs (id, tenant_id, started_at, finished_at, status, findings_imported)
    select 'run_' || lpad((extract(epoch from x.started) * 1000)::bigint::text, 16, '0') || lpad(x.t::text, 10, '0'),
      'ten_' || lpad(x.t::text, 26, '0'), x.started, x.started + interval '3 seconds',
      case when x.g % 50 = 0 then 'failed' else 'ok' end, case when x.t % 4 = 0 then 0 else x.g % 3 end
    from (
      select 1 as t, g, ${now}::timestamptz - make_interval(mins => 7 * g) as started
        from generate_series(1, ${sql.raw(String(BUSY_RUNS))}) g
      union all
      select t, g, ${now}::timestamptz - make_interval(hours => 12 * g, secs => t)
        from generate_series(2, ${sql.raw(String(TENANTS))}) t, generate_series(1, ${sql.raw(String(SMALL_RUNS))}) g
    ) x`);
  await db.execute(sql`insert into rejected_records (id, tenant_id, scope, fingerprint, stage, code, reason, created_at, last_seen_at)
    select 'rej_' || lpad(g::text, 26, '0'), 'ten_' || lpad(case when g <= ${sql.raw(String(BUSY_REJECTED))} then '1' else (g % ${sql.raw(String(TENANTS))} + 1)::text end, 26, '0'),
      'tenant', 'fp-' || g, 'validate', 'BAD', 'bad record',
      ${now}::timestamptz - make_interval(mins => 14 * g), ${now}::timestamptz - make_interval(mins => 7 * g)
    from generate_series(1, ${sql.raw(String(BUSY_REJECTED * 2))}) g`);
  await db.execute(sql`analyze`);
  const [row] = await db
    .select()
    .from(tenants)
    .where(inArray(tenants.id, [`ten_${'1'.padStart(26, '0')}`]));
  if (row === undefined) throw new Error('the busy tenant was not seeded');
  busy = row;
}, 120_000);

afterAll(async () => {
  await handle?.close();
  await database?.drop();
});

/** A bound parameter as a SQL literal, so EXPLAIN plans the statement with the values the call sent. */
function literal(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  const text =
    value instanceof Date ? value.toISOString() : typeof value === 'string' ? value : JSON.stringify(value);
  return `'${text.replaceAll("'", "''")}'`;
}

function nodesOf(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(nodesOf)];
}

/** The plan nodes of every statement `call` sends, from EXPLAIN (FORMAT JSON). */
async function plansOf(call: () => Promise<unknown>): Promise<PlanNode[][]> {
  statements = [];
  await call();
  const sent = statements;
  statements = [];
  const plans: PlanNode[][] = [];
  for (const { query, params } of sent) {
    const text = query.replace(/\$(\d+)/g, (_, n: string) => literal(params[Number(n) - 1]));
    const [row] = rowsOf<{ 'QUERY PLAN': unknown }>(
      await db.execute(sql.raw(`explain (format json) ${text}`)),
    );
    const raw = row?.['QUERY PLAN'];
    const parsed = (typeof raw === 'string' ? JSON.parse(raw) : raw) as Array<{ Plan: PlanNode }>;
    const top = parsed[0]?.Plan;
    if (top === undefined) throw new Error(`no plan for ${query}`);
    plans.push(nodesOf(top));
  }
  statements = [];
  return plans;
}

const indexesOf = (plans: PlanNode[][]) =>
  new Set(plans.flat().flatMap((node) => (node['Index Name'] === undefined ? [] : [node['Index Name']])));

const seqScans = (plans: PlanNode[][]) =>
  plans
    .flat()
    .filter(
      (node) =>
        node['Node Type'] === 'Seq Scan' &&
        (node['Relation Name'] === 'runs' || node['Relation Name'] === 'rejected_records'),
    )
    .map((node) => node['Relation Name']);

/**
 * Sort nodes over runs or rejected records not bounded by a time window: a "latest" or keyset lookup that
 * sorts a tenant's whole history instead of walking an index in its order.
 */
const sortsOfRuns = (plans: PlanNode[][]) =>
  plans
    .flat()
    .filter(
      (node) =>
        node['Node Type'] === 'Sort' &&
        nodesOf(node).some(
          (n) => n['Relation Name'] === 'runs' || n['Relation Name'] === 'rejected_records',
        ) &&
        !nodesOf(node).some((n) => /\b(started_at|created_at|last_seen_at) >= /.test(n['Index Cond'] ?? '')),
    )
    .map((node) => node['Node Type']);

describe('the hot queries of issue 17 use their indexes, never a sequential scan of runs or rejected records', () => {
  it('status: three prepared statements, the runs ones on runs(tenant_id, started_at) and the imported partial index; the activity chart one more range', async () => {
    const plans = await plansOf(() => statusFacts({ db, clock: () => NOW }, busy));
    const hourly = await plansOf(() => activityHours(db, busy.id, new Date(NOW.getTime() - 86_400_000)));

    expect(plans).toHaveLength(3);
    expect(hourly).toHaveLength(1);
    expect(seqScans(hourly)).toEqual([]);
    expect(indexesOf(hourly)).toContain('runs_tenant_started_idx');
    expect(seqScans(plans)).toEqual([]);
    for (const name of [
      'runs_tenant_started_idx',
      'runs_tenant_imported_idx',
      'rejected_records_tenant_created_idx',
    ]) {
      expect(indexesOf(plans)).toContain(name);
    }
    // The latest lookups walk the index in its order: no sort of a tenant's runs.
    expect(sortsOfRuns(plans)).toEqual([]);
  });

  it('live fragment: its version is one statement on the latest runs by id and the newest rejected record', async () => {
    const version = await plansOf(() => liveVersion(db, busy.id));
    const rest = await plansOf(async () => {
      await recentRuns(db, busy.id, 10);
      await rejectedSince(db, busy.id, new Date(NOW.getTime() - 86_400_000));
    });

    expect(version).toHaveLength(1);
    expect(seqScans([...version, ...rest])).toEqual([]);
    expect(indexesOf(version)).toContain('runs_tenant_id_idx');
    expect(indexesOf(version)).toContain('rejected_records_tenant_last_seen_idx');
    expect(indexesOf(rest)).toContain('runs_tenant_id_idx');
    expect(indexesOf(rest)).toContain('rejected_records_tenant_last_seen_idx');
  });

  it('operator overview: one statement, a page by name on tenants(name, id), health from latest-run probes and one window range', async () => {
    const first = await overviewPage(db, NOW, {});
    const after = first.next ?? '';
    const plans = await plansOf(() => overviewPage(db, NOW, { after }));
    const page = await db.select().from(tenants).orderBy(asc(tenants.name)).limit(50);
    const health = await plansOf(() => healthFacts(db, [busy, ...page], NOW));
    // One tenant (GET /v1/tenants/{id}): the prepared statement, planned with the values it was sent.
    const one = await plansOf(() => healthFacts(db, [busy], NOW));

    expect(health).toHaveLength(1);
    expect(one).toHaveLength(1);
    expect(seqScans(one)).toEqual([]);
    expect(indexesOf(one)).toContain('runs_tenant_started_idx');
    expect(indexesOf(one)).toContain('runs_tenant_imported_idx');
    expect(sortsOfRuns(one)).toEqual([]);
    expect(first.rows).toHaveLength(50);
    // The page, its tenants' health and the count: one statement.
    expect(plans).toHaveLength(1);
    expect(indexesOf(plans)).toContain('runs_tenant_started_idx');
    expect(indexesOf(plans)).toContain('runs_tenant_imported_idx');
    expect(sortsOfRuns(plans)).toEqual([]);
    expect(seqScans([...plans, ...health])).toEqual([]);
    expect(indexesOf(plans)).toContain('tenants_name_idx');
    expect(indexesOf(health)).toContain('runs_tenant_started_idx');
    expect(indexesOf(health)).toContain('runs_tenant_imported_idx');
    expect(sortsOfRuns(health)).toEqual([]);
  });

  it('runs and rejected records pages: keyset walks of runs(tenant_id, id) and rejected_records(tenant_id, last_seen_at, id)', async () => {
    const small = `ten_${'7'.padStart(26, '0')}`;
    const runsFirst = await listRuns(db, busy.id, { limit: 20 });
    const smallFirst = await listRuns(db, small, { limit: 20 });
    const rejectedFirst = await rejectedPage(db, busy.id, undefined, 20);
    const plans = await plansOf(async () => {
      await listRuns(db, busy.id, { limit: 20, cursor: runsFirst.nextCursor ?? undefined });
      await listRuns(db, small, { limit: 20, cursor: smallFirst.nextCursor ?? undefined });
      await rejectedPage(db, busy.id, rejectedFirst.nextCursor ?? undefined, 20);
    });

    expect(runsFirst.nextCursor).not.toBeNull();
    expect(smallFirst.nextCursor).not.toBeNull();

    expect(seqScans(plans)).toEqual([]);
    expect(indexesOf(plans)).toContain('runs_tenant_id_idx');
    expect(indexesOf(plans)).toContain('rejected_records_tenant_last_seen_idx');
    expect(sortsOfRuns(plans)).toEqual([]);
  });
});

describe('the cost forecast (ADR 0117)', () => {
  it("is one prepared statement per tenant, the window's runs one range of runs(tenant_id, started_at)", async () => {
    const plans = await plansOf(() => tenantForecast({ db, clock: () => NOW }, busy));

    expect(plans).toHaveLength(1);
    expect(seqScans(plans)).toEqual([]);
    expect(indexesOf(plans)).toContain('runs_tenant_started_idx');
    expect(sortsOfRuns(plans)).toEqual([]);
  });
});
