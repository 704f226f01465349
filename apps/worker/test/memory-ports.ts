import { StateError } from '@vsh/aws';
import { parseAction, type VaikoraAction } from '@vsh/core';
import type { VaikoraClient, VaikoraPage } from '@vsh/vaikora';
import type {
  Cursor,
  KeptRejections,
  Lease,
  RecordedRejection,
  RunSummary,
  SeenSegment,
  StateSnapshot,
  StateStore,
  StreamState,
  TenantConfig,
  TenantStore,
} from '../src/ports.ts';

/** The options of `StateStore.advanceCursor`, as the worker's port declares them. */
type AdvanceOptions = NonNullable<Parameters<StateStore['advanceCursor']>[3]>;

/**
 * In-memory fakes of the worker's ports, for unit tests of a tenant run (the real adapters have their
 * own integration tests). The state store keeps the lease and cursor rules that matter to a run:
 * fencing by owner + epoch + expiry, monotonic positions, seen-sets by bucketed segments.
 */
/** The worker's StateStore in memory, plus what tests read back: the write count and a stream's cursor. */
export type MemoryState = StateStore & {
  writes: number;
  /** Leases released by `releaseLease`, and by a run's last cursor write (ADR 0140). */
  readonly releases: { calls: number; withWrite: number };
  /** Reads of the tenant's state without the lease (`peekTenant`), and how many found it. */
  readonly peeks: { tried: number; found: number };
  /** One stream's state (what `readTenant(...).stream` reads): tests wrap it to see or fail the reads. */
  getStream(tenantId: string, streamId: string): Promise<StreamState>;
  getCursor(tenantId: string, streamId: string): Promise<Cursor | null>;
};

export function memoryState(clock: () => number = Date.now): MemoryState {
  let epoch = 0;
  let holder: { owner: string; epoch: number; expiresAtMs: number } | null = null;
  const cursors = new Map<string, Cursor & { version: number }>();
  // Each segment with the epoch of the lease that wrote it (ADR 0143).
  const segments = new Map<string, Map<string, { bucketStartMs: number; ids: Set<string>; epoch: number }>>();
  let writes = 0;
  let n = 0;
  const peeks = { tried: 0, found: 0 };
  const releases = { calls: 0, withWrite: 0 };
  const landed = new Set<string>();
  const holds = (lease: Lease) =>
    holder !== null &&
    holder.owner === lease.owner &&
    holder.epoch === lease.epoch &&
    holder.expiresAtMs > clock();
  const store: MemoryState = {
    get writes() {
      return writes;
    },
    peeks,
    releases,
    // Like the DynamoDB store: the state without the lease while nobody holds it (this store keeps no
    // health conditions and no cursor items, so the lease item is always all there is).
    peekTenant: async (tenantId: string) => {
      peeks.tried++;
      if (holder !== null && holder.expiresAtMs > clock()) return null;
      peeks.found++;
      return {
        cursor: (streamId: string) => cursors.get(streamId) ?? null,
        stream: (streamId: string) => store.getStream(tenantId, streamId),
      };
    },
    acquireLease: async (tenantId: string, owner: string, ttlMs: number) => {
      if (holder !== null && holder.expiresAtMs > clock() && holder.owner !== owner) return null;
      holder = { owner, epoch: ++epoch, expiresAtMs: clock() + ttlMs };
      return { tenantId, ...holder };
    },
    renewLease: async (lease: Lease, ttlMs: number) => {
      // Like the DynamoDB store: never a released lease (expiry 0).
      if (
        holder === null ||
        holder.owner !== lease.owner ||
        holder.epoch !== lease.epoch ||
        holder.expiresAtMs === 0
      )
        throw new StateError('LEASE_LOST', 'lost', false);
      holder.expiresAtMs = clock() + ttlMs;
      return { ...lease, expiresAtMs: holder.expiresAtMs };
    },
    releaseLease: async (lease: Lease) => {
      releases.calls++;
      if (holder === null || holder.owner !== lease.owner || holder.epoch !== lease.epoch) return false;
      holder.expiresAtMs = 0;
      return true;
    },
    getCursor: async (_tenantId: string, streamId: string) => cursors.get(streamId) ?? null,
    readTenant: async (lease: Lease) => ({
      cursor: (streamId: string) => cursors.get(streamId) ?? null,
      stream: (streamId: string) => store.getStream(lease.tenantId, streamId),
    }),
    getStream: async (_tenantId: string, streamId: string): Promise<StreamState> => {
      // Each id with the end of the newest segment holding it (`SeenSet.until`), and the first epoch that stored it.
      const ids = new Map<string, number>();
      const epochs = new Map<string, number>();
      const list: SeenSegment[] = [];
      for (const [key, s] of segments.get(streamId) ?? []) {
        for (const id of s.ids) {
          ids.set(id, Math.max(s.bucketStartMs + 60_000, ids.get(id) ?? 0));
          epochs.set(id, Math.min(s.epoch, epochs.get(id) ?? s.epoch));
        }
        list.push({
          key,
          bucketStartMs: s.bucketStartMs,
          bucketEndMs: s.bucketStartMs + 60_000,
          count: s.ids.size,
        });
      }
      return {
        cursor: cursors.get(streamId) ?? null,
        seen: {
          has: (id) => ids.has(id),
          size: ids.size,
          until: (id) => ids.get(id),
          epochOf: (id) => epochs.get(id),
        },
        segments: list,
      };
    },
    advanceCursor: async (lease: Lease, streamId: string, next: Cursor, options: AdvanceOptions = {}) => {
      // Like the DynamoDB store: a try of a write that landed (its answer lost) finds its write id, and
      // says whether the lease went with it.
      if (options.writeId !== undefined && landed.has(options.writeId)) {
        return options.release === true && !holds(lease) ? ('released' as const) : ('advanced' as const);
      }
      // Like the DynamoDB store (ADR 0112): the seen-set first, outside the fenced write, with the
      // writer's epoch; a write refused below leaves it stored (ADR 0143).
      const mine = segments.get(streamId) ?? new Map();
      segments.set(streamId, mine);
      for (const e of options.seen ?? []) {
        const bucketStartMs = Math.floor(e.timestampMs / 60_000) * 60_000;
        const key = `${bucketStartMs}#${n}`;
        const segment = mine.get(key) ?? { bucketStartMs, ids: new Set<string>(), epoch: lease.epoch };
        segment.ids.add(e.id);
        mine.set(key, segment);
      }
      n++;
      if (!holds(lease)) throw new StateError('LEASE_LOST', 'lost', false);
      const stored = cursors.get(streamId);
      if (stored !== undefined && stored.positionMs > next.positionMs)
        throw new StateError('CURSOR_REGRESSION', 'behind', false);
      if (options.writeId !== undefined) landed.add(options.writeId);
      writes++;
      // Like the DynamoDB store: what the write carries is stored; the digest and stuck findings it lacks are gone.
      cursors.set(streamId, { ...next, version: (stored?.version ?? 0) + 1 });
      for (const p of options.prune ?? []) mine.delete(p.key);
      // Like the DynamoDB store's lease item (every cursor of this store lives there): released with it.
      if (options.release === true && holder !== null) {
        holder.expiresAtMs = 0;
        releases.withWrite++;
        return 'released' as const;
      }
      return 'advanced' as const;
    },
  };
  return store;
}

/** A tenant store that keeps runs and rejections in memory; `failRejections` makes keeping them fail. */
export function memoryTenantStore(config: TenantConfig, options: { failRejections?: boolean } = {}) {
  const runs: Array<{ id: string; summary: RunSummary | null; quiet?: boolean }> = [];
  const rejections = new Map<string, number>();
  /** Every rejection given to the store, as given. */
  const kept: RecordedRejection[] = [];
  let lastRunQuiet = false;
  // As tenant-store.ts keeps them (ADR 0137): the state the last quiet run found, cleared when a run
  // under the lease starts, which is counted; a quiet run keeps its state only when none started since
  // it loaded the tenant.
  let stateSnapshot: StateSnapshot | undefined;
  let leaseRunsStarted = 0;
  const store: TenantStore = {
    loadTenant: async () => ({
      ...config,
      ...(stateSnapshot === undefined ? {} : { stateSnapshot }),
      leaseRunsStarted,
    }),
    startRun: async () => {
      stateSnapshot = undefined;
      leaseRunsStarted++;
      runs.push({ id: `run_${runs.length}`, summary: null });
      return `run_${runs.length - 1}`;
    },
    finishRun: async (runId, summary, _finishedAt, schedule) => {
      const run = runs.find((r) => r.id === runId);
      if (run) run.summary = summary;
      lastRunQuiet = schedule.quiet;
      stateSnapshot = schedule.quiet ? schedule.snapshot : undefined;
    },
    recordQuietRun: async (_tenantId, _workerId, summary, _startedAt, _finishedAt, schedule) => {
      runs.push({ id: `run_${runs.length}`, summary, quiet: true });
      // The schedule is a run's under the lease that started since this one loaded the tenant.
      if (schedule.leaseRunsStarted === leaseRunsStarted) {
        lastRunQuiet = true;
        stateSnapshot = schedule.snapshot;
      }
      return `run_${runs.length - 1}`;
    },
    recordRejections: async (
      _tenantId,
      _runId,
      batch: readonly RecordedRejection[],
    ): Promise<KeptRejections> => {
      if (options.failRejections)
        throw new Error('Failed query: insert into "rejected_records" ... params: \u0000');
      let inserted = 0;
      kept.push(...batch);
      for (const r of batch) {
        const key = `${r.destinationId ?? `agent:${r.agentId}`}|${r.rejection.fingerprint ?? r.rejection.actionId}`;
        if (!rejections.has(key)) inserted++;
        rejections.set(key, (rejections.get(key) ?? 0) + 1);
      }
      return { inserted, repeated: batch.length - inserted, failed: 0 };
    },
    saveDestinationHealth: async () => undefined,
  };
  return {
    store,
    runs,
    rejections,
    kept,
    /** The state the last quiet run found, as the store keeps it (ADR 0137). */
    get stateSnapshot() {
      return stateSnapshot;
    },
    /** Changes the kept snapshot, as a stale or a hostile row would hold it. */
    setStateSnapshot(snapshot: StateSnapshot | undefined) {
      stateSnapshot = snapshot;
    },
    /** What the dispatch hands out with the tenant (ADR 0136): its last run was quiet. */
    get hint() {
      return { lastRunQuiet };
    },
  };
}

/** A Vaikora list, newest first, paged like the API; `pageDelayMs` waits (abortably) before each page. */
export function memoryVaikora(
  list: () => readonly unknown[],
  options: { perPage?: number; pageDelayMs?: number } = {},
): VaikoraClient {
  const perPage = options.perPage ?? 100;
  return {
    verify: async () => ({ ok: true, total: null }),
    discoverAgents: async () => {
      const agents = new Set<string>();
      for (const r of list()) {
        const parsed = parseAction(r);
        if (parsed.ok && parsed.action.agentId !== undefined) agents.add(parsed.action.agentId);
      }
      return { agents: [...agents], complete: true };
    },
    async *sweep({ signal }): AsyncGenerator<VaikoraPage> {
      const all = [...list()];
      for (let page = 1; ; page++) {
        if (options.pageDelayMs) {
          await new Promise<void>((resolve, reject) => {
            const t = setTimeout(resolve, options.pageDelayMs);
            signal?.addEventListener('abort', () => {
              clearTimeout(t);
              reject(signal.reason);
            });
          });
        }
        const raw = all.slice((page - 1) * perPage, page * perPage);
        const actions: VaikoraAction[] = [];
        const rejections = [];
        for (const r of raw) {
          const parsed = parseAction(r);
          if (parsed.ok) actions.push(parsed.action);
          else rejections.push({ ...parsed.rejection, fingerprint: JSON.stringify(r) });
        }
        const times = actions.map((a) => a.timestampMs);
        const stop = raw.length < perPage ? ('end' as const) : null;
        yield {
          page,
          actions,
          rejections,
          oldestMs: times.length ? Math.min(...times) : null,
          newestMs: times.length ? Math.max(...times) : null,
          total: all.length,
          received: raw.length,
          repeats: 0,
          order: 'desc',
          stop,
        };
        if (stop !== null) return;
      }
    },
    toString: () => 'memoryVaikora',
    toJSON: () => ({ baseUrl: 'memory', perPage, timeFilterParam: null }),
  };
}
