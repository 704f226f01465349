import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { countingImporter, testRunDeps } from '../test/counting-hub.ts';
import { memoryState, memoryTenantStore, memoryVaikora } from '../test/memory-ports.ts';
import { runTenant } from './run-tenant.ts';
import { ONE_STREAM_TENANT, testAction } from './tenant.test-support.ts';

// ADR 0136: a tenant whose last run was quiet (ok, nothing written, nothing sent) runs next without its
// lease, and under it as soon as it comes to anything to write or send.

const config = ONE_STREAM_TENANT;
const action = (id: string, timestampMs: number) => testAction(id, 'agt-1', timestampMs);

const CYCLE_MS = 5 * 60_000;

function setup() {
  let now = Date.parse('2026-12-05T10:00:00Z');
  const clock = () => now;
  const list: unknown[] = [];
  let vaikoraFails = false;
  let vaikoraRequests = 0;
  const state = memoryState(clock);
  let acquisitions = 0;
  const acquire = state.acquireLease.bind(state);
  state.acquireLease = (...args) => {
    acquisitions++;
    return acquire(...args);
  };
  const tenant = memoryTenantStore(config);
  /** Imports per finding id: a second import of an id is billed again. */
  const { importer, imports } = countingImporter();
  const vaikora = memoryVaikora(() => {
    vaikoraRequests++;
    if (vaikoraFails) throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
    return list;
  });
  const deps = testRunDeps({
    sleep: async () => undefined,
    store: tenant.store,
    state,
    vaikora: () => vaikora,
    importer: () => importer,
    clock,
  });
  return {
    deps,
    state,
    tenant,
    imports,
    list,
    get acquisitions() {
      return acquisitions;
    },
    get vaikoraRequests() {
      return vaikoraRequests;
    },
    failVaikora(fails: boolean) {
      vaikoraFails = fails;
    },
    /** The next run, one poll interval after the last. */
    async next() {
      now += CYCLE_MS;
      return runTenant('ten_1', deps, undefined, tenant.hint);
    },
    now: () => now,
  };
}

/** Runs until the tenant's last run was quiet: the first run imports, the next (idle) takes the lease and writes nothing. */
async function quietTenant() {
  const t = setup();
  for (let i = 0; i < 20; i++) t.list.unshift(action(`act-${i}`, t.now() - 200_000 + i * 1000));
  await t.next();
  await t.next();
  expect(t.tenant.runs.map((r) => r.quiet ?? false)).toEqual([false, false]);
  return t;
}

describe('quiet runs (ADR 0136)', () => {
  it('a tenant with nothing new runs without its lease after one quiet run under it, and writes nothing', async () => {
    const t = await quietTenant();
    const writes = t.state.writes;
    const acquisitions = t.acquisitions;
    for (let i = 0; i < 3; i++) {
      const result = await t.next();
      expect(result).toMatchObject({ kind: 'ran', summary: { status: 'ok', findingsImported: 0 } });
    }
    expect(t.acquisitions).toBe(acquisitions);
    expect(t.state.writes).toBe(writes);
    // Each starts from the state the run before found (ADR 0137): the state store is not read at all.
    expect(t.state.peeks).toEqual({ tried: 0, found: 0 });
    // Each quiet run is recorded once, with what it read.
    expect(t.tenant.runs.slice(2).map((r) => [r.quiet, r.summary?.status])).toEqual([
      [true, 'ok'],
      [true, 'ok'],
      [true, 'ok'],
    ]);
    expect(t.tenant.runs[2]?.summary?.actionsRead).toBe(20);
    expect([...t.imports.values()].every((n) => n === 1)).toBe(true);
    expect(t.imports.size).toBe(20);
  });

  it('a new action stops the quiet run before its import: the run under the lease imports it once, and is the only run recorded', async () => {
    const t = await quietTenant();
    await t.next();
    expect(t.tenant.runs.at(-1)?.quiet).toBe(true);
    const runs = t.tenant.runs.length;
    const acquisitions = t.acquisitions;
    t.list.unshift(action('act-new', t.now() + 60_000));
    const result = await t.next();
    expect(result).toMatchObject({ kind: 'ran', summary: { status: 'ok', findingsImported: 1 } });
    expect(t.imports.get('vaikora-act-new')).toBe(1);
    expect(t.tenant.runs.length).toBe(runs + 1);
    expect(t.tenant.runs.at(-1)?.quiet).toBeUndefined();
    expect(t.acquisitions).toBe(acquisitions + 1);
    // The run after it took the lease again (it wrote), then the tenant is quiet again.
    await t.next();
    await t.next();
    expect(t.tenant.runs.slice(-2).map((r) => r.quiet ?? false)).toEqual([false, true]);
    expect([...t.imports.values()].every((n) => n === 1)).toBe(true);
  });

  it('a late action inside the overlap window, behind the position, is imported once from a quiet tenant', async () => {
    const t = await quietTenant();
    await t.next();
    // Stamped before the newest action already handled, within the overlap: only the seen-set tells it is new.
    t.list.push(action('act-late', t.now() - 150_000));
    await t.next();
    expect(t.imports.get('vaikora-act-late')).toBe(1);
    for (let i = 0; i < 3; i++) await t.next();
    expect(t.imports.get('vaikora-act-late')).toBe(1);
    expect([...t.imports.values()].every((n) => n === 1)).toBe(true);
  });

  it('a lease another run holds is not run around: the state is not read without it, and the run is busy', async () => {
    const t = await quietTenant();
    // No state kept (a run under the lease cleared it, or it is too old): the store is read.
    t.tenant.setStateSnapshot(undefined);
    // Held past the next run's time (the clock moves one poll interval to it).
    const other = await t.state.acquireLease('ten_1', 'other#1', 2 * CYCLE_MS);
    expect(other).not.toBeNull();
    const runs = t.tenant.runs.length;
    const result = await t.next();
    expect(result).toEqual({ kind: 'busy' });
    expect(t.state.peeks).toEqual({ tried: 1, found: 0 });
    expect(t.tenant.runs.length).toBe(runs);
  });

  it('a Vaikora that fails a quiet run: the run under the lease records the failure, and the tenant is no longer quiet', async () => {
    const t = await quietTenant();
    t.failVaikora(true);
    const requests = t.vaikoraRequests;
    const result = await t.next();
    expect(result).toMatchObject({ kind: 'ran', summary: { status: 'failed' } });
    // The quiet run's request, then the run under the lease's.
    expect(t.vaikoraRequests - requests).toBe(2);
    expect(t.tenant.runs.at(-1)?.quiet).toBeUndefined();
    t.failVaikora(false);
    const back = await t.next();
    expect(back).toMatchObject({ kind: 'ran', summary: { status: 'ok' } });
    // Not quiet: the run before failed, so this one took the lease; the quiet attempt started from the
    // state the run before it found (ADR 0137), so the store was never read without the lease.
    expect(t.state.peeks.tried).toBe(0);
    expect(t.tenant.runs.at(-1)?.quiet).toBeUndefined();
  });

  it('a record Vaikora sends broken reaches a quiet tenant: kept once by the run under the lease, and the run goes on', async () => {
    const t = await quietTenant();
    await t.next();
    t.list.unshift({ ...action('act-\u0000nul', t.now() + 30_000) });
    t.list.unshift(action('act-after', t.now() + 31_000));
    const result = await t.next();
    expect(result).toMatchObject({ kind: 'ran', summary: { status: 'ok', recordsRejected: 1 } });
    expect(t.tenant.kept).toHaveLength(1);
    expect(t.tenant.kept[0]?.rejection.actionId).toMatch(/nul$/);
    expect(t.imports.get('vaikora-act-after')).toBe(1);
    expect([...t.imports.values()].every((n) => n === 1)).toBe(true);
  });

  it('a quiet run stopped from outside before it ends is not recorded, and takes no lease', async () => {
    const t = await quietTenant();
    await t.next();
    const stop = new AbortController();
    stop.abort(new Error('shutting down'));
    const runs = t.tenant.runs.length;
    const result = await runTenant('ten_1', t.deps, stop.signal, t.tenant.hint);
    // Not run: nothing written, no lease taken during the shutdown; the message comes back.
    expect(result).toEqual({ kind: 'busy' });
    expect(t.tenant.runs.length).toBe(runs);
    expect(t.tenant.hint).toEqual({ lastRunQuiet: true });
  });

  it('a tenant whose state is more than its lease item (a cursor item, a health condition) is never marked quiet', async () => {
    const t = setup();
    const read = t.state.readTenant.bind(t.state);
    t.state.readTenant = async (lease) => ({ ...(await read(lease)), alone: false });
    for (let i = 0; i < 5; i++) t.list.unshift(action(`act-${i}`, t.now() - 100_000 + i * 1000));
    for (let i = 0; i < 4; i++) await t.next();
    // Idle runs under the lease that wrote nothing, yet the next could not read the state without it.
    expect(t.tenant.runs.map((r) => [r.quiet ?? false, r.summary?.findingsImported])).toEqual([
      [false, 5],
      [false, 0],
      [false, 0],
      [false, 0],
    ]);
    expect(t.tenant.hint).toEqual({ lastRunQuiet: false });
    expect(t.state.peeks.tried).toBe(0);
  });

  it('leaves no listener on the process stop signal, which outlives every run', async () => {
    const t = await quietTenant();
    const process = new AbortController();
    for (let i = 0; i < 3; i++) await runTenant('ten_1', t.deps, process.signal, t.tenant.hint);
    expect(t.tenant.runs.slice(-3).map((r) => r.quiet)).toEqual([true, true, true]);
    expect(getEventListeners(process.signal, 'abort')).toHaveLength(0);
  });
});

describe('the state a quiet run found, kept for the next (ADR 0137)', () => {
  it('a quiet run starts from the state the run before found, and reads the store again once it is an hour old', async () => {
    const t = await quietTenant();
    const kept = t.tenant.stateSnapshot;
    expect(kept?.cursors[config.streams[0]?.id ?? '']).toMatchObject({ positionMs: expect.any(Number) });
    // 12 runs at 5 minutes: the state kept by the run under the lease is under an hour old for 11 of them.
    for (let i = 0; i < 12; i++) await t.next();
    expect(t.state.peeks).toEqual({ tried: 1, found: 1 });
    expect(t.tenant.runs.slice(-12).every((r) => r.quiet === true)).toBe(true);
    // The run that read the store keeps what it read, with when.
    expect(t.tenant.stateSnapshot?.readAtMs).toBe(t.now());
    expect(t.tenant.stateSnapshot?.cursors).toEqual(kept?.cursors);
    expect([...t.imports.values()].every((n) => n === 1)).toBe(true);
  });

  it('a run under the lease clears the kept state as it starts; a quiet run that started before it keeps none', async () => {
    const t = await quietTenant();
    expect(t.tenant.stateSnapshot).toBeDefined();
    t.list.unshift(action('act-new', t.now() + 60_000));
    await t.next();
    expect(t.imports.get('vaikora-act-new')).toBe(1);
    // It wrote: nothing kept, and its next run takes the lease, then keeps what it read.
    expect(t.tenant.stateSnapshot).toBeUndefined();
    await t.next();
    expect(t.tenant.stateSnapshot?.cursors[config.streams[0]?.id ?? '']?.positionMs).toBe(
      (await t.state.getCursor('ten_1', config.streams[0]?.id ?? ''))?.positionMs,
    );

    // A quiet run that loaded the tenant before a run under the lease started ends after: it keeps nothing.
    const loaded = await t.tenant.store.loadTenant('ten_1');
    await t.tenant.store.startRun('ten_1', 'other', new Date(t.now() - 60_000));
    const started = new Date(t.now());
    await t.tenant.store.recordQuietRun(
      'ten_1',
      'w',
      (t.tenant.runs.at(-1)?.summary ?? null) as never,
      started,
      started,
      {
        tenantId: 'ten_1',
        nextRunAt: started,
        runStartedAt: started,
        quiet: true,
        snapshot: { readAtMs: t.now(), cursors: {} },
        leaseRunsStarted: loaded?.leaseRunsStarted,
        interruptedBefore: started,
      },
    );
    expect(t.tenant.stateSnapshot).toBeUndefined();
  });

  it('a kept state behind the stream (stale) costs a run under the lease, never a second import', async () => {
    const t = await quietTenant();
    const stream = config.streams[0]?.id ?? '';
    const kept = t.tenant.stateSnapshot;
    if (kept === undefined) throw new Error('no state kept');
    t.tenant.setStateSnapshot({
      readAtMs: t.now(),
      cursors: { [stream]: { positionMs: t.now() - 3_600_000, updatedAtMs: t.now() - 3_600_000 } },
    });
    const acquisitions = t.acquisitions;
    const result = await t.next();
    // It read what it had handled as maybe new: it stopped before the seen-set read and ran under the lease.
    expect(result).toMatchObject({ kind: 'ran', summary: { status: 'ok', findingsImported: 0 } });
    expect(t.acquisitions).toBe(acquisitions + 1);
    expect(t.imports.size).toBe(20);
    expect([...t.imports.values()].every((n) => n === 1)).toBe(true);
  });

  it('a kept state ahead of the stream (a hostile or corrupt row) delays an action by an hour at most, and loses none', async () => {
    const t = await quietTenant();
    const stream = config.streams[0]?.id ?? '';
    // Ahead of everything Vaikora will list in the next hour.
    t.tenant.setStateSnapshot({
      readAtMs: t.now(),
      cursors: { [stream]: { positionMs: t.now() + 2 * 3_600_000, updatedAtMs: t.now() } },
    });
    t.list.unshift(action('act-hidden', t.now() + 60_000));
    let runsBeforeImport = 0;
    while (t.imports.get('vaikora-act-hidden') === undefined && runsBeforeImport < 20) {
      await t.next();
      runsBeforeImport++;
    }
    // Imported by the first run after the kept state was an hour old (12 runs of 5 minutes), once.
    expect(runsBeforeImport).toBe(12);
    for (let i = 0; i < 3; i++) await t.next();
    expect(t.imports.get('vaikora-act-hidden')).toBe(1);
    expect([...t.imports.values()].every((n) => n === 1)).toBe(true);
  });

  it('keeps no state when a cursor holds stuck findings (its runs send them: never quiet)', async () => {
    const t = await quietTenant();
    const stream = config.streams[0]?.id ?? '';
    const read = t.state.readTenant.bind(t.state);
    t.state.readTenant = async (lease) => {
      const state = await read(lease);
      return {
        ...state,
        cursor: (id: string) => {
          const c = state.cursor(id);
          return c === null || id !== stream
            ? c
            : { ...c, stuck: [{ key: 'k', actionMs: c.positionMs, runs: 1, sinceMs: c.positionMs }] };
        },
      };
    };
    t.tenant.setStateSnapshot(undefined);
    // A run under the lease that found it so: nothing kept for the next.
    await runTenant('ten_1', t.deps);
    // Quiet (the stuck finding's action is no longer listed, so nothing was sent), yet nothing kept.
    expect(t.tenant.hint).toEqual({ lastRunQuiet: true });
    expect(t.tenant.stateSnapshot).toBeUndefined();
  });
});
