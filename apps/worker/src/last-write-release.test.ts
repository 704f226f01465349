import { StateError } from '@vsh/aws';
import { describe, expect, it } from 'vitest';
import { countingImporter, testRunDeps } from '../test/counting-hub.ts';
import { memoryState, memoryTenantStore, memoryVaikora } from '../test/memory-ports.ts';
import { DEFAULT_RUN_OPTIONS, type OpenHealthCondition, type RunDeps, type TenantConfig } from './ports.ts';
import { runTenant } from './run-tenant.ts';
import { ONE_STREAM_TENANT, testAction, testDestination, testTenant } from './tenant.test-support.ts';

// ADR 0140: a run's last cursor write releases its lease in the same write, when nothing is written
// under the lease after it; the lease is then free for the next run, and no release call is made.

const NOW = Date.parse('2026-12-05T10:00:00Z');
const TWO_AGENTS: TenantConfig = testTenant(
  [testDestination('dst_1', '123456789012')],
  [
    { id: 'str_1', destinationId: 'dst_1', agentId: 'agt-1', region: 'us-east-1' },
    { id: 'str_2', destinationId: 'dst_1', agentId: 'agt-2', region: 'us-east-1' },
  ],
);

function setup(config: TenantConfig = ONE_STREAM_TENANT, extra: Partial<RunDeps> = {}) {
  const clock = () => NOW;
  const state = memoryState(clock);
  const tenant = memoryTenantStore(config);
  const { importer, imports } = countingImporter();
  const list = config.streams.flatMap((s, n) =>
    Array.from({ length: 12 }, (_, i) => testAction(`act-${n}-${i}`, s.agentId, NOW - 60_000 + i * 1000)),
  );
  /** Each cursor write as the run sent it: its stream, and whether it asked for the release. */
  const writes: { streamId: string; release: boolean; writeId: string | undefined }[] = [];
  const advance = state.advanceCursor.bind(state);
  state.advanceCursor = (lease, streamId, next, options = {}) => {
    writes.push({ streamId, release: options.release === true, writeId: options.writeId });
    return advance(lease, streamId, next, options);
  };
  const deps = testRunDeps({
    sleep: async () => undefined,
    store: tenant.store,
    state,
    vaikora: () => memoryVaikora(() => list),
    importer: () => importer,
    clock,
    ...extra,
  });
  return { state, deps, imports, writes, run: () => runTenant('ten_1', deps) };
}

/** A health store that holds `open` and records each save. */
function healthStore(open: readonly OpenHealthCondition[] = []) {
  const saves: unknown[] = [];
  return {
    saves,
    store: {
      getOpenHealth: async () => open,
      saveOpenHealth: async (_lease: unknown, next: unknown) => void saves.push(next),
    },
  };
}

/** The tenant store of `deps` with the end each run is recorded with kept; `tail` delays the record. */
function recordingEnd(deps: RunDeps, tail: () => Promise<unknown> = async () => undefined) {
  const finish = deps.store.finishRun.bind(deps.store);
  const recorded = {
    finishedAt: 0,
    store: {
      ...deps.store,
      finishRun: async (...args: Parameters<typeof finish>) => {
        recorded.finishedAt = args[2].getTime();
        await tail();
        return finish(...args);
      },
    },
  };
  return recorded;
}

/**
 * The tenant store of `t` with each destination health save recorded, and whether the lease was free
 * when it was made (a next run could have taken it and loaded the health before the save).
 */
function probingHealthSaves(t: ReturnType<typeof setup>) {
  const saved: { destinationId: string; leaseFree: boolean }[] = [];
  const store = {
    ...t.deps.store,
    saveDestinationHealth: async (destinationId: string) => {
      const probe = await t.state.acquireLease('ten_1', 'probe-next-run', 1);
      saved.push({ destinationId, leaseFree: probe !== null });
    },
  };
  return { saved, store };
}

describe('the last cursor write releases the lease (ADR 0140)', () => {
  it('a busy run releases its lease with its one cursor write: no release call, the lease free at once', async () => {
    const t = setup();
    const result = await t.run();

    expect(result.kind === 'ran' && result.summary.status).toBe('ok');
    expect(t.writes).toEqual([{ streamId: 'str_1', release: true, writeId: expect.any(String) }]);
    expect(t.state.releases).toEqual({ calls: 0, withWrite: 1 });
    expect(await t.state.acquireLease('ten_1', 'next-run', 30_000)).not.toBeNull();
    expect([...t.imports.values()].every((n) => n === 1)).toBe(true);
    expect(t.imports.size).toBe(12);
  });

  it('records the run as ended when the write that released the lease was sent: a next run starts after it', async () => {
    const t = setup();
    let tick = NOW;
    const ticking = { ...t.deps, clock: () => (tick += 1) };
    let landedAtMs = 0;
    const advance = t.state.advanceCursor;
    t.state.advanceCursor = async (...args) => {
      const outcome = await advance(...args);
      landedAtMs = ticking.clock();
      return outcome;
    };
    const recorded = recordingEnd(t.deps);
    await runTenant('ten_1', { ...ticking, store: recorded.store });

    expect(t.state.releases.withWrite).toBe(1);
    expect(recorded.finishedAt).toBeGreaterThan(0);
    expect(recorded.finishedAt).toBeLessThan(landedAtMs);
  });

  it("only the run's last write carries it, whichever agent is swept last", async () => {
    const t = setup(TWO_AGENTS);
    await t.run();

    expect(t.writes.map((w) => w.release)).toEqual([false, true]);
    expect(new Set(t.writes.map((w) => w.streamId))).toEqual(new Set(['str_1', 'str_2']));
    expect(t.state.releases).toEqual({ calls: 0, withWrite: 1 });
  });

  it('a run with nothing to write releases its lease by call', async () => {
    const t = setup();
    await t.run();
    const second = await t.run();

    expect(second.kind === 'ran' && second.summary.findingsImported).toBe(0);
    expect(t.state.releases).toEqual({ calls: 1, withWrite: 1 });
  });

  it('keeps the lease for the health report when it may write (a condition open, a heartbeat on, the stored state unknown)', async () => {
    const open: OpenHealthCondition = {
      destinationId: 'dst_1',
      region: 'us-east-1',
      condition: 'retention_gap',
      openedAtMs: NOW - 3_600_000,
      imported: true,
    };
    const heartbeat: TenantConfig = {
      ...ONE_STREAM_TENANT,
      destinations: [testDestination('dst_1', '123456789012', { heartbeat: true })],
    };
    const cases = [
      { config: ONE_STREAM_TENANT, stored: [open], readWithHealth: true },
      { config: heartbeat, stored: [], readWithHealth: true },
      { config: ONE_STREAM_TENANT, stored: [], readWithHealth: false },
    ];
    const outcomes = [];
    for (const { config, stored, readWithHealth } of cases) {
      const health = healthStore(stored);
      const t = setup(config, { healthState: health.store });
      // The DynamoDB store reads the open conditions with the cursors; this one only when asked to.
      const read = t.state.readTenant.bind(t.state);
      t.state.readTenant = async (lease) => ({
        ...(await read(lease)),
        ...(readWithHealth ? { openHealth: stored } : {}),
      });
      await t.run();
      outcomes.push({ writes: t.writes.map((w) => w.release), releases: { ...t.state.releases } });
    }

    expect(outcomes).toEqual(cases.map(() => ({ writes: [false], releases: { calls: 1, withWrite: 0 } })));
  });

  it('releases with the write when health state is kept and nothing is open', async () => {
    const health = healthStore([]);
    const t = setup(ONE_STREAM_TENANT, { healthState: health.store });
    const read = t.state.readTenant.bind(t.state);
    t.state.readTenant = async (lease) => ({ ...(await read(lease)), openHealth: [] });
    await t.run();

    expect(t.state.releases).toEqual({ calls: 0, withWrite: 1 });
    expect(health.saves).toEqual([]);
  });

  it('tries a failed last write again with the release, under the same write id, with no renewal between', async () => {
    const t = setup();
    const advance = t.state.advanceCursor;
    let failed = false;
    t.state.advanceCursor = (lease, streamId, next, options = {}) => {
      if (!failed) {
        failed = true;
        t.writes.push({ streamId, release: options.release === true, writeId: options.writeId });
        return Promise.reject(new StateError('UNAVAILABLE', 'throttled', true));
      }
      return advance(lease, streamId, next, options);
    };
    const result = await t.run();

    expect(result.kind === 'ran' && result.summary.status).toBe('ok');
    expect(t.writes.map((w) => w.release)).toEqual([true, true]);
    expect(t.writes[1]?.writeId).toBe(t.writes[0]?.writeId);
    expect(t.state.releases).toEqual({ calls: 0, withWrite: 1 });
  });

  it('knows the lease released by a try whose answer was lost: no renewal holds it again, the run ends before a next one starts', async () => {
    let tick = NOW;
    const t = setup(ONE_STREAM_TENANT, {
      clock: () => (tick += 1),
      // Renewals every second (the holder's floor), so that the tail below sees one if any is sent.
      options: { ...DEFAULT_RUN_OPTIONS, leaseTtlMs: 3_000 },
    });
    const advance = t.state.advanceCursor;
    t.state.advanceCursor = async (lease, streamId, next, options = {}) => {
      const outcome = await advance(lease, streamId, next, options);
      // The first releasing try lands; its answer is lost (a timeout after DynamoDB applied it).
      if (outcome === 'released' && t.state.releases.withWrite === 1 && !lost) {
        lost = true;
        throw new StateError('UNAVAILABLE', 'DynamoDB call failed: socket timeout', true);
      }
      return outcome;
    };
    let lost = false;
    let renewals = 0;
    const renew = t.state.renewLease.bind(t.state);
    t.state.renewLease = (...args) => {
      renewals++;
      return renew(...args);
    };
    let nextRunStartedAt = 0;
    // fault-injection delay: a slow PostgreSQL at the run's tail, long enough for a renewal tick.
    const recorded = recordingEnd(t.deps, () => new Promise((resolve) => setTimeout(resolve, 1_300)));
    const store = recorded.store;
    // While the run waits to try its write again, another process takes the released lease and starts.
    const sleep = async () => {
      if ((await t.state.acquireLease('ten_1', 'next-run', 20_000)) !== null) nextRunStartedAt = tick += 1;
    };
    const result = await runTenant('ten_1', { ...t.deps, store, sleep });

    expect(result.kind === 'ran' && result.summary.status).toBe('ok');
    expect(lost).toBe(true);
    expect(renewals).toBe(0);
    expect(t.state.releases.calls).toBe(0);
    expect(nextRunStartedAt).toBeGreaterThan(0);
    expect(recorded.finishedAt).toBeLessThan(nextRunStartedAt);
  });

  it('records the end as the releasing write was sent when every try failed after the first landed (its fate unknown)', async () => {
    let tick = NOW;
    const t = setup(ONE_STREAM_TENANT, { clock: () => (tick += 1) });
    const advance = t.state.advanceCursor;
    t.state.advanceCursor = async (lease, streamId, next, options = {}) => {
      // Each try reaches the store, the first lands; no answer ever comes back.
      await advance(lease, streamId, next, options).catch(() => undefined);
      throw new StateError('UNAVAILABLE', 'DynamoDB call failed: socket timeout', true);
    };
    let nextRunStartedAt = 0;
    const recorded = recordingEnd(t.deps);
    const store = recorded.store;
    // While the run waits to try again, another process takes the lease the first try released.
    const sleep = async () => {
      if (nextRunStartedAt === 0 && (await t.state.acquireLease('ten_1', 'next-run', 20_000)) !== null)
        nextRunStartedAt = tick += 1;
    };
    const result = await runTenant('ten_1', { ...t.deps, store, sleep });

    expect(result.kind === 'ran' && result.summary.status).not.toBe('ok');
    expect(nextRunStartedAt).toBeGreaterThan(0);
    expect(recorded.finishedAt).toBeLessThan(nextRunStartedAt);
  });

  it("keeps the lease while a failed destination's health is saved: the next run loads it saved", async () => {
    const config = testTenant(
      [testDestination('dst_1', '111111111111'), testDestination('dst_2', '222222222222')],
      [
        { id: 'str_1', destinationId: 'dst_1', agentId: 'agt-1', region: 'us-east-1' },
        { id: 'str_2', destinationId: 'dst_2', agentId: 'agt-1', region: 'us-east-1' },
      ],
    );
    const denied = Object.assign(new Error('User is not authorized'), {
      name: 'AccessDeniedException',
      $fault: 'client',
      $metadata: { httpStatusCode: 403 },
    });
    const { importer } = countingImporter();
    const t = setup(config, {
      importer: (route) =>
        route.destination.accountId === '111111111111'
          ? { importFindings: () => Promise.reject(denied) }
          : importer,
    });
    const { saved, store } = probingHealthSaves(t);
    await runTenant('ten_1', { ...t.deps, store });

    expect(saved).toEqual([{ destinationId: 'dst_1', leaseFree: false }]);
    expect(t.state.releases).toEqual({ calls: 1, withWrite: 0 });
  });

  it("keeps the lease while a verified destination's first delivery makes it active: its first run releases by call", async () => {
    const verified = testDestination('dst_1', '123456789012', {
      state: 'verified',
      health: { state: 'verified', consecutiveFailures: 0, firstFailureAtMs: null },
    });
    const t = setup(testTenant([verified], ONE_STREAM_TENANT.streams));
    const { saved, store } = probingHealthSaves(t);
    await runTenant('ten_1', { ...t.deps, store });

    expect(saved).toEqual([{ destinationId: 'dst_1', leaseFree: false }]);
    expect(t.writes.map((w) => w.release)).toEqual([false]);
    expect(t.state.releases).toEqual({ calls: 1, withWrite: 0 });
  });

  it('releases with the write when no health is to be saved: a destination with a failure counted and nothing sent keeps it', async () => {
    // dst_2 failed before and has no stream: nothing is sent to it, so its count stays as stored, and
    // nothing is saved for it after the write.
    const config = testTenant(
      [
        testDestination('dst_1', '111111111111'),
        testDestination('dst_2', '222222222222', {
          health: { state: 'active', consecutiveFailures: 1, firstFailureAtMs: NOW - 600_000 },
        }),
      ],
      [{ id: 'str_1', destinationId: 'dst_1', agentId: 'agt-1', region: 'us-east-1' }],
    );
    const t = setup(config);
    const saved: string[] = [];
    const store = {
      ...t.deps.store,
      saveDestinationHealth: async (destinationId: string) => void saved.push(destinationId),
    };
    const result = await runTenant('ten_1', { ...t.deps, store });

    expect(result.kind === 'ran' && result.summary.status).toBe('ok');
    expect(saved).toEqual([]);
    expect(t.writes.map((w) => w.release)).toEqual([true]);
    expect(t.state.releases).toEqual({ calls: 0, withWrite: 1 });
  });
});
