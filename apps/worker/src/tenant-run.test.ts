import { type SecurityHubImporter, StateError } from '@vsh/aws';
import type { PreparedFinding } from '@vsh/core';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { memoryState, memoryTenantStore, memoryVaikora } from '../test/memory-ports.ts';
import { createWorkerMetrics } from './metrics.ts';
import { DEFAULT_RUN_OPTIONS, type RunDeps, type RunOptions } from './ports.ts';
import { runTenant } from './run-tenant.ts';
import { testDestination, testTenant } from './tenant.test-support.ts';

// A tenant run against in-memory fakes of every port: the delivery rules of issue 11 without servers.

const config = testTenant(
  [testDestination('dst_1', '123456789012')],
  [{ id: 'str_1', destinationId: 'dst_1', agentId: 'agt-1', region: 'us-east-1' }],
);

const action = (i: number, timestampMs: number) => ({
  id: `act-${i}`,
  agent_id: 'agt-1',
  action_type: 'api_call',
  risk_level: 'high',
  risk_score: 80,
  timestamp: new Date(timestampMs).toISOString(),
});

function setup(
  list: () => unknown[],
  options: {
    run?: Partial<RunOptions>;
    pageDelayMs?: number;
    failRejections?: boolean;
    clock?: () => number;
  } = {},
) {
  const clock = options.clock ?? Date.now;
  const state = memoryState(clock);
  const tenant = memoryTenantStore(config, { failRejections: options.failRejections ?? false });
  const entries = new Map<string, number>();
  const importer: SecurityHubImporter = {
    destination: { accountId: '123456789012', region: 'us-east-1', partition: 'aws' },
    importFindings: async (items: readonly PreparedFinding[]) => {
      for (const p of items) entries.set(p.finding.Id, (entries.get(p.finding.Id) ?? 0) + 1);
      return {
        imported: items.map((p) => p.finding.Id),
        rejected: [],
        stats: { requests: 1, throttled: 0, transientErrors: 0, resentFindings: 0, rounds: 1 },
      };
    },
  };
  const deps: RunDeps = {
    sleep: async () => undefined,
    store: tenant.store,
    state,
    vaikora: () =>
      memoryVaikora(list, options.pageDelayMs === undefined ? {} : { pageDelayMs: options.pageDelayMs }),
    importer: () => importer,
    clock,
    logger: pino({ level: 'silent' }),
    metrics: createWorkerMetrics(),
    workerId: 'unit',
    options: { ...DEFAULT_RUN_OPTIONS, ...options.run },
  };
  return { deps, entries, state, tenant };
}

describe('a tenant run (in-memory ports)', () => {
  it('imports each of 5,000 actions of one 10-minute window once over many runs, and an idle run writes nothing', async () => {
    const now = Date.now();
    const list: unknown[] = [];
    // Newest first, as the API lists them: 5,000 actions within the last 8 minutes, in bursts of 5 per millisecond.
    const add = (from: number, count: number) => {
      for (let i = from; i < from + count; i++)
        list.unshift(action(i, now - 480_000 + Math.floor(i / 5) * 90));
    };
    add(0, 3000);
    const { deps, entries, state } = setup(() => list);

    await runTenant('ten_1', deps);
    add(3000, 2000);
    await runTenant('ten_1', deps);
    await runTenant('ten_1', deps);
    const writesBeforeIdle = state.writes;
    const idle = await runTenant('ten_1', deps);

    expect(entries.size).toBe(5000);
    expect([...entries.values()].every((n) => n === 1)).toBe(true);
    expect(state.writes).toBe(writesBeforeIdle);
    expect(idle.kind === 'ran' && idle.summary.findingsImported).toBe(0);
  });

  it('leaves no budget timer behind: a run that ended is not stopped when its budget would have run out (issue 16)', async () => {
    const now = Date.now();
    const t = setup(() => [action(1, now - 1000)], { run: { runBudgetMs: 150 } });
    const signals: AbortSignal[] = [];
    const deps: RunDeps = {
      ...t.deps,
      vaikora: (...args) => {
        const client = t.deps.vaikora(...args);
        return {
          ...client,
          sweep: (options) => {
            if (options.signal !== undefined) signals.push(options.signal);
            return client.sweep(options);
          },
        };
      },
    };
    const result = await runTenant('ten_1', deps);
    expect(result).toMatchObject({ kind: 'ran', summary: { status: 'ok' } });
    expect(signals.length).toBeGreaterThan(0);
    // fault-injection delay: past the run's budget, after the run ended.
    await new Promise((r) => setTimeout(r, 400));
    // A timer left running (AbortSignal.timeout) would have stopped the run's signal by now, with an
    // error built for a run long gone: one per run in a busy process, 5 minutes after each.
    expect(signals.map((s) => s.aborted)).toEqual(signals.map(() => false));
  });

  it('stops at its time budget, keeps what it sent, and the next run sends only the rest', async () => {
    const now = Date.now();
    const list = Array.from({ length: 1000 }, (_, i) => action(i, now - i * 100));
    const slow = setup(() => list, { run: { runBudgetMs: 300 }, pageDelayMs: 120 });
    const started = Date.now();

    const first = await runTenant('ten_1', slow.deps);
    const tookMs = Date.now() - started;
    const sentFirst = slow.entries.size;
    const fast = { ...slow.deps, vaikora: () => memoryVaikora(() => list) };
    await runTenant('ten_1', fast);

    expect(first.kind === 'ran' && first.summary.status).toBe('partial');
    expect(first.kind === 'ran' && first.summary.errorCode).toBe('RUN_BUDGET_SPENT');
    expect(tookMs).toBeLessThan(2000);
    expect(sentFirst).toBeGreaterThan(0);
    expect(sentFirst).toBeLessThan(1000);
    expect(slow.entries.size).toBe(1000);
    expect([...slow.entries.values()].every((n) => n === 1)).toBe(true);
  });

  it('goes on when rejected records cannot be kept, and moves the cursor', async () => {
    const now = Date.now();
    const list: unknown[] = [
      action(1, now - 1000),
      { agent_id: 'agt-1', note: 'no id \u0000', timestamp: 'garbage' },
      action(2, now - 2000),
    ];
    const { deps, entries, state, tenant } = setup(() => list, { failRejections: true });

    const result = await runTenant('ten_1', deps);

    expect(entries.size).toBe(2);
    expect((await state.getCursor('ten_1', 'str_1'))?.positionMs).toBe(now - 1000);
    expect(result.kind === 'ran' && result.summary.errorCode).toBe('REJECTIONS_NOT_KEPT');
    // No SQL and no raw record in what the tenant sees.
    expect(JSON.stringify(tenant.runs)).not.toMatch(/insert|params|\\u0000/i);
  });

  it('a run killed mid-sweep re-sends only what it handled after its last checkpoint', async () => {
    const now = Date.now();
    const list = Array.from({ length: 1000 }, (_, i) => action(i, now - i * 100));
    // Each clock reading is 700 ms later: a checkpoint falls every few pages.
    let t = now;
    const clock = () => (t += 700);
    const dying = setup(() => list, {
      clock,
      run: { leaseTtlMs: 2_000_000_000, runBudgetMs: 2_000_000_000 },
    });
    // The process dies after its second checkpoint: no write of it lands after that.
    let writes = 0;
    const advance = dying.state.advanceCursor.bind(dying.state);
    dying.deps.state.advanceCursor = async (...args) => {
      if (++writes > 2) throw new StateError('UNAVAILABLE', 'the process is gone', true);
      return advance(...args);
    };
    await runTenant('ten_1', dying.deps);
    const sentBeforeDeath = dying.entries.size;
    dying.deps.state.advanceCursor = advance;

    await runTenant('ten_1', { ...dying.deps, vaikora: () => memoryVaikora(() => list) });
    const resent = [...dying.entries.values()].filter((n) => n > 1).length;

    expect(writes).toBeGreaterThan(2);
    expect(sentBeforeDeath).toBe(1000);
    expect(dying.entries.size).toBe(1000);
    // Without checkpoints every one of the 1,000 would be sent again.
    expect(resent).toBeGreaterThan(0);
    expect(resent).toBeLessThan(1000);
  });
});
