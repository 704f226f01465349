import { getEventListeners } from 'node:events';
import { AwsError, StateError } from '@vsh/aws';
import { type PreparedFinding, reject, type VaikoraAction } from '@vsh/core';
import { type SweepOptions, VaikoraError } from '@vsh/vaikora';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { memoryState, memoryVaikora } from '../test/memory-ports.ts';
import type { DestinationHealth } from './health.ts';
import { createWorkerMetrics } from './metrics.ts';
import {
  DEFAULT_RUN_OPTIONS,
  type ImportOutcome,
  type KeptRejections,
  type RunDeps,
  type RunOptions,
  type RunSummary,
  type TenantConfig,
  type TenantStore,
} from './ports.ts';
import { type RunResult, runTenant } from './run-tenant.ts';
import { testAction, testDestination, testTenant } from './tenant.test-support.ts';

// Every branch of a tenant run (run-tenant.ts) against in-memory fakes of its ports: no process, no
// emulator. The multi-process tests (*.int.test.ts) run the same code against the real servers.

const NOW = Date.parse('2026-12-01T12:00:00.000Z');
const MIN = 60_000;

const destination = testDestination;

/** One agent routed to two destinations in two accounts. */
const twoDestinations = testTenant(
  [destination('dst_1', '111111111111'), destination('dst_2', '222222222222')],
  [
    { id: 'str_1', destinationId: 'dst_1', agentId: 'agt-1', region: 'us-east-1' },
    { id: 'str_2', destinationId: 'dst_2', agentId: 'agt-1', region: 'us-east-1' },
  ],
);
const oneDestination = testTenant(
  [destination('dst_1', '111111111111')],
  [{ id: 'str_1', destinationId: 'dst_1', agentId: 'agt-1', region: 'us-east-1' }],
);

/** An action as the sweep lists it, with only what `metHandled` reads (ADR 0142). */
const listedAs = (id: string, timestampMs: number) => ({ id, timestampMs }) as VaikoraAction;

/**
 * Lists `listed()` through the memory Vaikora and calls `ask` with the sweep's request after each page the
 * run took, as the client asks `metHandled` (ADR 0142). While `failAfterFirstPage()` holds, the first page
 * says more follows and the next fails: the run stops early, what it sent is kept, the position stays.
 * With `endByCursor`, a sweep's last page ends it by the cursor rule instead of the list's end (ADR 0145).
 */
function askAfterEachPage(
  w: ReturnType<typeof world>,
  listed: () => unknown[],
  ask: (request: SweepOptions, actions: readonly VaikoraAction[]) => void,
  options: { failAfterFirstPage?: () => boolean; endByCursor?: boolean } = {},
): void {
  const inner = memoryVaikora(listed);
  w.deps = {
    ...w.deps,
    vaikora: () => ({
      ...inner,
      async *sweep(request) {
        for await (const page of inner.sweep(request)) {
          const fail = options.failAfterFirstPage?.() === true;
          const stop = options.endByCursor === true && page.stop === 'end' ? ('cursor' as const) : page.stop;
          yield { ...page, stop: fail ? null : stop };
          ask(request, page.actions);
          if (fail) throw new VaikoraError('UNAVAILABLE', 'page 2 failed', true);
        }
      },
    }),
  };
}

/** The time a listed action is stamped at. */
const stampOf = (listed: readonly { id: string; timestamp: string }[], id: string) =>
  Date.parse(listed.find((a) => a.id === id)?.timestamp ?? '');
const action = (id: string, minutesAgo: number, risk: 'high' | 'low' = 'high') =>
  testAction(id, 'agt-1', NOW - minutesAgo * MIN, risk);

type Importer = (accountId: string, items: readonly PreparedFinding[]) => Promise<ImportOutcome>;

const takesAll: Importer = async (_account, items) => ({
  imported: items.map((p) => p.finding.Id),
  rejected: [],
  stats: { throttled: 0 },
});

/** A tenant's world: its config, its Vaikora list, its Security Hubs, its state, what the run wrote. */
function world(
  config: TenantConfig | null,
  list: unknown[],
  options: { run?: Partial<RunOptions>; importer?: Importer; clock?: () => number } = {},
) {
  const clock = options.clock ?? (() => NOW);
  const events: string[] = [];
  const sent = new Map<string, string[]>();
  const health: Array<{ destinationId: string; health: DestinationHealth; lastError: string | null }> = [];
  const runs: RunSummary[] = [];
  const state = memoryState(clock);
  const advance = state.advanceCursor.bind(state);
  state.advanceCursor = async (...args) => {
    events.push(`cursor:${args[1]}`);
    return advance(...args);
  };
  const store: TenantStore = {
    loadTenant: async () => config,
    startRun: async () => 'run_1',
    finishRun: async (_id, summary) => {
      runs.push(summary);
    },
    // loadTenant gives the config as is (never `lastRunQuiet`): every run takes the lease.
    recordQuietRun: async () => {
      throw new Error('no quiet run expected');
    },
    recordRejections: async (_t, _r, batch): Promise<KeptRejections> => ({
      inserted: batch.length,
      repeated: 0,
      failed: 0,
    }),
    saveDestinationHealth: async (destinationId, h, lastError) => {
      health.push({ destinationId, health: h, lastError });
    },
  };
  const importer = options.importer ?? takesAll;
  const deps: RunDeps = {
    sleep: async () => undefined,
    store,
    state,
    vaikora: () => memoryVaikora(() => list),
    importer: (route) => ({
      importFindings: async (items) => {
        const { accountId } = route.destination;
        events.push(`import:${accountId}`);
        const result = await importer(accountId, items);
        sent.set(accountId, [...(sent.get(accountId) ?? []), ...result.imported]);
        return result;
      },
    }),
    clock,
    logger: pino({ level: 'silent' }),
    metrics: createWorkerMetrics(),
    workerId: 'unit',
    options: { ...DEFAULT_RUN_OPTIONS, ...options.run },
  };
  return { deps, state, events, sent, health, runs };
}

function summaryOf(result: RunResult): RunSummary {
  if (result.kind !== 'ran') throw new Error(`the run did not run: ${result.kind}`);
  return result.summary;
}

/** Stores a cursor for `streamId` as an earlier run would have. */
async function storeCursor(state: RunDeps['state'], streamId: string, positionMs: number) {
  const lease = await state.acquireLease('ten_1', 'earlier-run', 1000);
  if (lease === null) throw new Error('lease not free');
  await state.advanceCursor(lease, streamId, { positionMs, updatedAtMs: positionMs });
  await state.releaseLease(lease);
}

describe('runTenant: before the run', () => {
  it('is busy when another run holds the lease, and touches nothing', async () => {
    const w = world(oneDestination, [action('a', 1)]);
    await w.state.acquireLease('ten_1', 'someone-else', 60_000);

    const result = await runTenant('ten_1', w.deps);

    expect(result.kind).toBe('busy');
    expect(w.events).toEqual([]);
  });

  it('is gone when the tenant is offboarded, and releases the lease', async () => {
    const w = world(null, []);

    const result = await runTenant('ten_1', w.deps);

    expect(result.kind).toBe('gone');
    expect(await w.state.acquireLease('ten_1', 'next', 1000)).not.toBeNull();
  });

  it('leaves no listener on the shutdown signal it shares with every other run of the process', async () => {
    const w = world(null, []);
    const shutdown = new AbortController();

    for (let i = 0; i < 25; i++) await runTenant(`ten_${i}`, w.deps, shutdown.signal);

    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
  });
});

describe('runTenant: configuration problems fail the run without reading Vaikora', () => {
  it.each<[string, TenantConfig, string]>([
    ['no Vaikora settings', { ...oneDestination, vaikora: null }, 'NO_VAIKORA_SETTINGS'],
    [
      'a Vaikora key that cannot be opened',
      {
        ...oneDestination,
        vaikora: null,
        vaikoraProblem: { code: 'VAIKORA_KEY_UNREADABLE', message: 'set it again' },
      },
      'VAIKORA_KEY_UNREADABLE',
    ],
    [
      'no runnable destination',
      { ...oneDestination, destinations: [destination('dst_1', '111111111111', { state: 'pending' })] },
      'NO_RUNNABLE_DESTINATION',
    ],
  ])('%s', async (_name, config, code) => {
    const w = world(config, [action('a', 1)]);

    const summary = summaryOf(await runTenant('ten_1', w.deps));

    expect(summary).toMatchObject({ status: 'failed', errorCode: code, actionsRead: 0 });
    expect(w.events).toEqual([]);
  });
});

describe('runTenant: delivery and the cursor', () => {
  it('moves the cursor only after the import, to the newest action sent: status ok', async () => {
    const w = world(oneDestination, [action('a', 1), action('b', 2, 'low'), action('c', 3)]);

    const summary = summaryOf(await runTenant('ten_1', w.deps));

    expect(w.events).toEqual(['import:111111111111', 'cursor:str_1']);
    expect((await w.state.getCursor('ten_1', 'str_1'))?.positionMs).toBe(NOW - MIN);
    expect(summary).toMatchObject({
      status: 'ok',
      actionsRead: 3,
      findingsMapped: 2,
      findingsImported: 2,
      actionsSkipped: 1,
      errorCode: null,
      lagSeconds: 60,
    });
    expect(summary.recentFindings.map((f) => f.id)).toEqual(['vaikora-a', 'vaikora-c']);
  });

  it('writes nothing on an idle run (nothing new since the cursor)', async () => {
    const w = world(oneDestination, [action('a', 1)]);
    await runTenant('ten_1', w.deps);
    w.events.length = 0;

    const summary = summaryOf(await runTenant('ten_1', w.deps));

    expect(w.events).toEqual([]);
    expect(summary).toMatchObject({ status: 'ok', findingsImported: 0 });
    expect(summary.destinationStats.dst_1).toMatchObject({ read: 1, alreadySent: 1 });
  });

  it('logs one line per run at info level: the summary, naming the tenant, the run and its streams', async () => {
    const w = world(oneDestination, [action('a', 1)]);
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });

    await runTenant('ten_1', { ...w.deps, logger });

    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: 'run finished', tenantId: 'ten_1', runId: 'run_1', streams: 1 });
  });

  it('a failed destination does not stop another that succeeds: partial, the failed one keeps its cursor and degrades', async () => {
    const importer: Importer = async (account, items) => {
      if (account === '222222222222') throw new AwsError('SECURITY_HUB_NOT_ENABLED', 'Security Hub is off');
      return takesAll(account, items);
    };
    const config = {
      ...twoDestinations,
      destinations: [
        destination('dst_1', '111111111111'),
        destination('dst_2', '222222222222', {
          health: { state: 'active', consecutiveFailures: 1, firstFailureAtMs: NOW - MIN },
        }),
      ],
    };
    const w = world(config, [action('a', 1)], { importer });

    const summary = summaryOf(await runTenant('ten_1', w.deps));

    expect(summary).toMatchObject({
      status: 'partial',
      errorCode: 'SECURITY_HUB_NOT_ENABLED',
      findingsImported: 1,
    });
    expect(summary.destinationStats.dst_2).toMatchObject({
      errorCode: 'SECURITY_HUB_NOT_ENABLED',
      imported: 0,
    });
    expect(w.events.filter((e) => e.startsWith('cursor:'))).toEqual(['cursor:str_1']);
    expect(w.health).toEqual([
      {
        destinationId: 'dst_2',
        health: { state: 'degraded', consecutiveFailures: 2, firstFailureAtMs: NOW - MIN },
        lastError: 'SECURITY_HUB_NOT_ENABLED: Security Hub is off',
      },
    ]);
  });

  it("a destination failed by one agent's stream is not read or sent to for the next agent", async () => {
    const importer: Importer = async () => {
      throw new AwsError('ACCESS_DENIED', 'denied');
    };
    const config = testTenant(
      [destination('dst_1', '111111111111')],
      [
        { id: 'str_1', destinationId: 'dst_1', agentId: 'agt-1', region: 'us-east-1' },
        { id: 'str_2', destinationId: 'dst_1', agentId: 'agt-2', region: 'us-east-1' },
      ],
    );
    const list = [action('a', 1), testAction('b', 'agt-2', NOW - 2 * MIN)];
    const w = world(config, list, { importer });
    const read: string[] = [];
    const getStream = w.state.getStream.bind(w.state);
    w.state.getStream = async (tenantId, streamId) => {
      read.push(streamId);
      return getStream(tenantId, streamId);
    };

    const summary = summaryOf(await runTenant('ten_1', w.deps));

    // One of the two streams (the agent swept first: the order moves from run to run, ADR 0134).
    expect(read).toHaveLength(1);
    // Nothing was imported before the destination failed: nothing to keep, no cursor write (ADR 0132).
    expect(w.events).toEqual(['import:111111111111']);
    expect(summary).toMatchObject({ status: 'failed', errorCode: 'ACCESS_DENIED' });
  });

  it('every destination failed: status failed', async () => {
    const importer: Importer = async () => {
      throw new AwsError('ROLE_UNUSABLE', 'AssumeRole refused');
    };
    const w = world(twoDestinations, [action('a', 1)], { importer });

    const summary = summaryOf(await runTenant('ten_1', w.deps));

    expect(summary).toMatchObject({ status: 'failed', errorCode: 'ROLE_UNUSABLE', actionsRead: 1 });
    expect(w.health.map((h) => h.destinationId)).toEqual(['dst_1', 'dst_2']);
  });

  it('a transient import failure: blockedAtMs keeps the cursor before every action not sent, and the next run sends them', async () => {
    let calls = 0;
    const importer: Importer = async (account, items) => {
      if (++calls === 1) throw new AwsError('TRANSIENT', 'Security Hub timed out');
      return takesAll(account, items);
    };
    // Newest first; the first import fails, so the oldest action is not sent either.
    const list = [action('a', 1), action('b', 30, 'low'), action('c', 60)];
    const w = world(oneDestination, list, { importer, run: { importChunk: 1 } });

    const first = summaryOf(await runTenant('ten_1', w.deps));
    await runTenant('ten_1', w.deps);

    expect(first).toMatchObject({ status: 'partial', errorCode: 'TRANSIENT', findingsImported: 0 });
    expect(first.destinationStats.dst_1).toMatchObject({ notSent: 2, skipped: 1 });
    expect(w.sent.get('111111111111')).toEqual(['vaikora-a', 'vaikora-c']);
    expect(w.health).toEqual([]);
  });

  it('findings Security Hub did not take yet (retryable): IMPORT_INCOMPLETE, and the cursor stays before them', async () => {
    let calls = 0;
    const importer: Importer = async (_account, items) => ({
      imported: ++calls === 1 ? [] : items.map((p) => p.finding.Id),
      rejected:
        calls === 1
          ? items.map((p) =>
              reject('IMPORT_REJECTED', 'import', 'ThrottlingException', p.action.id, undefined, true),
            )
          : [],
      stats: { throttled: calls === 1 ? 1 : 0 },
    });
    const w = world(oneDestination, [action('a', 1)], { importer });

    const first = summaryOf(await runTenant('ten_1', w.deps));
    await runTenant('ten_1', w.deps);

    expect(first).toMatchObject({ status: 'partial', errorCode: 'IMPORT_INCOMPLETE', throttles: 1 });
    expect(w.sent.get('111111111111')).toEqual(['vaikora-a']);
  });

  it('findings Security Hub refused for good are kept as rejected and the cursor moves past them', async () => {
    const importer: Importer = async (_account, items) => ({
      imported: [],
      rejected: items.map((p) => reject('IMPORT_REJECTED', 'import', 'InvalidInput: bad field', p.action.id)),
      stats: { throttled: 0 },
    });
    const w = world(oneDestination, [action('a', 1)], { importer });

    const summary = summaryOf(await runTenant('ten_1', w.deps));

    expect(summary).toMatchObject({ status: 'ok', recordsRejected: 1 });
    expect(summary.destinationStats.dst_1).toMatchObject({ rejected: 1, notSent: 0 });
    expect((await w.state.getCursor('ten_1', 'str_1'))?.positionMs).toBe(NOW - MIN);
  });

  it('RETENTION_GAP when the cursor is older than Vaikora keeps actions and the list ends after it', async () => {
    const w = world(oneDestination, [action('a', 1)]);
    await storeCursor(w.state, 'str_1', NOW - 8 * 24 * 60 * MIN);

    const summary = summaryOf(await runTenant('ten_1', w.deps));

    expect(summary).toMatchObject({ status: 'partial', errorCode: 'RETENTION_GAP', findingsImported: 1 });
    expect(summary.errorMessage).toContain('may have expired from Vaikora');
  });

  it('BACKLOG_TOO_LARGE when the sweep hits its page limit: the cursor does not move', async () => {
    const w = world(oneDestination, []);
    const limited = memoryVaikora(() => [action('a', 1)]);
    w.deps = {
      ...w.deps,
      vaikora: () => ({
        ...limited,
        async *sweep(request) {
          for await (const page of limited.sweep(request)) yield { ...page, stop: 'max-pages' as const };
        },
      }),
    };

    const summary = summaryOf(await runTenant('ten_1', w.deps));

    expect(summary).toMatchObject({ status: 'partial', errorCode: 'BACKLOG_TOO_LARGE', findingsImported: 1 });
    // Not complete: only what it sent goes into the seen-set; the position stays where its window began.
    expect((await w.state.getCursor('ten_1', 'str_1'))?.positionMs).toBe(
      NOW - DEFAULT_RUN_OPTIONS.initialLookbackMs + DEFAULT_RUN_OPTIONS.overlapMs,
    );
  });
});

describe('runTenant: the sweep expects an action inside the window only where a cursor says so (ADR 0131)', () => {
  it('tells the sweep which actions a stream with a cursor handled (by its seen-set), and nothing for a new stream', async () => {
    const w = world(oneDestination, [action('a', 1)]);
    const asked: Array<{ given: boolean; a: boolean | undefined; other: boolean | undefined }> = [];
    // The second run finds a new action too, so its page is not the one the last write vouched for and
    // the seen-set is read (ADR 0128).
    let listed = [action('a', 1)];
    // The answer stays yes once given, so the action never listed is asked first.
    askAfterEachPage(
      w,
      () => listed,
      (request) =>
        asked.push({
          given: request.metHandled !== undefined,
          other: request.metHandled?.([listedAs('never-listed', stampOf(listed, 'a'))]),
          a: request.metHandled?.([listedAs('a', stampOf(listed, 'a'))]),
        }),
    );

    await runTenant('ten_1', w.deps);
    listed = [action('b', 0), action('a', 1)];
    await runTenant('ten_1', w.deps);

    // The first run had no cursor; the second knows `a` from the seen-set the first wrote.
    expect(asked).toEqual([
      { given: false, a: undefined, other: undefined },
      { given: true, a: true, other: false },
    ]);
  });
});

describe('runTenant: what an earlier run handled, as the sweep asks it (ADR 0142, 0143, 0146)', () => {
  // In the third run, 'b' is in the seen-set, put by the second run, which stopped early: it may head the
  // list ahead of what that run did not reach (review of ADR 0142), so it counts for nothing; what the first
  // run's digest counted still does, whether the second run's write kept that digest at the same position
  // (ADR 0146) or its cursor update was refused after its seen-set put (ADR 0143).
  it.each([
    ['a run that stopped early', false],
    ['a run whose cursor update was refused after its seen-set put', true],
  ])('counts nothing that %s stored, and what the run before it counted still', async (_, loseLease) => {
    const w = world(oneDestination, [action('a', 5)]);
    let listed = [action('a', 5)];
    let failAfterFirstPage = false;
    let losing = false;
    const asked: Array<{ a: boolean | undefined; b: boolean | undefined }> = [];
    // 'b' first: the answer stays yes once given.
    askAfterEachPage(
      w,
      () => listed,
      (request) =>
        asked.push({
          b: request.metHandled?.([listedAs('b', stampOf(listed, 'b'))]),
          a: request.metHandled?.([listedAs('a', stampOf(listed, 'a'))]),
        }),
      { failAfterFirstPage: () => failAfterFirstPage },
    );
    // The lease lost while the run writes: its seen-set put lands, its cursor update is refused.
    const advance = w.state.advanceCursor.bind(w.state);
    w.state.advanceCursor = async (lease, ...rest) => {
      if (losing) await w.state.releaseLease(lease);
      return advance(lease, ...rest);
    };

    await runTenant('ten_1', w.deps);
    // 'b' is stamped inside the range the first run's position covers (a late action).
    listed = [action('b', 6), action('a', 5)];
    failAfterFirstPage = true;
    losing = loseLease;
    const partial = await runTenant('ten_1', w.deps);
    failAfterFirstPage = false;
    losing = false;
    await runTenant('ten_1', w.deps);

    expect(partial.kind === 'ran' && partial.summary.status).not.toBe('ok');
    expect(asked).toEqual([
      // The first run: no cursor, no question. The second: its cursor's write vouched for its window, so
      // what its seen-set holds counts ('b' is not in it yet).
      { a: undefined, b: undefined },
      { a: true, b: false },
      { a: true, b: false },
    ]);
    expect(w.sent.get('111111111111')?.filter((id) => id === 'vaikora-b')).toHaveLength(1);
  });
});

describe('runTenant: the sweep meets what earlier runs read only with as many of their actions as the vouching write found (ADR 0144)', () => {
  it('one handled action listed again at the head is not enough, nor the same one twice; all of them are', async () => {
    let listed = [action('a', 5), action('c', 6)];
    const w = world(oneDestination, listed);
    const answers: Array<boolean | undefined> = [];
    askAfterEachPage(
      w,
      () => listed,
      (request) =>
        answers.push(
          request.metHandled?.([listedAs('a', stampOf(listed, 'a'))]),
          request.metHandled?.([listedAs('a', stampOf(listed, 'a'))]),
          request.metHandled?.([listedAs('c', stampOf(listed, 'c'))]),
        ),
    );

    await runTenant('ten_1', w.deps);
    listed = [action('b', 0), action('a', 5), action('c', 6)];
    await runTenant('ten_1', w.deps);

    // The first run: no cursor. The second: its cursor's write found 'a' and 'c' in its position's range.
    expect(answers).toEqual([undefined, undefined, undefined, false, false, true]);
  });
});

describe('runTenant: a sweep cut short of what earlier runs read says so (ADR 0145)', () => {
  it('asks the sweep to read on while a stream counted handled actions it has not met, and marks the run when it stopped short', async () => {
    let listed = [action('a', 5), action('c', 6)];
    const w = world(oneDestination, listed);
    const asked: Array<boolean | undefined> = [];
    askAfterEachPage(
      w,
      () => listed,
      (request, actions) => {
        request.metHandled?.(actions);
        asked.push(request.expectsHandled?.());
      },
      { endByCursor: true },
    );

    const first = summaryOf(await runTenant('ten_1', w.deps));
    // Then the list holds only a late upload: 'a' and 'c' are behind it, past what the sweep may read.
    listed = [action('late', 60)];
    const cut = summaryOf(await runTenant('ten_1', w.deps));
    listed = [action('b', 0), action('a', 5), action('c', 6)];
    const met = summaryOf(await runTenant('ten_1', w.deps));

    expect(first.status).toBe('ok');
    expect(cut).toMatchObject({ status: 'partial', errorCode: 'LATE_UPLOAD_UNREAD' });
    expect(met.status).toBe('ok');
    // No cursor on the first run; the second expects 'a' and 'c'; the third met them.
    expect(asked).toEqual([false, true, false]);
  });
});

describe('runTenant: the sweep has met what earlier runs read only for every stream of the agent (ADR 0142, second review)', () => {
  it('one destination that could not deliver keeps the late pages read for the agent, whatever the other met', async () => {
    let failSecond = false;
    const importer: Importer = async (account, items) => {
      if (failSecond && account === '222222222222') throw new AwsError('TRANSIENT', 'Security Hub timed out');
      return takesAll(account, items);
    };
    let listed = [action('a', 5)];
    const w = world(twoDestinations, listed, { importer });
    const answers: Array<boolean | undefined> = [];
    askAfterEachPage(
      w,
      () => listed,
      (request) => answers.push(request.metHandled?.([listedAs('a', stampOf(listed, 'a'))])),
    );

    await runTenant('ten_1', w.deps);
    listed = [action('b', 1), action('a', 5)];
    failSecond = true;
    await runTenant('ten_1', w.deps);
    failSecond = false;
    await runTenant('ten_1', w.deps);

    // The second run: both streams' writes vouched, both hold 'a'. The third: dst_2 left 'b' undelivered,
    // so its stream vouches for nothing, and dst_1's 'a' does not end the reading for it.
    expect(answers).toEqual([undefined, true, false]);
    expect(w.sent.get('222222222222')).toEqual(['vaikora-a', 'vaikora-b']);
  });
});

describe('runTenant: a seen-set is read only when some action may be new (issue 16)', () => {
  /** Counts the seen-set reads by stream, failing those of `failing`. */
  function countReads(w: ReturnType<typeof world>, failing: ReadonlySet<string> = new Set()) {
    const reads: string[] = [];
    const read = w.state.getStream.bind(w.state);
    w.state.getStream = async (tenantId, streamId) => {
      reads.push(streamId);
      if (failing.has(streamId)) throw new StateError('UNAVAILABLE', 'DynamoDB call failed: timeout', true);
      return read(tenantId, streamId);
    };
    return reads;
  }

  it('an idle stream, whose window holds no action, is not read and not written', async () => {
    const w = world(oneDestination, [action('old', 120)]);
    await storeCursor(w.state, 'str_1', NOW - 60 * MIN);
    w.events.length = 0;
    const reads = countReads(w);

    const summary = summaryOf(await runTenant('ten_1', w.deps));

    expect(summary).toMatchObject({ status: 'ok', actionsRead: 1, findingsImported: 0 });
    expect(summary.destinationStats.dst_1).toMatchObject({ read: 1, alreadySent: 1 });
    expect(reads).toEqual([]);
    expect(w.events).toEqual([]);
    expect((await w.state.getCursor('ten_1', 'str_1'))?.positionMs).toBe(NOW - 60 * MIN);
  });

  it('reads a stream once, at the first page with an action inside its window', async () => {
    // A Vaikora listing oldest first, one action a page: the second page reaches the window.
    const w = world(oneDestination, [action('old', 120), action('new', 5), action('newer', 4)]);
    w.deps = {
      ...w.deps,
      vaikora: () =>
        memoryVaikora(() => [action('old', 120), action('new', 5), action('newer', 4)], { perPage: 1 }),
    };
    await storeCursor(w.state, 'str_1', NOW - 60 * MIN);
    const reads = countReads(w);

    const summary = summaryOf(await runTenant('ten_1', w.deps));
    const again = summaryOf(await runTenant('ten_1', w.deps));

    expect(summary).toMatchObject({ status: 'ok', actionsRead: 3, findingsImported: 2 });
    expect(again).toMatchObject({ status: 'ok', findingsImported: 0 });
    expect(w.sent.get('111111111111')?.sort()).toEqual(
      expect.arrayContaining([expect.stringContaining('new')]),
    );
    expect(w.sent.get('111111111111')).toHaveLength(2);
    // Once per run: the second run's window holds both again, so it reads to find them seen.
    expect(reads).toEqual(['str_1', 'str_1']);
  });

  it('an idle run whose one page holds the ids its last write vouched for reads no seen-set (ADR 0128)', async () => {
    const list = [action('a', 3), action('b', 2), action('c', 1, 'low')];
    const w = world(oneDestination, list);
    const reads = countReads(w);

    const first = summaryOf(await runTenant('ten_1', w.deps));
    const idle = summaryOf(await runTenant('ten_1', w.deps));

    expect(first).toMatchObject({ status: 'ok', findingsImported: 2, actionsSkipped: 1 });
    expect(idle).toMatchObject({ status: 'ok', actionsRead: 3, findingsImported: 0, actionsSkipped: 0 });
    expect(idle.destinationStats.dst_1).toMatchObject({ read: 3, alreadySent: 3 });
    expect(reads).toEqual(['str_1']);
    expect((await w.state.getCursor('ten_1', 'str_1'))?.windowDigest).toMatch(
      /^[A-Za-z0-9_-]{22}\.[0-9]+\.[0-9]+$/,
    );
  });

  it('a late action inside the window, or one gone, makes the page differ: the seen-set is read and only the new one sent', async () => {
    const list: unknown[] = [action('a', 3), action('b', 2)];
    const w = world(oneDestination, list);
    w.deps = { ...w.deps, vaikora: () => memoryVaikora(() => list) };
    const reads = countReads(w);

    await runTenant('ten_1', w.deps);
    // Stamped before the newest one sent, inside the overlap: a late arrival.
    list.push(action('late', 2.5));
    const late = summaryOf(await runTenant('ten_1', w.deps));
    list.splice(0, 1);
    const gone = summaryOf(await runTenant('ten_1', w.deps));

    expect(late).toMatchObject({ status: 'ok', findingsImported: 1 });
    expect(gone).toMatchObject({ status: 'ok', findingsImported: 0 });
    expect(w.sent.get('111111111111')?.filter((id) => id.includes('late'))).toHaveLength(1);
    expect(w.sent.get('111111111111')).toHaveLength(3);
    expect(reads).toEqual(['str_1', 'str_1', 'str_1']);
  });

  it('a write that left an action undelivered vouches for nothing: the next run reads and sends it once', async () => {
    let refuse = true;
    // `b` is below the thresholds: handled (and written) while `a` waits for Security Hub.
    const w = world(oneDestination, [action('a', 3), action('b', 2, 'low')], {
      importer: async (_account, items) => {
        if (!refuse) return takesAll(_account, items);
        refuse = false;
        throw new AwsError('TRANSIENT', 'Security Hub unavailable', true);
      },
    });
    const reads = countReads(w);

    const failed = summaryOf(await runTenant('ten_1', w.deps));
    const next = summaryOf(await runTenant('ten_1', w.deps));
    const idle = summaryOf(await runTenant('ten_1', w.deps));

    expect(failed).toMatchObject({ findingsImported: 0, actionsSkipped: 1 });
    // The failed run wrote (b seen), the next one too (a sent), the idle one not.
    expect(w.events.filter((e) => e.startsWith('cursor:'))).toHaveLength(2);
    expect(next).toMatchObject({ status: 'ok', findingsImported: 1 });
    expect(idle).toMatchObject({ status: 'ok', findingsImported: 0 });
    expect(w.sent.get('111111111111')).toHaveLength(1);
    // The failed run's write carried no digest; the next one's does, so the idle run reads nothing.
    expect(reads).toEqual(['str_1', 'str_1']);
  });

  it('vouches only for ids it handled: an action Security Hub neither took nor refused is read again and sent', async () => {
    let drop = true;
    const w = world(oneDestination, [action('a', 3), action('b', 2)], {
      // An answer that leaves one finding out (neither imported nor rejected), once.
      importer: async (account, items) => {
        if (!drop) return takesAll(account, items);
        drop = false;
        const kept = items.filter((p) => !p.action.id.includes('a'));
        return takesAll(account, kept);
      },
    });
    const reads = countReads(w);

    const first = summaryOf(await runTenant('ten_1', w.deps));
    const second = summaryOf(await runTenant('ten_1', w.deps));

    expect(first.findingsImported).toBe(1);
    expect(second.findingsImported).toBe(1);
    expect(w.sent.get('111111111111')).toHaveLength(2);
    expect(reads).toEqual(['str_1', 'str_1']);
  });

  it('decides per stream: a stream of the agent skipped on its digest while the other, which could not deliver, is read and sends', async () => {
    let refuse = true;
    const w = world(twoDestinations, [action('a', 3), action('b', 2)], {
      importer: async (account, items) => {
        if (account === '222222222222' && refuse) {
          refuse = false;
          throw new AwsError('TRANSIENT', 'Security Hub unavailable', true);
        }
        return takesAll(account, items);
      },
    });
    const reads = countReads(w);

    await runTenant('ten_1', w.deps);
    const afterFirst = reads.splice(0);
    const second = summaryOf(await runTenant('ten_1', w.deps));
    const afterSecond = reads.splice(0);
    const third = summaryOf(await runTenant('ten_1', w.deps));

    expect(afterFirst.sort()).toEqual(['str_1', 'str_2']);
    expect(second).toMatchObject({ status: 'ok', findingsImported: 2 });
    expect(afterSecond).toEqual(['str_2']);
    expect(third).toMatchObject({ status: 'ok', findingsImported: 0 });
    expect(reads).toEqual([]);
    expect(w.sent.get('111111111111')).toHaveLength(2);
    expect(w.sent.get('222222222222')).toHaveLength(2);
  });

  it('a sweep that read more than 1,000 actions inside the window hashes none: its digest counts them and spares no read (ADR 0146)', async () => {
    // One page of 1,001 actions, all inside the window: a server sending more than it was asked.
    const list = Array.from({ length: 1001 }, (_, i) => action(`many-${i}`, 5 + i / 1000));
    const w = world(oneDestination, list);
    w.deps = { ...w.deps, vaikora: () => memoryVaikora(() => list, { perPage: 2000 }) };
    const reads = countReads(w);

    const first = summaryOf(await runTenant('ten_1', w.deps));
    const idle = summaryOf(await runTenant('ten_1', w.deps));

    expect(first).toMatchObject({ status: 'ok', findingsImported: 1001 });
    expect(idle).toMatchObject({ status: 'ok', findingsImported: 0 });
    // No hash, the count of the window's ids, the epoch of the first run's lease.
    expect((await w.state.getCursor('ten_1', 'str_1'))?.windowDigest).toBe('.1001.1');
    expect(reads).toEqual(['str_1', 'str_1']);
  });

  it('a seen-set that cannot be read stops the sweep at that page, and nothing a stream read before is lost', async () => {
    // str_1 has a recent cursor (window from 30 minutes ago); str_2 is new (window 24 hours). A server
    // listing out of order: page 1 holds only actions older than str_1's window, page 2 (the last) one
    // inside it, and one far older that only str_2 wants.
    const list = [
      action('p1-a', 60),
      action('p1-b', 65),
      action('p1-c', 70),
      action('p2-in', 25),
      action('p2-old', 100),
    ];
    const w = world(twoDestinations, list);
    w.deps = { ...w.deps, vaikora: () => memoryVaikora(() => list, { perPage: 3 }) };
    await storeCursor(w.state, 'str_1', NOW - 20 * MIN);
    const failing = new Set(['str_1']);
    const reads = countReads(w, failing);

    const first = summaryOf(await runTenant('ten_1', w.deps));
    failing.clear();
    const second = summaryOf(await runTenant('ten_1', w.deps));

    expect(first).toMatchObject({ status: 'partial', errorCode: 'STATE_UNAVAILABLE' });
    // Page 1 reached str_2 only; page 2 was delivered to neither.
    expect(first.destinationStats.dst_2).toMatchObject({ imported: 3 });
    expect(reads.slice(0, 2)).toEqual(['str_2', 'str_1']);
    expect(second).toMatchObject({ status: 'ok' });
    // Every action reaches str_2's account once, the oldest too: the failed run did not move its cursor past it.
    expect(w.sent.get('222222222222')?.length).toBe(5);
    expect(new Set(w.sent.get('222222222222')).size).toBe(5);
    expect(w.sent.get('111111111111')?.length).toBe(1);
  });
});

describe('runTenant: failures outside Security Hub', () => {
  it('Vaikora refuses the key: every stream of the agent fails, destinations degrade but are never disabled', async () => {
    const w = world(oneDestination, []);
    const config = {
      ...oneDestination,
      destinations: [
        destination('dst_1', '111111111111', {
          state: 'degraded',
          health: { state: 'degraded', consecutiveFailures: 9, firstFailureAtMs: NOW - 60 * MIN },
        }),
      ],
    };
    w.deps = {
      ...w.deps,
      store: { ...w.deps.store, loadTenant: async () => config },
      vaikora: () => ({
        ...memoryVaikora(() => []),
        // biome-ignore lint/correctness/useYield: a sweep that fails before its first page
        async *sweep() {
          throw new VaikoraError('UNAUTHORIZED', 'the key was refused', false);
        },
      }),
    };

    const summary = summaryOf(await runTenant('ten_1', w.deps));

    expect(summary).toMatchObject({ status: 'failed', errorCode: 'VAIKORA_UNAUTHORIZED', actionsRead: 0 });
    expect(w.health).toEqual([
      {
        destinationId: 'dst_1',
        health: { state: 'degraded', consecutiveFailures: 10, firstFailureAtMs: NOW - 60 * MIN },
        lastError: 'VAIKORA_UNAUTHORIZED: the key was refused',
      },
    ]);
  });

  it('an unexpected error names its kind only, never its text', async () => {
    const w = world(oneDestination, []);
    w.deps = {
      ...w.deps,
      vaikora: () => ({
        ...memoryVaikora(() => []),
        // biome-ignore lint/correctness/useYield: a sweep that fails before its first page
        async *sweep() {
          throw new TypeError('secret text: vk_live_123');
        },
      }),
    };

    const summary = summaryOf(await runTenant('ten_1', w.deps));

    expect(summary).toMatchObject({ status: 'failed', errorCode: 'UNEXPECTED' });
    expect(summary.errorMessage).toContain('TypeError');
    expect(summary.errorMessage).not.toContain('vk_live_123');
  });

  it('a cursor that cannot be read skips the agent: STATE_UNAVAILABLE, nothing imported', async () => {
    const w = world(oneDestination, [action('a', 1)]);
    w.state.getStream = async () => {
      throw new StateError('UNAVAILABLE', 'DynamoDB call failed: timeout', true);
    };

    const summary = summaryOf(await runTenant('ten_1', w.deps));

    expect(summary).toMatchObject({ status: 'failed', errorCode: 'STATE_UNAVAILABLE', findingsImported: 0 });
    expect(w.events).toEqual([]);
  });

  it('cursors that cannot be read at all: STATE_UNAVAILABLE, no stream swept, Vaikora not asked', async () => {
    const w = world(oneDestination, [action('a', 1)]);
    w.state.readTenant = async () => {
      throw new StateError('UNAVAILABLE', 'DynamoDB call failed: timeout', true);
    };

    const summary = summaryOf(await runTenant('ten_1', w.deps));

    expect(summary).toMatchObject({
      status: 'failed',
      errorCode: 'STATE_UNAVAILABLE',
      actionsRead: 0,
      findingsImported: 0,
    });
    expect(w.events).toEqual([]);
    expect(w.state.writes).toBe(0);
  });

  it('a cursor that cannot be written: CURSOR_NOT_SAVED, partial', async () => {
    const w = world(oneDestination, [action('a', 1)]);
    w.state.advanceCursor = async () => {
      throw new StateError('UNAVAILABLE', 'DynamoDB call failed: throttled', true);
    };

    const summary = summaryOf(await runTenant('ten_1', w.deps));

    expect(summary).toMatchObject({ status: 'partial', errorCode: 'CURSOR_NOT_SAVED', findingsImported: 1 });
  });

  it('the lease lost at the cursor write: LEASE_LOST', async () => {
    const w = world(oneDestination, [action('a', 1)]);
    w.state.advanceCursor = async () => {
      throw new StateError('LEASE_LOST', 'taken over', false);
    };

    const summary = summaryOf(await runTenant('ten_1', w.deps));

    expect(summary).toMatchObject({ status: 'partial', errorCode: 'LEASE_LOST' });
  });

  it('the lease lost at a checkpoint: the run stops and writes no cursor after it', async () => {
    // Each clock reading is 1 s later: a checkpoint falls after the second page.
    let t = NOW;
    const list = Array.from({ length: 500 }, (_, i) => action(`a${i}`, 1 + i / 100));
    const w = world(oneDestination, list, {
      clock: () => (t += 1000),
      run: { leaseTtlMs: 1e12, runBudgetMs: 1e9 },
    });
    const writes: string[] = [];
    w.state.advanceCursor = async (_lease, streamId) => {
      writes.push(streamId);
      throw new StateError('LEASE_LOST', 'taken over', false);
    };

    const summary = summaryOf(await runTenant('ten_1', w.deps));

    expect(writes).toEqual(['str_1']);
    expect(summary).toMatchObject({ status: 'partial', errorCode: 'LEASE_LOST' });
    expect(summary.findingsImported).toBeLessThan(500);
  });

  it('the lease run out by the local clock (a paused process): LEASE_EXPIRED before the next import, no cursor written', async () => {
    let t = NOW;
    const importer: Importer = async (account, items) => {
      t += DEFAULT_RUN_OPTIONS.leaseTtlMs;
      return takesAll(account, items);
    };
    const w = world(oneDestination, [action('a', 1), action('b', 2)], {
      clock: () => t,
      importer,
      run: { importChunk: 1 },
    });

    const summary = summaryOf(await runTenant('ten_1', w.deps));

    expect(summary).toMatchObject({ status: 'partial', errorCode: 'LEASE_EXPIRED', findingsImported: 1 });
    expect(w.events).toEqual(['import:111111111111']);
  });

  it('a shutdown before the run reads anything: partial with SHUTDOWN, not an error', async () => {
    const w = world(oneDestination, [action('a', 1)]);
    const shutdown = new AbortController();
    shutdown.abort();

    const summary = summaryOf(await runTenant('ten_1', w.deps, shutdown.signal));

    expect(summary).toMatchObject({ status: 'partial', errorCode: 'SHUTDOWN', findingsImported: 0 });
    expect(w.events).toEqual([]);
  });
});

describe('runTenant: destination health', () => {
  it('a verified destination that received findings becomes active', async () => {
    const config = {
      ...oneDestination,
      destinations: [
        destination('dst_1', '111111111111', {
          state: 'verified',
          health: { state: 'verified', consecutiveFailures: 0, firstFailureAtMs: null },
        }),
      ],
    };
    const w = world(config, [action('a', 1)]);

    await runTenant('ten_1', w.deps);

    expect(w.health).toEqual([
      {
        destinationId: 'dst_1',
        health: { state: 'active', consecutiveFailures: 0, firstFailureAtMs: null },
        lastError: null,
      },
    ]);
  });

  it('a degraded destination with nothing to receive recovers when the run finished cleanly', async () => {
    const config = {
      ...oneDestination,
      destinations: [
        destination('dst_1', '111111111111', {
          state: 'degraded',
          health: { state: 'degraded', consecutiveFailures: 3, firstFailureAtMs: NOW - MIN },
        }),
      ],
    };
    const w = world(config, []);

    await runTenant('ten_1', w.deps);

    expect(w.health.map((h) => h.health.state)).toEqual(['active']);
  });

  it('an active destination without failures is not written', async () => {
    const w = world(oneDestination, [action('a', 1)]);

    await runTenant('ten_1', w.deps);

    expect(w.health).toEqual([]);
  });
});
