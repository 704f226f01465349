import { AwsError } from '@vsh/aws';
import type { PreparedFinding } from '@vsh/core';
import type { VaikoraClient, VaikoraPage } from '@vsh/vaikora';
import { describe, expect, it } from 'vitest';
import { testRunDeps } from '../test/counting-hub.ts';
import { memoryState, memoryTenantStore, memoryVaikora } from '../test/memory-ports.ts';
import type { DestinationHealth } from './health.ts';
import { createWorkerMetrics, type MetricRecord } from './metrics.ts';
import { DEFAULT_RUN_OPTIONS, type FindingImporter, type RunOptions } from './ports.ts';
import { runTenant } from './run-tenant.ts';
import { ONE_STREAM_TENANT, testAction } from './tenant.test-support.ts';

// ADR 0136: what a dropped quiet attempt must not leave behind (found by a review of its first version):
// metrics counted twice, a second full run budget, a tenant loaded before another run changed it.

const config = ONE_STREAM_TENANT;
const action = (id: string, timestampMs: number) => testAction(id, 'agt-1', timestampMs);

const CYCLE_MS = 5 * 60_000;

function setup(options: Partial<RunOptions> = {}) {
  let now = Date.parse('2026-12-05T10:00:00Z');
  const clock = () => now;
  const list: unknown[] = [];
  const state = memoryState(clock);
  const tenant = memoryTenantStore(config);
  // The destination's health as the control plane keeps it: saved by a run, read by the next load.
  const health = new Map<string, DestinationHealth>();
  const load = tenant.store.loadTenant.bind(tenant.store);
  tenant.store.loadTenant = async (tenantId) => {
    const c = await load(tenantId);
    if (c === null) return null;
    return {
      ...c,
      destinations: c.destinations.map((d) => {
        const h = health.get(d.id);
        return h === undefined ? d : { ...d, state: h.state, health: h };
      }),
    };
  };
  tenant.store.saveDestinationHealth = async (destinationId, h) => {
    health.set(destinationId, h);
  };
  const imports = new Map<string, number>();
  let importFails: Error | null = null;
  const importer: FindingImporter = {
    importFindings: async (items: readonly PreparedFinding[]) => {
      if (importFails !== null) throw importFails;
      for (const p of items) imports.set(p.finding.Id, (imports.get(p.finding.Id) ?? 0) + 1);
      return { imported: items.map((p) => p.finding.Id), rejected: [], stats: { throttled: 0 } };
    },
  };
  const memory = memoryVaikora(() => list);
  let client: VaikoraClient = memory;
  const metrics = createWorkerMetrics();
  const recorded: MetricRecord[] = [];
  metrics.addSink({ record: (entry) => recorded.push(entry) });
  const deps = testRunDeps({
    sleep: async () => undefined,
    store: tenant.store,
    state,
    vaikora: () => client,
    importer: () => importer,
    clock,
    metrics,
    options: { ...DEFAULT_RUN_OPTIONS, ...options },
  });
  return {
    deps,
    state,
    tenant,
    health,
    imports,
    list,
    memory,
    recorded,
    useVaikora(next: VaikoraClient) {
      client = next;
    },
    failImports(err: Error | null) {
      importFails = err;
    },
    async next() {
      now += CYCLE_MS;
      return runTenant('ten_1', deps, undefined, tenant.hint);
    },
    advance() {
      now += CYCLE_MS;
    },
    now: () => now,
  };
}

/** The first run imports, the second (idle) takes the lease and is recorded quiet, the third runs quiet. */
async function quietTenant(options: Partial<RunOptions> = {}) {
  const t = setup(options);
  for (let i = 0; i < 20; i++) t.list.unshift(action(`act-${i}`, t.now() - 200_000 + i * 1000));
  await t.next();
  await t.next();
  await t.next();
  expect(t.tenant.runs.map((r) => r.quiet ?? false)).toEqual([false, false, true]);
  return t;
}

describe('a quiet attempt dropped (ADR 0136)', () => {
  it('a dropped quiet run counts no metric: one broken record read by one run is counted once in vsh_records_rejected_total', async () => {
    const t = await quietTenant();
    // A record that does not parse (a NUL in its id): a rejection of the page, no action of a window.
    t.list.unshift(action('act-\u0000nul', t.now() + 30_000));
    const before = t.recorded.length;
    const result = await t.next();
    expect(result).toMatchObject({ kind: 'ran', summary: { recordsRejected: 1 } });
    // One run was recorded (the one under the lease); the dropped quiet attempt is not a run.
    expect(t.tenant.runs.at(-1)?.quiet).toBeUndefined();
    expect(t.tenant.kept).toHaveLength(1);
    const rejected = t.recorded
      .slice(before)
      .filter((r) => r.metric === 'rejected')
      .reduce((n, r) => n + r.value, 0);
    // ADR 0136: "the run is dropped (its log lines too, its metrics never counted)".
    expect(rejected).toBe(1);
  });

  it('the quiet attempt and the run under the lease share one run budget: no Vaikora request after it is spent', async () => {
    const budgetMs = 150;
    const t = await quietTenant({ runBudgetMs: budgetMs });
    // Vaikora slows down (a hung answer, or many agents on a slow server): a request answers only
    // when the run's signal gives it up at the budget.
    const starts: number[] = [];
    t.useVaikora({
      ...t.memory,
      async *sweep({ signal }): AsyncGenerator<VaikoraPage> {
        starts.push(starts.length);
        await new Promise<never>((_, reject) => {
          if (signal?.aborted) reject(signal.reason);
          signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
        });
      },
    });
    const result = await t.next();
    expect(result).toMatchObject({
      kind: 'ran',
      summary: { status: 'failed', errorCode: 'RUN_BUDGET_SPENT' },
    });
    // On Lambda the budget is the function's timeout less a fifth: a second full budget after the
    // first runs into the timeout, and the invocation (every message of its batch) is killed mid-run.
    // The quiet attempt's request only: the run under the lease starts with its budget spent.
    expect(starts).toHaveLength(1);
  });

  it('a destination failing in two runs that overlapped a quiet attempt counts two failures: the run under the lease reads the tenant under it', async () => {
    const t = await quietTenant();
    t.list.unshift(action('act-new', t.now() + 60_000));
    t.failImports(new AwsError('ACCESS_DENIED', 'the role may not call BatchImportFindings'));
    // Run A loads the tenant and starts without the lease; while its Vaikora request is out, run B
    // (the same tenant's message delivered twice, or "run now") runs from start to end: it finds
    // the new action, takes the lease, fails the destination and saves its health.
    let other: Promise<unknown> | undefined;
    const memory = t.memory;
    t.useVaikora({
      ...memory,
      async *sweep(options): AsyncGenerator<VaikoraPage> {
        if (other === undefined) {
          other = runTenant('ten_1', t.deps, undefined, t.tenant.hint);
          await other;
        }
        yield* memory.sweep(options);
      },
    });
    const a = await t.next();
    const b = await other;
    expect(b).toMatchObject({ kind: 'ran', summary: { status: 'failed', errorCode: 'ACCESS_DENIED' } });
    expect(a).toMatchObject({ kind: 'ran', summary: { status: 'failed', errorCode: 'ACCESS_DENIED' } });
    // Two runs under the lease, one after the other, each failed the destination.
    expect(t.tenant.runs.slice(-2).map((r) => [r.quiet, r.summary?.errorCode])).toEqual([
      [undefined, 'ACCESS_DENIED'],
      [undefined, 'ACCESS_DENIED'],
    ]);
    // The second computed its health from the tenant as loaded before the first ran: one failure lost
    // (DEFAULT degradeAfterFailures is 2, so the destination should now be degraded).
    expect(t.health.get('dst_1')).toMatchObject({ consecutiveFailures: 2, state: 'degraded' });
  });
});
