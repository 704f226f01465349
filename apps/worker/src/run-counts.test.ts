import type { SecurityHubImporter } from '@vsh/aws';
import { type PreparedFinding, reject } from '@vsh/core';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { memoryState, memoryTenantStore, memoryVaikora } from '../test/memory-ports.ts';
import { createWorkerMetrics } from './metrics.ts';
import { DEFAULT_RUN_OPTIONS, type RunDeps, type RunOptions, type TenantConfig } from './ports.ts';
import { type RunResult, runTenant } from './run-tenant.ts';
import { testAction, testDestination, testTenant } from './tenant.test-support.ts';

// What a run counts per destination must add up (ADR 0100): every action a stream read is exactly one of
// already handled, below the thresholds, rejected, imported, or not sent yet.

const config = testTenant(
  [testDestination('dst_1', '123456789012')],
  [{ id: 'str_1', destinationId: 'dst_1', agentId: 'agt-1', region: 'us-east-1' }],
);

const action = (i: number, timestampMs: number, risk: 'high' | 'low' = 'high') =>
  testAction(`act-${i}`, 'agt-1', timestampMs, risk);

/** Security Hub refusing `act-3` for good and `act-4` for now; taking every other finding. */
const pickyImporter: SecurityHubImporter = {
  destination: { accountId: '123456789012', region: 'us-east-1', partition: 'aws' },
  importFindings: async (items: readonly PreparedFinding[]) => {
    const refused = (p: PreparedFinding) => p.action.id === 'act-3' || p.action.id === 'act-4';
    return {
      imported: items.filter((p) => !refused(p)).map((p) => p.finding.Id),
      rejected: items
        .filter(refused)
        .map((p) =>
          reject(
            'IMPORT_REJECTED',
            'import',
            `InvalidInput: ${p.action.id} refused`,
            p.action.id,
            undefined,
            p.action.id === 'act-4',
          ),
        ),
      stats: { requests: 1, throttled: 0, transientErrors: 0, resentFindings: 0, rounds: 1 },
    };
  },
};

function setup(list: () => unknown[], options: { run?: Partial<RunOptions>; pageDelayMs?: number } = {}) {
  const state = memoryState(Date.now);
  const tenant = memoryTenantStore(config, { failRejections: false });
  const deps: RunDeps = {
    store: tenant.store,
    state,
    vaikora: () =>
      memoryVaikora(list, {
        perPage: 2,
        ...(options.pageDelayMs === undefined ? {} : { pageDelayMs: options.pageDelayMs }),
      }),
    importer: () => pickyImporter,
    clock: Date.now,
    logger: pino({ level: 'silent' }),
    metrics: createWorkerMetrics(),
    workerId: 'unit',
    options: { ...DEFAULT_RUN_OPTIONS, ...options.run },
  };
  return { deps };
}

function summaryOf(result: RunResult) {
  if (result.kind !== 'ran') throw new Error(`the run did not run: ${result.kind}`);
  return result.summary;
}

describe('run counts', () => {
  it('splits every action a destination read into already handled, below thresholds, rejected, imported and not sent', async () => {
    const now = Date.now();
    const list: unknown[] = [action(1, now - 1000), action(2, now - 2000, 'low')];
    const { deps } = setup(() => list);
    const first = summaryOf(await runTenant('ten_1', deps));
    list.unshift(action(5, now - 300), action(4, now - 400), action(3, now - 500));

    const second = summaryOf(await runTenant('ten_1', deps));

    expect(first.destinationStats.dst_1).toMatchObject({
      read: 2,
      alreadySent: 0,
      skipped: 1,
      rejected: 0,
      imported: 1,
      notSent: 0,
    });
    const stats = second.destinationStats.dst_1;
    expect(stats).toMatchObject({
      read: 5,
      alreadySent: 2,
      skipped: 0,
      rejected: 1,
      imported: 1,
      notSent: 1,
    });
    const {
      read = -1,
      alreadySent = 0,
      otherAgent = 0,
      skipped,
      rejected,
      imported,
      notSent = 0,
    } = stats ?? ({} as never);
    expect(alreadySent + otherAgent + skipped + rejected + imported + notSent).toBe(read);
    expect(second).toMatchObject({ status: 'partial', errorCode: 'IMPORT_INCOMPLETE' });
  });

  it("never sends an action that names another routed agent to this agent's account, and counts it", async () => {
    const now = Date.now();
    const imported: string[] = [];
    const list: unknown[] = [
      action(1, now - 1000),
      { ...action(2, now - 2000), agent_id: 'agt-2' },
      { ...action(6, now - 3000), agent_id: undefined },
      { ...action(7, now - 4000), agent_id: '\u202eforged' },
    ];
    const { deps } = setup(() => list);
    const routed: RunDeps = {
      ...deps,
      store: memoryTenantStore(
        {
          ...config,
          // agt-2 goes to another AWS account.
          destinations: [
            ...config.destinations,
            {
              ...(config.destinations[0] as TenantConfig['destinations'][number]),
              id: 'dst_2',
              accountId: '210987654321',
              roleArn: 'arn:aws:iam::210987654321:role/VaikoraSecurityHubImport',
            },
          ],
          streams: [
            ...config.streams,
            { id: 'str_2', destinationId: 'dst_2', agentId: 'agt-2', region: 'us-east-1' },
          ],
        },
        { failRejections: false },
      ).store,
      importer: (route) => ({
        ...pickyImporter,
        importFindings: async (items: readonly PreparedFinding[]) => {
          imported.push(...items.map((p) => `${route.destination.accountId}:${p.action.id}`));
          return pickyImporter.importFindings(items);
        },
      }),
    };

    const summary = summaryOf(await runTenant('ten_1', routed));

    // The list ignores the agent filter: each stream reads all four. agt-2's action reaches only dst_2; one
    // that names no agent, or an agent this tenant does not route, is the queried agent's (the filter matched).
    expect(imported.filter((id) => id.startsWith('123456789012:')).sort()).toEqual([
      '123456789012:act-1',
      '123456789012:act-6',
      '123456789012:act-7',
    ]);
    expect(imported.filter((id) => id.startsWith('210987654321:')).sort()).toEqual([
      '210987654321:act-2',
      '210987654321:act-6',
      '210987654321:act-7',
    ]);
    expect(summary.destinationStats.dst_1).toMatchObject({ read: 4, otherAgent: 1, imported: 3 });
    expect(summary.destinationStats.dst_2).toMatchObject({ read: 4, otherAgent: 1, imported: 3 });
  });

  it('a run stopped by a shutdown is partial and says so with a code and a message', async () => {
    const now = Date.now();
    const list = Array.from({ length: 40 }, (_, i) => action(i + 10, now - i * 1000));
    const { deps } = setup(() => list);
    const shutdown = new AbortController();
    // The shutdown arrives while the run asks for its second page.
    const stoppedAfterOnePage: RunDeps = {
      ...deps,
      vaikora: (connection) => {
        const client = deps.vaikora(connection);
        return {
          ...client,
          async *sweep(request) {
            for await (const page of client.sweep(request)) {
              yield page;
              shutdown.abort(new Error('SIGTERM'));
            }
          },
        };
      },
    };

    const summary = summaryOf(await runTenant('ten_1', stoppedAfterOnePage, shutdown.signal));

    expect(summary.status).toBe('partial');
    expect(summary.errorCode).toBe('SHUTDOWN');
    expect(summary.errorMessage).toMatch(/stopped .* next run/);
  });

  it('a run stopped by a shutdown before it read anything is partial, not failed, and says why', async () => {
    const { deps } = setup(() => [action(10, Date.now())]);

    const summary = summaryOf(await runTenant('ten_1', deps, AbortSignal.abort(new Error('SIGTERM'))));

    expect(summary).toMatchObject({ status: 'partial', errorCode: 'SHUTDOWN', actionsRead: 0 });
  });

  it('a run whose lease ran out by its own clock is partial with LEASE_EXPIRED, never without an error', async () => {
    const now = Date.now();
    const list = Array.from({ length: 40 }, (_, i) => action(i + 10, now - i * 1000));
    const { deps } = setup(() => list, { pageDelayMs: 30 });
    let t = now;
    // The process was paused: each clock reading is a minute later than the last.
    const paused = { ...deps, clock: () => (t += 60_000), options: { ...deps.options, leaseTtlMs: 150_000 } };

    const summary = summaryOf(await runTenant('ten_1', paused));

    expect(summary.status).not.toBe('ok');
    expect(summary.errorCode).toBe('LEASE_EXPIRED');
    expect(summary.errorMessage).not.toBeNull();
  });

  it('keeps the newest 50 findings a run sent, newest first', async () => {
    const now = Date.now();
    const list = Array.from({ length: 120 }, (_, i) => action(i + 10, now - i * 1000));
    const { deps } = setup(() => list);

    const summary = summaryOf(await runTenant('ten_1', deps));

    const times = summary.recentFindings.map((f) => Date.parse(f.time));
    expect(summary.findingsImported).toBe(120);
    expect(times).toHaveLength(50);
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(summary.recentFindings[0]?.id).toBe('vaikora-act-10');
  });
});
