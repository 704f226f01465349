// The per-run CPU measurement behind bench:run-cpu and bench:cost: TenantRun (run-tenant.ts) with the
// in-memory fakes of its stores and Vaikora, and the real @vsh/aws registry, credentials and importer
// against a loopback STS + Security Hub in another process (@vsh/aws/testing/aws-stub) that answers at once, so SDK
// client construction, signing and middleware are counted and the stub's CPU is not.
import {
  advanceCursorUnits,
  createDestinationRegistry,
  createRateLimiterRegistry,
  type DestinationRegistry,
  type DestinationRegistryOptions,
  INLINE_CURSORS_MAX,
  leaseWriteUnits,
  type RateLimiterRegistry,
  seenReadUnits,
} from '@vsh/aws';
import { startAwsStub } from '@vsh/aws/testing/aws-stub';
import { pino } from 'pino';
import { createWorkerMetrics } from '../src/metrics.ts';
import {
  DEFAULT_RUN_OPTIONS,
  type HealthStateStore,
  type KeptRejections,
  type OpenHealthCondition,
  type RunDeps,
  type StateSnapshot,
  type StateStore,
  type TenantConfig,
  type TenantState,
  type TenantStore,
} from '../src/ports.ts';
import { runTenant } from '../src/run-tenant.ts';
import { destinationImporters } from '../src/runtime.ts';
import { testAction, testDestination, testTenant } from '../src/tenant.test-support.ts';
import { memoryState, memoryVaikora } from '../test/memory-ports.ts';

const CYCLE_MS = 5 * 60_000;

export type RunKind = 'idle' | 'busy';

/** Calls one run makes, by service (DynamoDB counted as the real state store issues them). */
export interface CallsPerRun {
  readonly dynamodbReads: number;
  readonly dynamodbWrites: number;
  readonly dynamodbReadUnits: number;
  readonly dynamodbWriteUnits: number;
  readonly sts: number;
  readonly securityHub: number;
  readonly vaikora: number;
  /** PostgreSQL statements (tenant-store.ts sends one per call of the store). */
  readonly postgres: number;
}

export interface RunCpu {
  readonly kind: RunKind;
  readonly runs: number;
  readonly actionsPerRun: number;
  /** CPU microseconds per run (user + system of this process). */
  readonly cpuUsP50: number;
  readonly cpuUsP90: number;
  readonly cpuUsMean: number;
  readonly wallMsP50: number;
  /** The first run of each tenant (12 actions: its clients created, its role assumed). */
  readonly coldCpuUsP50: number;
  /** A run after the tenant's clients were dropped from the registry (as in a new process). */
  readonly evictedCpuUsP50: number;
  readonly calls: CallsPerRun;
  /** Log bytes written per run at info level. */
  readonly logBytes: number;
}

export interface MeasureOptions {
  /** Measured tenants (plus a few not measured that warm the code up). */
  readonly tenants?: number | undefined;
  /** Warm runs per tenant after its first. */
  readonly rounds?: number | undefined;
  readonly actionsPerRun?: number;
  readonly only?: RunKind | undefined;
  /** Another registry and importer wiring to compare with (a baseline); default the worker's own. */
  readonly wiring?: Wiring | undefined;
}

/** How the run reaches Security Hub: the registry (so the bench can evict) and the importer factory. */
interface Wiring {
  createRegistry(options: DestinationRegistryOptions): DestinationRegistry;
  importers(registry: DestinationRegistry, limiters: RateLimiterRegistry): RunDeps['importer'];
}

const workerWiring: Wiring = { createRegistry: createDestinationRegistry, importers: destinationImporters };

const quantile = (sorted: readonly number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;

/**
 * State store calls mapped to the DynamoDB requests and request units the real store spends
 * (state-lease.ts, state-cursor.ts, state-seen.ts; seen pages under 4 KB): a lease write is one
 * UpdateItem billed on the lease item, which holds the cursors of the tenant's first
 * INLINE_CURSORS_MAX streams (ADR 0126: under 1 KB, 1 WRU); the run's first read is one consistent
 * Query of the tenant's cursors, health and lease items (1 RRU: under 4 KB), and each stream's
 * seen-set one more (by the bytes of its segments, `seenReadUnits`); a cursor write is what `advanceCursorUnits` of @vsh/aws counts from the
 * items the store sends (a put per seen-set segment, then one UpdateItem of the lease item, or for a
 * further stream a transaction of the lease check and its cursor item).
 */
function countingState(inner: StateStore, calls: DynamoCalls, health: CountingHealth): StateStore {
  const write = (units: number) => {
    calls.writes++;
    calls.writeUnits += units;
  };
  // The streams whose cursors each tenant's lease item holds, as the store places them.
  const inline = new Map<string, string[]>();
  // Tenants whose lease item carries the last holder's stamp: no query needed (ADR 0127).
  const quiet = new Set<string>();
  // Tenants with a cursor item (a sixth stream or later).
  const withItems = new Set<string>();
  const inlineOf = (tenantId: string) => inline.get(tenantId) ?? [];
  /** The tenant's state with each seen-set read counted (a busy stream's three segments: 2 units). */
  const countedReads = (tenantId: string, state: TenantState): TenantState => ({
    openHealth: health.open.get(tenantId) ?? [],
    cursor: (streamId) => state.cursor(streamId),
    stream: async (streamId) => {
      const stream = await state.stream(streamId);
      calls.reads++;
      calls.readUnits += seenReadUnits(
        { tenantId, owner: '', epoch: 1, expiresAtMs: 0 },
        streamId,
        stream.segments,
      );
      return stream;
    },
  });
  return {
    ...inner,
    acquireLease: (...a) => {
      const [tenantId, owner, ttlMs] = a;
      write(
        leaseWriteUnits({ tenantId, owner, epoch: 1, expiresAtMs: Date.now() + ttlMs }, inlineOf(tenantId)),
      );
      return inner.acquireLease(...a);
    },
    renewLease: (...a) => {
      write(leaseWriteUnits(a[0], inlineOf(a[0].tenantId)));
      return inner.renewLease(...a);
    },
    releaseLease: (...a) => {
      write(leaseWriteUnits(a[0], inlineOf(a[0].tenantId)));
      return inner.releaseLease(...a);
    },
    // ADR 0136: one consistent GetItem of the lease item (1 RRU); the state only when its stamp says the
    // item is all there is and nobody holds it.
    peekTenant: async (tenantId) => {
      calls.reads++;
      calls.readUnits++;
      const clean = (health.open.get(tenantId) ?? []).length === 0 && !withItems.has(tenantId);
      if (!quiet.has(tenantId) || !clean) return null;
      const state = (await inner.peekTenant?.(tenantId)) ?? null;
      return state === null ? null : countedReads(tenantId, state);
    },
    readTenant: async (lease) => {
      const { tenantId } = lease;
      // ADR 0127: the query is skipped once a holder found only the lease item (no cursor item, no open
      // health condition) and released it saying so; writing either makes the next run query again.
      const clean = (health.open.get(tenantId) ?? []).length === 0 && !withItems.has(tenantId);
      if (!quiet.has(tenantId) || !clean) {
        calls.reads++;
        calls.readUnits++;
      }
      if (clean) quiet.add(tenantId);
      else quiet.delete(tenantId);
      return countedReads(tenantId, await inner.readTenant(lease));
    },
    advanceCursor: (lease, streamId, next, options = {}) => {
      const streams = inlineOf(lease.tenantId);
      if (!streams.includes(streamId) && streams.length < INLINE_CURSORS_MAX) {
        inline.set(lease.tenantId, [...streams, streamId]);
      }
      const placed = inlineOf(lease.tenantId);
      const home = placed.includes(streamId) ? 'lease' : 'item';
      if (home === 'item') withItems.add(lease.tenantId);
      const { requests, writeUnits } = advanceCursorUnits(
        lease,
        streamId,
        next,
        { ...options, home },
        undefined,
        placed,
      );
      calls.writes += requests;
      calls.writeUnits += writeUnits;
      // The store releases the lease with a write of the lease item only (ADR 0140): a cursor item's
      // write leaves it to releaseLease, counted above.
      return inner.advanceCursor(
        lease,
        streamId,
        next,
        home === 'item' ? { ...options, release: false } : options,
      );
    },
  };
}

/** A health store that keeps its conditions where `countingState`'s first read finds them. */
type CountingHealth = HealthStateStore & { readonly open: Map<string, readonly OpenHealthCondition[]> };

/**
 * The tenant's open health conditions as the DynamoDB store keeps them (ADR 0116, state-health.ts):
 * read with the cursors (`countingState`), and when they change written in a transaction of the
 * lease check and the item (2 WRU each). Kept in memory here.
 */
function countingHealth(calls: DynamoCalls): CountingHealth {
  const open = new Map<string, readonly OpenHealthCondition[]>();
  return {
    open,
    getOpenHealth: async (tenantId) => {
      calls.reads++;
      calls.readUnits += 1;
      return open.get(tenantId) ?? [];
    },
    saveOpenHealth: async (lease, conditions) => {
      calls.writes++;
      calls.writeUnits += 4;
      open.set(lease.tenantId, conditions);
    },
  };
}

interface DynamoCalls {
  reads: number;
  writes: number;
  readUnits: number;
  writeUnits: number;
}

/** Measures `rounds` warm runs of `tenants` idle and busy tenants; prints nothing. */
export async function measureRuns(options: MeasureOptions = {}): Promise<RunCpu[]> {
  const warmup = 5;
  const tenants = warmup + (options.tenants ?? 40);
  const rounds = options.rounds ?? 10;
  const actionsPerRun = options.actionsPerRun ?? 12;
  const stub = await startAwsStub();
  try {
    const wiring = options.wiring ?? workerWiring;
    const registry = wiring.createRegistry({
      masterCredentials: { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench' },
      stsClientConfig: { endpoint: stub.endpoint },
      securityHubClientConfig: { endpoint: stub.endpoint },
    });
    const limiters = createRateLimiterRegistry({ ratePerSecond: 1e9, burst: 1e9 });
    let logBytes = 0;
    const logger = pino(
      { level: 'info' },
      {
        write: (line: string) => {
          logBytes += Buffer.byteLength(line);
        },
      },
    );
    const calls: DynamoCalls = { reads: 0, writes: 0, readUnits: 0, writeUnits: 0 };
    // Each round is the next 5-minute cycle: the clock jumps 5 minutes between rounds (never within a run).
    let offsetMs = 0;
    const clock = () => Date.now() + offsetMs;
    const health = countingHealth(calls);
    const state = countingState(memoryState(clock), calls, health);
    const configs = new Map<string, TenantConfig>();
    const lists = new Map<string, unknown[]>();
    let vaikoraCalls = 0;
    let postgresCalls = 0;
    // Tenants whose last run was quiet (ADR 0136): the next tries without the lease.
    const quietTenants = new Set<string>();
    // The state each quiet run found, kept with the schedule and loaded with the tenant (ADR 0137).
    const snapshots = new Map<string, StateSnapshot>();
    const leaseRuns = new Map<string, number>();
    const store: TenantStore = {
      loadTenant: async (tenantId) => {
        postgresCalls++;
        const config = configs.get(tenantId);
        const stateSnapshot = snapshots.get(tenantId);
        return config === undefined
          ? null
          : stateSnapshot === undefined
            ? config
            : { ...config, stateSnapshot };
      },
      startRun: async (tenantId) => {
        postgresCalls++;
        snapshots.delete(tenantId);
        leaseRuns.set(tenantId, (leaseRuns.get(tenantId) ?? 0) + 1);
        return 'run';
      },
      finishRun: async (_runId, _summary, _finishedAt, { tenantId, quiet, snapshot }) => {
        postgresCalls++;
        if (quiet) quietTenants.add(tenantId);
        else quietTenants.delete(tenantId);
        if (quiet && snapshot !== undefined) snapshots.set(tenantId, snapshot);
      },
      recordQuietRun: async (tenantId, _workerId, _summary, _startedAt, _finishedAt, schedule) => {
        postgresCalls++;
        if (schedule.snapshot !== undefined && schedule.leaseRunsStarted === (leaseRuns.get(tenantId) ?? 0))
          snapshots.set(tenantId, schedule.snapshot);
        return 'run';
      },
      recordRejections: async (_t, _r, batch): Promise<KeptRejections> => {
        postgresCalls++;
        return { inserted: batch.length, repeated: 0, failed: 0 };
      },
      saveDestinationHealth: async () => {
        postgresCalls++;
      },
    };
    const deps: RunDeps = {
      store,
      state,
      healthState: health,
      vaikora: (connection) => {
        const list = lists.get(connection.apiKey.reveal()) ?? [];
        const client = memoryVaikora(() => list);
        return {
          ...client,
          sweep: (o) => {
            vaikoraCalls++;
            return client.sweep(o);
          },
        };
      },
      importer: wiring.importers(registry, limiters),
      clock,
      logger,
      metrics: createWorkerMetrics(),
      workerId: 'bench',
      options: DEFAULT_RUN_OPTIONS,
    };

    const results: RunCpu[] = [];
    for (const kind of ['idle', 'busy'] as const) {
      if (options.only !== undefined && options.only !== kind) continue;
      const ids: string[] = [];
      for (let i = 0; i < tenants; i++) {
        const tenantId = `ten_${kind}_${i}`;
        const accountId = String(700_000_000_000 + i + (kind === 'busy' ? 50_000 : 0));
        const base = testTenant(
          [testDestination(`dst_${tenantId}`, accountId)],
          [
            {
              id: `str_${tenantId}`,
              destinationId: `dst_${tenantId}`,
              agentId: `agt-${i}`,
              region: 'us-east-1',
            },
          ],
        );
        configs.set(tenantId, { ...base, tenantId });
        ids.push(tenantId);
      }
      // Every tenant has testTenant's Vaikora key: runs go one at a time, each sets the list before it.
      let serial = 0;
      const prepare = (tenantId: string, round: number) => {
        const agent = configs.get(tenantId)?.streams[0]?.agentId ?? 'agt';
        const now = clock();
        const list: unknown[] = [];
        if (kind === 'busy' || round === 0) {
          for (let a = 0; a < actionsPerRun; a++)
            list.push(
              testAction(
                `act-${tenantId}-${serial++}`,
                agent,
                now - 1000 - Math.floor((a * CYCLE_MS) / actionsPerRun),
              ),
            );
        }
        lists.set('vk_test_x', list);
      };
      const cpu: number[] = [];
      const wall: number[] = [];
      const cold: number[] = [];
      const before = { ...calls, logBytes, vaikoraCalls, postgresCalls, ...(await stub.counts()) };
      // Round -1: a few tenants warm up the code (JIT, module caches) and are not counted.
      for (let round = -1; round <= rounds; round++, offsetMs += CYCLE_MS) {
        for (const tenantId of round === -1 ? ids.slice(0, warmup) : round === 0 ? ids.slice(warmup) : ids) {
          prepare(tenantId, round);
          const t0 = performance.now();
          const c0 = process.cpuUsage();
          // As the dispatch hands it out: whether its last run was quiet (ADR 0136).
          const result = await runTenant(tenantId, deps, undefined, {
            lastRunQuiet: quietTenants.has(tenantId),
          });
          const c = process.cpuUsage(c0);
          if (result.kind !== 'ran' || result.summary.status !== 'ok')
            throw new Error(`run ${tenantId}: ${JSON.stringify(result)}`);
          const us = c.user + c.system;
          if (round === 0) cold.push(us);
          else if (round > 0) {
            cpu.push(us);
            wall.push(performance.now() - t0);
          }
          if (round === 0 && tenantId === ids.at(-1))
            Object.assign(before, {
              ...calls,
              logBytes,
              vaikoraCalls,
              postgresCalls,
              ...(await stub.counts()),
            });
        }
      }
      const after = { ...calls, logBytes, vaikoraCalls, postgresCalls, ...(await stub.counts()) };
      const evicted: number[] = [];
      for (const tenantId of ids.slice(warmup)) {
        const destination = configs.get(tenantId)?.destinations[0];
        if (destination !== undefined)
          registry.evict({ tenantId, accountId: destination.accountId, region: 'us-east-1' });
        prepare(tenantId, 1);
        const c0 = process.cpuUsage();
        await runTenant(tenantId, deps, undefined, { lastRunQuiet: quietTenants.has(tenantId) });
        const c = process.cpuUsage(c0);
        evicted.push(c.user + c.system);
      }
      evicted.sort((a, b) => a - b);
      const n = cpu.length;
      cpu.sort((a, b) => a - b);
      wall.sort((a, b) => a - b);
      cold.sort((a, b) => a - b);
      results.push({
        kind,
        runs: n,
        actionsPerRun: kind === 'busy' ? actionsPerRun : 0,
        cpuUsP50: quantile(cpu, 0.5),
        cpuUsP90: quantile(cpu, 0.9),
        cpuUsMean: cpu.reduce((s, v) => s + v, 0) / n,
        wallMsP50: quantile(wall, 0.5),
        coldCpuUsP50: quantile(cold, 0.5),
        evictedCpuUsP50: quantile(evicted, 0.5),
        calls: {
          dynamodbReads: (after.reads - before.reads) / n,
          dynamodbWrites: (after.writes - before.writes) / n,
          dynamodbReadUnits: (after.readUnits - before.readUnits) / n,
          dynamodbWriteUnits: (after.writeUnits - before.writeUnits) / n,
          sts: (after.sts - before.sts) / n,
          securityHub: (after.securityHub - before.securityHub) / n,
          vaikora: (after.vaikoraCalls - before.vaikoraCalls) / n,
          postgres: (after.postgresCalls - before.postgresCalls) / n,
        },
        logBytes: (after.logBytes - before.logBytes) / n,
      });
    }
    registry.destroy();
    return results;
  } finally {
    stub.stop();
  }
}
