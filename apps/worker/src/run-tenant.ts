import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  errorInfo,
  errorMessage,
  type HealthCondition,
  type Rejection,
  rejectedAboveThreshold,
  rejectedRecordsFacts,
  type VaikoraAction,
} from '@vsh/core';
import type { Logger } from 'pino';
import {
  type CursorPolicy,
  type CursorWrite,
  DEFAULT_STUCK_POLICY,
  formatWindowDigest,
  givesUp,
  handledBefore,
  handledToMeet,
  hashOfIds,
  isNew,
  nextStuck,
  parseWindowDigest,
  StreamProgress,
  sameWindow,
  stuckKey,
  type WindowEvidence,
  windowStartMs,
} from './cursor.ts';
import {
  type DeliveryTarget,
  deliverToStream,
  keepRejections,
  type StreamDelivery,
  sweepAgent,
} from './delivery.ts';
import { watchEffects, watchSeenReads } from './effects.ts';
import {
  afterFailure,
  afterSuccess,
  type DestinationHealth,
  type HealthPolicy,
  RUNNABLE_STATES,
} from './health.ts';
import { type HealthTarget, reconcileHealthFindings, reconcileIsIdle } from './health-findings.ts';
import { LEASE_EXPIRED, LEASE_LOST, NEEDS_LEASE, QuietHold, type RunHold, underLease } from './lease.ts';
import {
  type Cursor,
  type CursorHome,
  type DestinationConfig,
  isLeaseLost,
  isRetryableStateFailure,
  type NextRun,
  type OpenHealthCondition,
  type RecordedRejection,
  type RunDeps,
  type RunHint,
  type RunSummary,
  routeOf,
  type SeenEntry,
  type StateSnapshot,
  type StreamConfig,
  type StreamState,
  type StuckFinding,
  type TenantConfig,
  type TenantState,
} from './ports.ts';
import { RunLedger } from './run-ledger.ts';

export type RunResult =
  | { readonly kind: 'busy' }
  | { readonly kind: 'gone' }
  | { readonly kind: 'ran'; readonly runId: string; readonly summary: RunSummary };

/** Sweep failures that mean Vaikora refused the tenant's key (HTTP 401, 403): the `vaikora_auth` condition. */
const KEY_REFUSED_CODES: ReadonlySet<string> = new Set(['VAIKORA_UNAUTHORIZED', 'VAIKORA_FORBIDDEN']);
/** Sweep failures that mean Vaikora could not be reached: the `vaikora_unreachable` condition, after its threshold. */
const UNREACHABLE_CODES: ReadonlySet<string> = new Set([
  'VAIKORA_UNAVAILABLE',
  'VAIKORA_TIMEOUT',
  'VAIKORA_NETWORK',
]);

/** How long past its budget a run may take to finish the batch in flight and its writes before its lease is let go. */
const OVERRUN_GRACE_MS = 5 * 60_000;

/**
 * The most ids inside a window that a digest hashes (ADR 0128). A hash only spares the read of a sweep
 * of one page, and the client asks for 100 records a page at most (`perPage`): for a window that held
 * more (several pages, or a server that sends more than it was asked) the digest carries the count
 * without a hash (ADR 0146), which only costs the next run its read.
 */
const WINDOW_HASH_MAX_IDS = 1000;

/**
 * Waits before the final cursor write of a stream is tried again after a retryable failure (the SDK has
 * retried each attempt already): about 5 s in all, well inside the run's overrun grace.
 */
const FINAL_WRITE_RETRY_MS = [250, 1_000, 4_000];

/**
 * How far past its budget, as a share of it, a run still tries a failed cursor write again (ADR 0132):
 * an eighth. On Lambda the budget is the timeout less a fifth, so the run still ends, and records its
 * end, before the function's timeout however many streams a DynamoDB that stopped answering fails.
 */
const FINAL_WRITE_RETRY_PAST_BUDGET = 1 / 8;

/**
 * How long a quiet run may start from the state the last quiet run found (ADR 0137) rather than read the
 * state store: after that, one quiet run reads it again. What bounds how long a state changed by anything
 * but a run under the lease (which clears it) would go unseen.
 */
export const SNAPSHOT_MAX_AGE_MS = 60 * 60_000;
/** A snapshot read this far ahead of the run's clock (another worker's skew) is read again. */
const SNAPSHOT_MAX_AHEAD_MS = 5 * 60_000;

/** How often a run stores what it handled so far (see `checkpoint`). */
const CHECKPOINT_MS = 2000;

/**
 * One tenant's run (docs/architecture.md, "One tenant's run"): take the lease, pull every new action of
 * every stream, import what qualifies, advance each cursor only past what is in Security Hub or
 * recorded as rejected, record the run, release the lease (with the last cursor write when nothing is
 * written after it, ADR 0140). Never throws for a tenant's data or configuration; `signal` stops it
 * after the batch in flight.
 */
export async function runTenant(
  tenantId: string,
  deps: RunDeps,
  signal?: AbortSignal,
  hint?: RunHint,
): Promise<RunResult> {
  // The lease owner names this run, not only the process: a process runs many tenants at once and can be
  // handed the same tenant twice (an SQS message sent again, "run now"), and the store lets an owner take
  // its own lease again, so a per-process owner would let both runs in.
  const owner = `${deps.workerId}#${randomUUID()}`;
  // One budget for the whole run, a quiet attempt's time included: on Lambda it is the timeout less a
  // fifth, and a run under the lease that started a budget afresh after it could pass the timeout. A
  // timer cleared when the run ends, not AbortSignal.timeout: that one stays scheduled for the whole
  // budget after the run (5 minutes, also for a run turned away as busy), then aborts a signal nobody
  // reads, building an error for it: thousands of timers in a busy process, firing long after (issue 16).
  const expiry = new AbortController();
  const timer = setTimeout(
    () => expiry.abort(new DOMException('the run budget is spent', 'TimeoutError')),
    Math.min(deps.options.runBudgetMs, MAX_TIMER_MS),
  );
  timer.unref();
  const budget: RunBudget = {
    signal: expiry.signal,
    startedAt: performance.now(),
    ms: deps.options.runBudgetMs,
  };
  try {
    return await runWithin(tenantId, owner, deps, budget, signal, hint);
  } finally {
    clearTimeout(timer);
  }
}

/** Node's longest timer: a longer delay fires at once (with a warning). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** `runTenant` within its budget. */
async function runWithin(
  tenantId: string,
  owner: string,
  deps: RunDeps,
  budget: RunBudget,
  signal: AbortSignal | undefined,
  hint: RunHint | undefined,
): Promise<RunResult> {
  if (hint?.lastRunQuiet === true) {
    const config = await deps.store.loadTenant(tenantId);
    if (config === null) return { kind: 'gone' };
    const quiet = await quietRun(config, deps, owner, signal, budget);
    if (quiet !== null) return quiet;
    // Stopped by a shutdown before it ended: nothing was written, and the tenant is not run now (as when
    // another run holds it); its message comes back to another process.
    if (signal?.aborted === true) return { kind: 'busy' };
  }
  return underLease(
    tenantId,
    owner,
    deps,
    signal,
    async (holder): Promise<RunResult> => {
      // Read under the lease, also after a quiet attempt: what a run in between saved (a destination's
      // health) is what this run goes on from.
      const config = await deps.store.loadTenant(tenantId);
      if (config === null) return { kind: 'gone' };
      let quiet = true;
      const watched = watchEffects(deps, () => {
        quiet = false;
      });
      return new TenantRun(config, watched, holder, budget).execute(() => quiet);
    },
    // What is left of the budget, then time for the batch in flight and the final writes (each call has
    // its own timeout).
    budgetLeftMs(budget) + OVERRUN_GRACE_MS,
  );
}

/**
 * A run without the lease (ADR 0136), for a tenant whose last run was quiet: the tenant's state read
 * without taking the lease (one read instead of its two writes), the sweep as under the lease, and, when
 * it ends ok having found nothing to write or send, the run recorded at once. Null when the state was
 * not there to read without the lease, or when the run came to anything to write or send, or to a
 * seen-set to read (something may be new): it stops before that first call (nothing was written), and
 * the caller runs the tenant under its lease. Its log lines and metrics are dropped but the summary's:
 * a run that stops is run again, and says what it met then.
 */
async function quietRun(
  config: TenantConfig,
  deps: RunDeps,
  owner: string,
  signal: AbortSignal | undefined,
  budget: RunBudget,
): Promise<RunResult | null> {
  let state: TenantState | null;
  let snapshot = config.stateSnapshot;
  if (snapshot !== undefined && snapshotServes(snapshot, config, deps.clock())) {
    // The state the last quiet run found (ADR 0137): no request. A run under the lease since cleared it.
    state = snapshotState(snapshot);
  } else {
    try {
      state = (await deps.state.peekTenant?.(config.tenantId)) ?? null;
    } catch (err) {
      deps.logger.debug(
        { tenantId: config.tenantId, err: errorInfo(err) },
        'state not read without the lease',
      );
      return null;
    }
    if (state === null) return null;
    snapshot = snapshotOf(state, config.streams, deps.clock());
  }
  const hold = new QuietHold(config.tenantId, owner, signal);
  const stop = () => {
    hold.stopWith(NEEDS_LEASE);
    throw new Error(NEEDS_LEASE.message);
  };
  const gated = watchEffects({ ...deps, logger: deps.logger.child({}, { level: 'silent' }) }, stop);
  try {
    return await new TenantRun(config, gated, hold, budget, watchSeenReads(state, stop)).executeQuiet(
      deps.logger,
      snapshot,
    );
  } catch (err) {
    // The effect refused above, thrown through a call that does not catch it: nothing was written.
    if (hold.stopReason === NEEDS_LEASE) return null;
    throw err;
  } finally {
    hold.done();
  }
}

/**
 * Whether a quiet run may start from `snapshot` (ADR 0137): under an hour old by the run's clock (and not
 * far ahead of it: another worker's skew), and holding every stream the tenant sweeps now. A stream it
 * does not hold (added, or enabled again with the cursor it kept in the store) is read from the store.
 */
function snapshotServes(snapshot: StateSnapshot, config: TenantConfig, nowMs: number): boolean {
  const age = nowMs - snapshot.readAtMs;
  if (!(age < SNAPSHOT_MAX_AGE_MS && age > -SNAPSHOT_MAX_AHEAD_MS)) return false;
  return config.streams.every((s) => Object.hasOwn(snapshot.cursors, s.id));
}

/**
 * What a quiet run keeps of the tenant's state for the next (ADR 0137): the cursor of each of its
 * streams (null for one without), read at `readAtMs`. None when a cursor holds stuck findings (ADR
 * 0133: a run with any sends them, so it is not quiet), whose next run reads the store.
 */
function snapshotOf(
  state: TenantState,
  streams: readonly StreamConfig[],
  readAtMs: number,
): StateSnapshot | undefined {
  const cursors: Record<string, StateSnapshot['cursors'][string]> = {};
  for (const { id } of streams) {
    const cursor = state.cursor(id);
    if (cursor === null) {
      cursors[id] = null;
      continue;
    }
    if (cursor.stuck !== undefined && cursor.stuck.length > 0) return undefined;
    cursors[id] = {
      positionMs: cursor.positionMs,
      updatedAtMs: cursor.updatedAtMs,
      ...(cursor.windowDigest === undefined ? {} : { windowDigest: cursor.windowDigest }),
    };
  }
  return { readAtMs, cursors };
}

/**
 * The tenant's state from a snapshot (ADR 0137): all of it was in the lease item, with no open health
 * condition. It holds no seen-set: a quiet run stops before it reads one (`watchSeenReads`), and the run
 * under the lease reads the store.
 */
function snapshotState(snapshot: StateSnapshot): TenantState {
  return {
    openHealth: [],
    alone: true,
    cursor: (streamId) =>
      Object.hasOwn(snapshot.cursors, streamId) ? (snapshot.cursors[streamId] ?? null) : null,
    stream: () =>
      Promise.reject(new Error('a state snapshot holds no seen-set; read the store under the lease')),
  };
}

/**
 * A run's time budget: the signal that stops it, and when it started on the monotonic clock. Not on the
 * run's clock: that is AWS's once the process has read an answer (ADR 0135), and a budget taken by it
 * before the first answer would be off by the host's skew when the run goes on by it after.
 */
interface RunBudget {
  readonly signal: AbortSignal;
  readonly startedAt: number;
  readonly ms: number;
}

/** What is left of `budget` now (never below 0). */
function budgetLeftMs(budget: RunBudget): number {
  return Math.max(0, budget.ms - (performance.now() - budget.startedAt));
}

/**
 * The order a run sweeps a tenant's agents in: their order, started at an offset that moves from run to
 * run (ADR 0134). A run stops at its budget, and a fixed order left the same agents at its tail unswept
 * in every run of a tenant with more agents than a budget can read (a slow Vaikora): starved for good.
 * The offset is the fractional part of the run's slot (its time over the tenant's poll interval: one
 * more each run) times the golden ratio, taken from the top bits of the product (Fibonacci hashing):
 * successive runs' offsets spread evenly over the agents, as evenly as any sequence can, whatever the
 * interval; the same clock gives the same order (tests). Storing where the last run stopped would cost a
 * write per run.
 */
export function sweepOrder(
  byAgent: ReadonlyMap<string, StreamConfig[]>,
  nowMs: number,
  pollIntervalMs: number,
): Array<[string, StreamConfig[]]> {
  const agents = [...byAgent];
  const slot = Math.floor(nowMs / Math.max(1000, pollIntervalMs));
  const spread = Math.imul(slot, 0x9e3779b9) >>> 0;
  const offset = Math.floor((spread / 2 ** 32) * agents.length);
  return [...agents.slice(offset), ...agents.slice(0, offset)];
}

/**
 * Records again, at its later time, an action handled before that a page lists stamped later (ADR 0134):
 * Vaikora re-stamped it. A handled action's seen-set entry lasts until the window is past the time it
 * was handled at (`SeenSet.until`); read at a later time, it would be new again once that entry is
 * gone, and imported again (billed again). The same holds for an action this run handled and a later
 * page lists again with a later time. An action whose entry lasts as long as it can be read (all
 * others: also one stamped in the future) is not recorded again, so a normal run writes nothing more.
 */
function restamped(w: StreamWork, actions: readonly SeenEntry[]): void {
  if (w.state === undefined) return;
  for (const { id, timestampMs } of actions) {
    if (timestampMs < w.windowStart) continue;
    const handledAt = w.progress.timeOf(id);
    if (handledAt !== undefined) {
      if (timestampMs > handledAt) w.progress.add(id, timestampMs);
      continue;
    }
    const until = w.state.seen.until?.(id);
    if (until !== undefined && timestampMs >= until) w.progress.add(id, timestampMs);
  }
}

/** A stream's hub: the destination's account in the stream's region. */
const hubOf = (w: StreamWork): string => `${w.destination.id}\u0000${w.stream.region}`;

/** A passing refusal given up on (ADR 0133): its reason says since when, and what sends it again. */
function gaveUp(rejection: Rejection, stuck: StuckFinding): Rejection {
  return {
    ...rejection,
    retryable: false,
    reason:
      `${rejection.reason} (refused with a passing error in ${stuck.runs + 1} runs since ` +
      `${new Date(stuck.sinceMs).toISOString()}; given up so that the stream goes on: a backfill over its time sends it again)`,
  };
}

/** One stream of the agent being swept, with its cursor and what this run handled on it. */
interface StreamWork extends DeliveryTarget {
  /**
   * Its cursor and seen-set, read once a page holds an action inside its window (issue 16): until then
   * no action can be new to it, and a stream whose sweep holds none is never read.
   */
  state: StreamState | undefined;
  readonly cursor: Cursor | null;
  readonly windowStart: number;
  readonly progress: StreamProgress;
  /** Its stuck findings by key, as its cursor carries them (ADR 0133). */
  readonly stuck: ReadonlyMap<string, StuckFinding>;
  /** The actions Security Hub refused with a passing error this run, by id, with the refusal (ADR 0133). */
  readonly refused: Map<string, { readonly timestampMs: number; readonly rejection: RecordedRejection }>;
  /** Whether the run counts toward giving up on its stuck findings (set after the sweep, ADR 0133). */
  counted: boolean;
  /** Time of the oldest action that could not be delivered for a transient reason (refusals join it in `settleRefusals`). */
  blockedAtMs: number;
  /** Where the next cursor write goes (ADR 0126): as read, then the lease item once a new entry is made there. */
  home: CursorHome | undefined;
  /** Whether a page held an action inside its window (its seen-set read, or spared by its digest). */
  reached: boolean;
}

class TenantRun {
  private readonly log: Logger;
  private readonly now: number;
  private readonly nowIso: string;
  private readonly policy: CursorPolicy;
  private readonly ledger: RunLedger;
  private runId = '';
  /** Every agent this tenant routes somewhere: a record naming one of them belongs to that agent's streams. */
  private readonly routedAgents: ReadonlySet<string>;
  /** Findings each hub (destination and region, `hubOf`) took this run, across the agents swept so far. */
  private readonly tookByHub = new Map<string, number>();
  /** `DeliveryContext.unattributed`, shared by the run's agents. */
  private readonly unattributed = new Map<string, Map<string, string>>();
  private lastCheckpointMs: number;
  /** Stops the run: a shutdown, a lost lease, or the run's time budget spent. */
  private readonly stop: AbortSignal;
  private readonly budget: AbortSignal;
  /** No failed cursor write is tried again after this (`FINAL_WRITE_RETRY_PAST_BUDGET`). */
  private readonly retryWritesUntilMs: number;
  /** Health conditions seen this run, by destination id, with what was seen (ADR 0116). */
  private readonly healthOpen = new Map<string, Map<HealthCondition, string>>();
  /** Health conditions this run could judge, by destination id: judged and not seen means cleared. */
  private readonly healthJudged = new Map<string, Set<HealthCondition>>();
  /**
   * The state this run read under the lease when it was all in the lease item, and when: kept for the
   * next quiet run if this one is quiet (ADR 0137; made into a snapshot then, not on every run).
   */
  private readAloneState: { readonly state: TenantState; readonly atMs: number } | undefined;
  /**
   * When the run's last cursor write that released the lease, or may have (its tries failed, an answer
   * lost), was sent (ADR 0140): the run's end as recorded, so that a next run, which can only take the
   * lease after that write landed or after the run released it by call, starts after it.
   */
  private releasedAtMs: number | undefined;
  /** Rejections kept by stage, counted in the metrics once the run is recorded (a dropped quiet run counts none). */
  private readonly rejectedByStage = new Map<string, number>();
  /** Records read from Vaikora (parsed or not), the destinations they were read for, and the stages that rejected some (ADR 0118). */
  private readonly rejectedTally = { read: 0, destinations: new Set<string>(), stages: new Set<string>() };

  /**
   * `peeked`: the tenant's state as read without the lease, for a quiet run (ADR 0136); a run under
   * the lease reads it through the lease.
   */
  constructor(
    private readonly config: TenantConfig,
    private readonly deps: RunDeps,
    private readonly lease: RunHold,
    budget: RunBudget,
    private readonly peeked?: TenantState,
  ) {
    this.now = deps.clock();
    this.nowIso = new Date(this.now).toISOString();
    this.ledger = new RunLedger(this.now);
    this.log = deps.logger.child({ tenantId: config.tenantId });
    this.routedAgents = new Set(config.streams.map((stream) => stream.agentId));
    const { overlapMs, initialLookbackMs } = deps.options;
    this.policy = { overlapMs, initialLookbackMs };
    this.budget = budget.signal;
    this.retryWritesUntilMs =
      this.now +
      budgetLeftMs(budget) +
      Math.min(OVERRUN_GRACE_MS, deps.options.runBudgetMs * FINAL_WRITE_RETRY_PAST_BUDGET);
    this.stop = AbortSignal.any([lease.signal, this.budget]);
    this.lastCheckpointMs = this.now;
  }

  /** True when the run must stop: also when its lease has run out by the local clock (a paused process). */
  private stopping(): boolean {
    if (this.stop.aborted) return true;
    if (this.deps.clock() >= this.lease.lease.expiresAtMs) {
      this.lease.stopWith(LEASE_EXPIRED);
      return true;
    }
    return false;
  }

  /** The run under its lease: recorded as it starts and when it ends; `quiet` says whether it wrote or sent nothing. */
  async execute(quiet: () => boolean): Promise<RunResult> {
    const { store, workerId } = this.deps;
    const { tenantId } = this.config;
    const startedAt = new Date(this.now);
    this.runId = await store.startRun(tenantId, workerId, startedAt);
    const summary = await this.sweep();
    // Quiet only when the next run could read the state without the lease: a tenant with a cursor
    // item or an open health condition (a heartbeat's) would pay that read for nothing, every run.
    const read = this.readAloneState;
    const wasQuiet = quiet() && summary.status === 'ok' && read !== undefined;
    await store.finishRun(this.runId, summary, new Date(this.releasedAtMs ?? this.deps.clock()), {
      ...this.nextRun(startedAt),
      quiet: wasQuiet,
      snapshot: wasQuiet ? snapshotOf(read.state, this.config.streams, read.atMs) : undefined,
    });
    return this.finished(summary, this.deps.logger);
  }

  /**
   * The run without the lease (ADR 0136): recorded once it ended ok having written and sent nothing;
   * null when it stopped (it came to a write or a send, or was stopped from outside) or did not end ok.
   */
  async executeQuiet(logger: Logger, snapshot: StateSnapshot | undefined): Promise<RunResult | null> {
    const startedAt = new Date(this.now);
    const summary = await this.sweep();
    if (this.stop.aborted || this.lease.stopReason !== null || summary.status !== 'ok') return null;
    const { interruptedAfterMs } = this;
    this.runId = await this.deps.store.recordQuietRun(
      this.config.tenantId,
      this.deps.workerId,
      summary,
      startedAt,
      new Date(this.deps.clock()),
      {
        ...this.nextRun(startedAt),
        quiet: true,
        snapshot,
        leaseRunsStarted: this.config.leaseRunsStarted,
        interruptedBefore: new Date(this.now - interruptedAfterMs),
      },
    );
    return this.finished(summary, logger);
  }

  /**
   * How long a run can be alive at most: its budget, its overrun grace and its lease's time to live. A
   * run still marked running that started longer ago than that was cut short.
   */
  private get interruptedAfterMs(): number {
    const { runBudgetMs, leaseTtlMs } = this.deps.options;
    return runBudgetMs + OVERRUN_GRACE_MS + leaseTtlMs;
  }

  private nextRun(startedAt: Date): Omit<NextRun, 'quiet'> {
    const pollMs = (this.config.vaikora?.pollIntervalSeconds ?? 300) * 1000;
    return {
      tenantId: this.config.tenantId,
      nextRunAt: new Date(this.now + pollMs),
      runStartedAt: startedAt,
    };
  }

  /** The run's metrics and its one info line (ADR 0049), once it is recorded. */
  private finished(summary: RunSummary, logger: Logger): RunResult {
    const { metrics } = this.deps;
    const { tenantId } = this.config;
    metrics.imported.inc({ tenant: tenantId }, summary.findingsImported);
    metrics.skipped.inc({ tenant: tenantId }, summary.actionsSkipped);
    metrics.throttles.inc({ tenant: tenantId }, summary.throttles);
    metrics.runs.inc({ status: summary.status });
    for (const [stage, n] of this.rejectedByStage) metrics.rejected.inc({ tenant: tenantId, stage }, n);
    metrics.runDuration.observe({ status: summary.status }, (this.deps.clock() - this.now) / 1000);
    if (summary.lagSeconds !== null) metrics.lagSeconds.set({ tenant: tenantId }, summary.lagSeconds);
    logger.info(
      {
        tenantId,
        runId: this.runId,
        streams: this.config.streams.length,
        ...summary,
        recentFindings: undefined,
      },
      'run finished',
    );
    return { kind: 'ran', runId: this.runId, summary };
  }

  /** Sweeps every stream, delivers, moves the cursors and reports health; returns the run's summary. */
  private async sweep(): Promise<RunSummary> {
    const ledger = this.ledger;
    const vaikora = this.config.vaikora;
    const runnable = new Map(
      this.config.destinations.filter((d) => RUNNABLE_STATES.includes(d.state)).map((d) => [d.id, d]),
    );
    const streams = this.config.streams.filter((s) => runnable.has(s.destinationId));
    if (vaikora === null) {
      const problem = this.config.vaikoraProblem;
      if (problem) ledger.fail(problem.code, problem.message);
      else ledger.fail('NO_VAIKORA_SETTINGS', 'the tenant has not set its Vaikora connection');
    } else if (this.config.destinations.length > 0 && runnable.size === 0) {
      ledger.fail('NO_RUNNABLE_DESTINATION', 'no destination is verified, active or degraded');
    } else {
      const byAgent = new Map<string, StreamConfig[]>();
      for (const s of streams) byAgent.set(s.agentId, [...(byAgent.get(s.agentId) ?? []), s]);
      const state = byAgent.size === 0 ? null : await this.readState();
      if (state !== null) {
        const order = [
          ...sweepOrder(byAgent, this.now, (this.config.vaikora?.pollIntervalSeconds ?? 300) * 1000),
        ];
        for (const [index, [agentId, group]] of order.entries()) {
          if (this.stopping()) {
            ledger.incomplete = true;
            break;
          }
          await this.runAgent(agentId, group, runnable, state, index === order.length - 1);
        }
      }
      if (this.budget.aborted && !this.lease.signal.aborted) {
        ledger.fail(
          'RUN_BUDGET_SPENT',
          `the run stopped after its ${Math.round(this.deps.options.runBudgetMs / 1000)} s budget; the next run goes on from there`,
        );
      }
      const stopped = this.lease.stopReason;
      if (stopped !== null && ledger.incomplete) ledger.stoppedEarly(stopped.code, stopped.message);
      await this.saveHealth(runnable);
      await this.reportHealth(runnable, state?.openHealth);
    }
    return ledger.summary(streams);
  }

  /**
   * The tenant's cursors and open health conditions, read once for the whole run (one query, issue 16);
   * null when they cannot be read: no stream is swept without its cursor, and the next run reads again.
   */
  private async readState(): Promise<TenantState | null> {
    if (this.peeked !== undefined) return this.peeked;
    try {
      const state = await this.deps.state.readTenant(this.lease.lease);
      if (state.alone !== false) this.readAloneState = { state, atMs: this.deps.clock() };
      return state;
    } catch (err) {
      this.ledger.incomplete = true;
      this.ledger.fail('STATE_UNAVAILABLE', errorMessage(err));
      this.log.warn({ err: errorInfo(err) }, 'cursors not read; no stream swept');
      return null;
    }
  }

  /**
   * Reads the agent's streams' seen-sets, sweeps the agent down to the oldest window, delivers, moves the
   * cursors. `lastAgent`: no agent is swept after this one, so its last stream's cursor write is the
   * run's last write.
   */
  private async runAgent(
    agentId: string,
    group: readonly StreamConfig[],
    destinations: ReadonlyMap<string, DestinationConfig>,
    tenantState: TenantState,
    lastAgent: boolean,
  ): Promise<void> {
    const vaikora = this.config.vaikora;
    if (vaikora === null) return;
    const ledger = this.ledger;
    const work: StreamWork[] = [];
    for (const stream of group) {
      const destination = destinations.get(stream.destinationId);
      if (destination === undefined || ledger.failedDestinations.has(destination.id)) continue;
      const cursor = tenantState.cursor(stream.id);
      work.push({
        stream,
        destination,
        state: undefined,
        cursor,
        windowStart: windowStartMs(cursor, this.now, this.policy),
        progress: new StreamProgress(),
        importer: this.deps.importer(routeOf(this.config.tenantId, destination, stream)),
        stuck: new Map((cursor?.stuck ?? []).map((e) => [e.key, e])),
        refused: new Map(),
        counted: false,
        blockedAtMs: Number.POSITIVE_INFINITY,
        home: undefined,
        reached: false,
      });
    }
    if (work.length === 0) return;
    // Set when a seen-set could not be read: the sweep stops before the page that needed it, and no
    // cursor moves (the next run reads that page again).
    let unread = false;
    // Where the sweep may stop: the start of its streams' oldest window.
    const oldestWindow = Math.min(...work.map((w) => w.windowStart));
    // What the sweep read inside that window, for the window digests of the cursor writes (ADR 0128):
    // ids and times only (ADR 0146: the count needs them all; the hash only up to WINDOW_HASH_MAX_IDS).
    const swept: SeenEntry[] = [];
    let pages = 0;
    const ctx = {
      agentId,
      routedAgents: this.routedAgents,
      unattributed: this.unattributed,
      thresholds: vaikora.thresholds,
      nowIso: this.nowIso,
      importChunk: this.deps.options.importChunk,
      stopping: () => this.stopping(),
    };
    let answered = false;
    // The streams with a cursor handled what their windows held: the list holds those actions, and a
    // sweep reads past late uploads until it has met them, for every such stream (ADR 0131, 0142): as
    // many distinct ones as its window digest counted (ADR 0144, 0146). The sweep asks once the page is
    // taken below, which reads the seen-sets it needs.
    const unmet = new Map<StreamWork, { evidence: WindowEvidence | undefined; met: Set<string> }>();
    for (const w of work) {
      if (w.cursor !== null)
        unmet.set(w, { evidence: parseWindowDigest(w.cursor.windowDigest), met: new Set() });
    }
    const metHandled =
      unmet.size === 0
        ? undefined
        : (actions: readonly VaikoraAction[]) => {
            for (const [w, { evidence, met }] of unmet) {
              for (const a of actions)
                if (handledBefore(a, evidence, w.state?.seen, w.windowStart)) met.add(a.id);
              if (met.size >= handledToMeet(evidence)) unmet.delete(w);
            }
            return unmet.size === 0;
          };
    // A stream that knows how many handled actions to meet and has not met them: the sweep reads further
    // past late uploads for it (ADR 0145). Not one whose destination failed: its seen-set is not read.
    const expecting = () => {
      for (const [w, { evidence }] of unmet) {
        if (!ledger.failedDestinations.has(w.destination.id) && Number.isFinite(handledToMeet(evidence)))
          return true;
      }
      return false;
    };
    const end = await sweepAgent(
      this.deps.vaikora(vaikora),
      { agentId, stopBeforeMs: oldestWindow, metHandled, expectsHandled: expecting, signal: this.stop },
      async (page) => {
        answered = true;
        // The sweep's one page: what it holds inside a window is all there is there (ADR 0128).
        const whole = ++pages === 1 && page.stop !== null && page.stop !== 'max-pages';
        if (!(await this.readSeenSets(work, tenantState, page.actions, whole))) {
          unread = true;
          return false;
        }
        for (const { id, timestampMs } of page.actions)
          if (timestampMs >= oldestWindow) swept.push({ id, timestampMs });
        ledger.counts.actionsRead += page.actions.length;
        const rejections: RecordedRejection[] = page.rejections.map((rejection) => ({
          rejection,
          destinationId: null,
          agentId,
        }));
        for (const w of work) {
          if (ledger.failedDestinations.has(w.destination.id)) continue;
          const { state } = w;
          // Unread: readSeenSets found none of the page's actions inside its window, so none is due.
          const isDue =
            state === undefined
              ? () => false
              : // This run's own progress too: the sweep may yield an id again with a later time.
                (action: { id: string; timestampMs: number }) =>
                  isNew(action, state.seen, w.windowStart) && !w.progress.has(action.id);
          rejections.push(...this.record(w, await deliverToStream(w, page.actions, isDue, ctx)));
          restamped(w, page.actions);
        }
        this.tallyRejected(work, page.actions.length + page.rejections.length, rejections);
        await this.keep(rejections);
        await this.checkpoint(work);
        if (page.stop === 'max-pages')
          ledger.fail('BACKLOG_TOO_LARGE', 'the sweep hit its page limit before reaching the cursor');
        return !this.stopping();
      },
      this.log,
    );
    // A page means Vaikora was reached and took the key; a 401 or 403 means it refused it.
    for (const w of work) {
      if (!answered) continue;
      this.judge(w.destination.id, 'vaikora_auth');
      this.judge(w.destination.id, 'vaikora_unreachable');
    }
    if (end.failure !== null) {
      const { code, message } = end.failure;
      ledger.fail(code, message);
      if (KEY_REFUSED_CODES.has(code)) {
        for (const w of work) this.observe(w.destination.id, 'vaikora_auth', `${code}: ${message}`);
      } else if (UNREACHABLE_CODES.has(code) && !answered) {
        for (const w of work) this.observe(w.destination.id, 'vaikora_unreachable', `${code}: ${message}`);
      }
      if (end.failure.settingsRefused) {
        for (const w of work) {
          ledger.failedDestinations.set(w.destination.id, { code, message, canDisable: false });
        }
      }
    }
    const complete = end.complete && !this.stop.aborted && !unread;
    // Stopped by the cursor rule after every page it may read past it, still short of what the last runs
    // read: actions that arrived before a longer late upload may be unread, and the position moves on.
    if (complete && !end.reachedEnd && metHandled !== undefined && expecting()) {
      const message =
        `the sweep of agent ${agentId} read every page it may past its cursor's stop without meeting the ` +
        'actions its last runs read: actions that arrived before a longer late upload may be unread';
      ledger.fail('LATE_UPLOAD_UNREAD', message);
      this.log.warn({ agentId }, message);
    }
    if (!complete) ledger.incomplete = true;
    // A run whose lease is lost, or ran out by the local clock, writes nothing: the store would refuse it,
    // and the new holder's writes are the ones that count. A run stopped otherwise (a shutdown, its
    // budget, an overrun) still records what it handled (ADR 0004, 0132), fenced by the lease's epoch: a
    // write after another run took the tenant is refused, and only costs the tries.
    const reason = this.lease.stopReason;
    if (reason === LEASE_LOST || reason === LEASE_EXPIRED) {
      for (const w of work) if (w.cursor !== null) ledger.position(w.destination.id, w.cursor.positionMs);
      return;
    }
    await this.settleRefusals(work);
    for (const [index, w] of work.entries()) {
      const last = lastAgent && index === work.length - 1;
      await this.advance(
        w,
        complete,
        end.reachedEnd,
        end.oldestSeenMs,
        swept,
        last ? { state: tenantState, destinations } : undefined,
      );
    }
  }

  /**
   * Reads the seen-set of every stream that has an action of `actions` inside its window and has not
   * been read yet, before any of the page is delivered; false (the run failed `STATE_UNAVAILABLE`, the
   * page not delivered) when one cannot be read. A stream none of whose actions reach its window needs
   * none: `isNew` is false for each of them whatever the seen-set holds.
   */
  private async readSeenSets(
    work: readonly StreamWork[],
    tenantState: TenantState,
    actions: readonly SeenEntry[],
    wholeSweep: boolean,
  ): Promise<boolean> {
    for (const w of work) {
      if (w.state !== undefined || this.ledger.failedDestinations.has(w.destination.id)) continue;
      if (!actions.some((action) => action.timestampMs >= w.windowStart)) continue;
      w.reached = true;
      // The sweep is this one page and its ids inside the window are those the stored position's write
      // handled, every one (ADR 0128): none is new, whatever the seen-set holds.
      const vouched = w.cursor?.windowDigest;
      if (wholeSweep && vouched !== undefined && sameWindow(actions, w.windowStart, vouched)) continue;
      try {
        w.state = await tenantState.stream(w.stream.id);
        w.home = w.state.home;
      } catch (err) {
        this.ledger.incomplete = true;
        this.ledger.fail('STATE_UNAVAILABLE', errorMessage(err));
        this.log.warn({ err: errorInfo(err), streamId: w.stream.id }, 'seen-set not read; sweep stopped');
        return false;
      }
    }
    return true;
  }

  /** Adds what one page's delivery did to the ledger and the stream's progress; returns its rejections. */
  private record(w: StreamWork, d: StreamDelivery): RecordedRejection[] {
    const { counts } = this.ledger;
    const stats = this.ledger.stats(w.destination.id);
    stats.read += d.read;
    stats.alreadySent += d.alreadySent;
    stats.otherAgent += d.otherAgent;
    stats.skipped += d.skipped;
    stats.imported += d.imported;
    stats.notSent += d.notSent;
    counts.actionsSkipped += d.skipped;
    counts.findingsMapped += d.mapped;
    counts.findingsImported += d.imported;
    counts.throttles += d.throttles;
    if (d.imported > 0) this.ledger.deliveredDestinations.add(w.destination.id);
    for (const { id, timestampMs } of d.handled) w.progress.add(id, timestampMs);
    for (const p of d.sent) this.ledger.remember(p, w.stream.region);
    w.blockedAtMs = Math.min(w.blockedAtMs, d.blockedAtMs);
    for (const { id, timestampMs, rejection } of d.refused) w.refused.set(id, { timestampMs, rejection });
    const hub = hubOf(w);
    this.tookByHub.set(hub, (this.tookByHub.get(hub) ?? 0) + d.imported);
    // Refusals of findings of the page wait for `settleRefusals`; one naming none holds all back now.
    if (d.notTakenYet !== null && d.blockedAtMs === Number.NEGATIVE_INFINITY)
      this.ledger.fail('IMPORT_INCOMPLETE', `Security Hub did not take some findings yet: ${d.notTakenYet}`);
    if (d.failure?.stopsDestination) {
      const { code, message } = d.failure;
      this.ledger.failDestination(w.destination.id, { code, message, canDisable: true });
    } else if (d.failure !== null) {
      this.ledger.fail(d.failure.code, d.failure.message);
      this.log.warn(
        { err: errorInfo(d.failure), destinationId: w.destination.id },
        'import failed; will retry next run',
      );
    }
    return d.rejections;
  }

  /**
   * Keeps the page's rejections. The run counts records seen for the first time; a record re-read in
   * a later overlap is not new. A record the store could not keep fails the run (it is in the log).
   */
  private async keep(rejections: readonly RecordedRejection[]): Promise<void> {
    const { tenantId } = this.config;
    const kept = await keepRejections(
      (batch) => this.deps.store.recordRejections(tenantId, this.runId, batch),
      rejections,
      this.log,
    );
    this.ledger.counts.recordsRejected += kept.inserted;
    for (const { rejection, destinationId } of rejections) {
      if (destinationId !== null) this.ledger.stats(destinationId).rejected++;
      this.rejectedByStage.set(rejection.stage, (this.rejectedByStage.get(rejection.stage) ?? 0) + 1);
    }
    if (kept.failed > 0) {
      this.ledger.fail(
        'REJECTIONS_NOT_KEPT',
        `${kept.failed} rejected records could not be stored; they are in the worker's log`,
      );
    }
  }

  /**
   * Every `CHECKPOINT_MS` while the sweep goes on, what each stream handled since the last checkpoint
   * goes into its seen-set (same position): a worker killed mid-run re-sends at most what it handled
   * since (issue 11). A failed checkpoint is a missed optimisation for delivery: the final write carries
   * it. One whose seen-set put landed and whose cursor update did not leaves the stream's last digest in
   * place beside ids it does not vouch for: the store gives each id's lease epoch (`SeenSet.epochOf`),
   * and the digest the epoch of the run it speaks for (ADR 0143, 0146). A checkpoint keeps the digest.
   */
  private async checkpoint(work: readonly StreamWork[]): Promise<void> {
    const now = this.deps.clock();
    if (now - this.lastCheckpointMs < CHECKPOINT_MS || this.stop.aborted) return;
    this.lastCheckpointMs = now;
    for (const w of work) {
      // Unread: nothing was due to it, so nothing was handled.
      if (w.state === undefined || this.ledger.failedDestinations.has(w.destination.id)) continue;
      const write = w.progress.checkpoint(w.state, now, this.policy, w.windowStart);
      if (write === null) continue;
      try {
        await this.deps.state.advanceCursor(this.lease.lease, w.stream.id, write.next, {
          seen: write.seen,
          home: w.home,
        });
        if (w.home === 'new') w.home = 'lease';
        w.progress.saved(write, this.policy);
      } catch (err) {
        if (isLeaseLost(err)) {
          this.lease.stopWith(LEASE_LOST, err);
          return;
        }
        this.log.debug({ err: errorInfo(err), streamId: w.stream.id }, 'checkpoint not saved');
      }
    }
  }

  /**
   * Moves the stream's cursor after the sweep (never past an action not delivered), or says why not.
   * `lastOf`: the tenant's state and the run's destinations, when this is the run's last stream: its
   * write may release the lease.
   */
  private async advance(
    w: StreamWork,
    complete: boolean,
    reachedEnd: boolean,
    oldestSeen: number,
    swept: readonly SeenEntry[],
    lastOf?: { readonly state: TenantState; readonly destinations: ReadonlyMap<string, DestinationConfig> },
  ): Promise<void> {
    const ledger = this.ledger;
    if (ledger.failedDestinations.has(w.destination.id)) {
      if (w.cursor !== null) ledger.position(w.destination.id, w.cursor.positionMs);
      // What it imported before the destination failed (an import stopped mid-call, ADR 0132) is in
      // Security Hub: it goes into the seen-set, and the position stays where it was.
      if (w.state === undefined || ledger.stats(w.destination.id).imported === 0) return;
      const kept = w.progress.plan(w.state, this.now, this.policy, {
        complete: false,
        blockedAtMs: Number.NEGATIVE_INFINITY,
        windowStartMs: w.windowStart,
      });
      if (kept !== null) await this.saveCursor(w, kept);
      return;
    }
    if (w.blockedAtMs !== Number.POSITIVE_INFINITY) ledger.incomplete = true;
    const gapFrom = w.cursor?.positionMs;
    // A complete sweep is what can tell whether the stream is within Vaikora's retention.
    if (complete) this.judge(w.destination.id, 'retention_gap');
    if (
      complete &&
      gapFrom !== undefined &&
      reachedEnd &&
      gapFrom < this.now - this.deps.options.retentionMs &&
      oldestSeen > gapFrom
    ) {
      const message =
        `actions between ${new Date(gapFrom).toISOString()} and ${new Date(Math.min(oldestSeen, this.now)).toISOString()} ` +
        'may have expired from Vaikora before they could be read';
      ledger.fail('RETENTION_GAP', message);
      this.observe(w.destination.id, 'retention_gap', `RETENTION_GAP: ${message}`);
    }
    // Never read: no action reached its window, nothing was handled, nothing moves (an idle stream).
    if (w.state === undefined) {
      ledger.position(w.destination.id, w.cursor?.positionMs ?? this.now);
      // A complete sweep that found nothing in a window where its digest counted actions: they are gone
      // (deleted, or re-stamped out of it). A digest that counts none is written once, so that later runs
      // do not expect them (ADR 0146).
      const counted = parseWindowDigest(w.cursor?.windowDigest)?.count ?? 0;
      if (complete && !w.reached && w.cursor !== null && counted > 0) {
        const { positionMs, stuck } = w.cursor;
        const windowDigest = formatWindowDigest({ hash: '', count: 0, epoch: this.lease.lease.epoch });
        await this.saveCursor(w, {
          next: {
            positionMs,
            updatedAtMs: this.now,
            windowDigest,
            ...(stuck === undefined ? {} : { stuck }),
          },
          seen: [],
          prune: [],
        });
      }
      return;
    }
    const { state } = w;
    const write = w.progress.plan(state, this.now, this.policy, {
      complete,
      blockedAtMs: w.blockedAtMs,
      windowStartMs: w.windowStart,
      // After a complete sweep: how many ids it found inside the next window are in the seen-set, by this
      // run's epoch (ADR 0144, 0146), hashed only when every one of them was seen before or handled now,
      // and nothing was left undelivered (ADR 0128).
      windowDigest: complete
        ? (next) => {
            const inside = new Set<string>();
            for (const a of swept) if (a.timestampMs >= next) inside.add(a.id);
            let count = 0;
            let every = w.blockedAtMs === Number.POSITIVE_INFINITY;
            for (const id of inside) {
              if (w.progress.has(id) || state.seen.has(id)) count++;
              else every = false;
            }
            const hash = every && inside.size <= WINDOW_HASH_MAX_IDS ? hashOfIds(inside) : '';
            return formatWindowDigest({ hash, count, epoch: this.lease.lease.epoch });
          }
        : undefined,
      // A run counts toward giving up on a stuck finding only when the stream's hub took others (ADR 0133).
      stuck: nextStuck(
        w.cursor?.stuck ?? [],
        {
          refused: new Map([...w.refused].map(([id, r]) => [id, r.timestampMs])),
          handled: w.progress.ids(),
          counted: w.counted,
          complete,
        },
        this.now,
        DEFAULT_STUCK_POLICY,
      ),
    });
    if (write === null) {
      ledger.position(w.destination.id, w.cursor?.positionMs ?? this.now);
      return;
    }
    await this.saveCursor(
      w,
      write,
      lastOf !== undefined && this.nothingAfterLastWrite(lastOf.state, lastOf.destinations),
    );
  }

  /**
   * Whether the run writes nothing under its lease after its last cursor write (ADR 0140), so that the
   * write may release the lease: `healthSaves` plans no destination health to save (PostgreSQL, kept
   * under the lease so that the tenant's next run loads it), and the health report makes no call
   * (`reconcileIsIdle`, with the rejections judged as `judgeRejected` will judge them), or the runtime
   * keeps no health state. Asked at the last write, the plans hold every write the run's end makes: no
   * destination fails, delivers or is observed after it, and what can still change (a run error, an
   * incomplete run) only takes saves away.
   */
  private nothingAfterLastWrite(
    state: TenantState,
    destinations: ReadonlyMap<string, DestinationConfig>,
  ): boolean {
    if (healthSaves(destinations, this.ledger, this.now, this.deps.options).length > 0) return false;
    if (this.deps.healthState === undefined) return true;
    if (this.rejectedTally.destinations.size > 0 && this.rejectedAbove()) return false;
    return reconcileIsIdle({
      stored: state.openHealth,
      observation: { open: this.healthOpen, judged: this.healthJudged },
      heartbeat: this.heartbeatOn(),
    });
  }

  /**
   * Stores a stream's cursor write, tried again after a passing failure; a failure is the run's error.
   * `release`: the run's last write, which releases the lease with it (ADR 0140).
   */
  private async saveCursor(w: StreamWork, write: CursorWrite, release = false): Promise<void> {
    const ledger = this.ledger;
    try {
      await this.writeCursor(w, write, release);
      ledger.position(w.destination.id, write.next.positionMs);
    } catch (err) {
      ledger.position(w.destination.id, w.cursor?.positionMs ?? this.now);
      if (isLeaseLost(err)) {
        this.lease.stopWith(LEASE_LOST, err);
        ledger.fail(LEASE_LOST.code, LEASE_LOST.message);
      } else {
        ledger.fail('CURSOR_NOT_SAVED', errorMessage(err));
      }
      this.log.warn({ err: errorInfo(err), streamId: w.stream.id }, 'cursor not advanced');
    }
  }

  /**
   * What the run handled is in Security Hub: a write lost to a passing DynamoDB failure would make the
   * next run send it all again (billed again). Tried again, while the lease holds and the run is not
   * far past its budget, before giving up.
   */
  private async writeCursor(w: StreamWork, write: CursorWrite, releaseAsked: boolean): Promise<void> {
    // One id for every try: a try that landed without its answer is known as ours by the next.
    const writeId = randomUUID();
    const hold = this.lease;
    // ADR 0140: every try carries the release, and no renewal is sent until one answers (a renewal
    // landing after a try that released the lease, its answer lost, would hold the lease again). The
    // lease has two thirds of its time to live left at least; if the tries outlast it, the write is
    // refused as LEASE_LOST, with the ids it handled already in the seen-set.
    const release = releaseAsked && hold.pauseRenewals !== undefined;
    if (release) await hold.pauseRenewals?.();
    // Before the first try is sent, so before any next run can take a lease a try released.
    const sentAtMs = this.deps.clock();
    for (let attempt = 0; ; attempt++) {
      try {
        const outcome = await this.deps.state.advanceCursor(hold.lease, w.stream.id, write.next, {
          seen: write.seen,
          prune: write.prune,
          home: w.home,
          writeId,
          ...(release ? { release: true } : {}),
        });
        if (release && outcome === 'released') {
          hold.releasedByWrite?.();
          this.releasedAtMs = sentAtMs;
        } else if (release) {
          // Kept (a cursor item's write): released by call once the run is recorded, renewed until then.
          hold.resumeRenewals?.();
        }
        return;
      } catch (err) {
        const delay = FINAL_WRITE_RETRY_MS[attempt];
        if (
          !isRetryableStateFailure(err) ||
          delay === undefined ||
          this.lease.stopReason === LEASE_LOST ||
          this.deps.clock() + delay > this.retryWritesUntilMs
        ) {
          // A try may have landed and released the lease without its answer: the run ends as it was sent.
          if (release) this.releasedAtMs = sentAtMs;
          throw err;
        }
        this.log.debug(
          { err: errorInfo(err), streamId: w.stream.id, attempt },
          'cursor write failed; trying again',
        );
        await (this.deps.sleep ?? sleep)(delay);
      }
    }
  }

  /**
   * After the agent's sweep (ADR 0133): the run counts toward giving up on a stream's stuck findings
   * when its hub (the destination's account in the stream's region) took findings this run, from any
   * agent swept so far; then a finding refused again whose entry is old enough is given up on (kept as
   * rejected, with why, and handled), and what is still refused holds the position back.
   */
  private async settleRefusals(work: readonly StreamWork[]): Promise<void> {
    const given: RecordedRejection[] = [];
    for (const w of work) {
      if (this.ledger.failedDestinations.has(w.destination.id)) continue;
      w.counted = (this.tookByHub.get(hubOf(w)) ?? 0) > 0;
      for (const [id, refused] of w.refused) {
        const stuck = w.stuck.get(stuckKey(id));
        if (!w.counted || stuck === undefined || !givesUp(stuck, this.now, DEFAULT_STUCK_POLICY)) continue;
        given.push({ ...refused.rejection, rejection: gaveUp(refused.rejection.rejection, stuck) });
        w.progress.add(id, refused.timestampMs);
        w.refused.delete(id);
      }
      const [first] = w.refused.values();
      if (first === undefined) continue;
      for (const { timestampMs } of w.refused.values()) w.blockedAtMs = Math.min(w.blockedAtMs, timestampMs);
      this.ledger.fail(
        'IMPORT_INCOMPLETE',
        `Security Hub did not take some findings yet: ${first.rejection.rejection.reason}`,
      );
    }
    if (given.length > 0) {
      this.tallyRejected(work, 0, given);
      await this.keep(given);
    }
  }

  /** Records that `condition` holds for the destination this run (it is judged too). */
  private observe(destinationId: string, condition: HealthCondition, facts: string): void {
    this.judge(destinationId, condition);
    const open = this.healthOpen.get(destinationId) ?? new Map<HealthCondition, string>();
    if (!open.has(condition)) open.set(condition, facts);
    this.healthOpen.set(destinationId, open);
  }

  /** Records that this run could tell whether `condition` holds for the destination. */
  private judge(destinationId: string, condition: HealthCondition): void {
    const judged = this.healthJudged.get(destinationId) ?? new Set<HealthCondition>();
    judged.add(condition);
    this.healthJudged.set(destinationId, judged);
  }

  /** Adds one page to what the `rejected_above_threshold` condition is judged on (ADR 0118). */
  private tallyRejected(
    work: readonly StreamWork[],
    read: number,
    rejections: readonly RecordedRejection[],
  ): void {
    const tally = this.rejectedTally;
    tally.read += read;
    for (const w of work) tally.destinations.add(w.destination.id);
    for (const { rejection } of rejections) tally.stages.add(rejection.stage);
  }

  /**
   * `rejected_above_threshold` (ADR 0118) for every destination this run read records for: open when
   * the run's new rejections (a record re-read in the overlap is not new) are above the threshold,
   * judged cleared only by a complete run.
   */
  private judgeRejected(): void {
    const rejected = this.ledger.counts.recordsRejected;
    const { read, destinations, stages } = this.rejectedTally;
    const above = this.rejectedAbove();
    const facts = rejectedRecordsFacts({ rejected, read, stages: [...stages] });
    for (const destinationId of destinations) {
      if (above) this.observe(destinationId, 'rejected_above_threshold', facts);
      else if (!this.ledger.incomplete && !this.ledger.failedDestinations.has(destinationId))
        this.judge(destinationId, 'rejected_above_threshold');
    }
  }

  /** Whether the run's new rejections are above the threshold of `rejected_above_threshold` (ADR 0118). */
  private rejectedAbove(): boolean {
    return rejectedAboveThreshold({
      rejected: this.ledger.counts.recordsRejected,
      read: this.rejectedTally.read,
    });
  }

  /** The tenant's destinations with the heartbeat on (ADR 0118). */
  private heartbeatOn(): ReadonlySet<string> {
    return new Set(this.config.destinations.filter((d) => d.heartbeat === true).map((d) => d.id));
  }

  /**
   * Health findings (ADR 0116) into each runnable destination's hubs (one per stream region): a key
   * Vaikora refused opens `vaikora_auth`, a Vaikora not reached opens `vaikora_unreachable` once it
   * has lasted `vaikoraUnreachableAfterMs`, a page from Vaikora clears both; a retention gap opens
   * `retention_gap`, a complete sweep without one clears it; rejected records above the threshold open
   * `rejected_above_threshold`, a complete run under it clears it; a destination with the heartbeat on
   * gets it at most hourly (ADR 0118). Nothing when the runtime keeps no health state, or the lease is
   * no longer ours.
   */
  private async reportHealth(
    destinations: ReadonlyMap<string, DestinationConfig>,
    stored: readonly OpenHealthCondition[] | undefined,
  ): Promise<void> {
    const store = this.deps.healthState;
    if (store === undefined || this.lease.signal.aborted) return;
    this.judgeRejected();
    const targets: HealthTarget[] = [];
    const seen = new Set<string>();
    for (const stream of this.config.streams) {
      const destination = destinations.get(stream.destinationId);
      const key = `${stream.destinationId}\u0000${stream.region}`;
      if (destination === undefined || seen.has(key)) continue;
      seen.add(key);
      targets.push({
        destination,
        region: stream.region,
        importer: this.deps.importer(routeOf(this.config.tenantId, destination, stream)),
      });
    }
    await reconcileHealthFindings({
      tenantId: this.config.tenantId,
      lease: this.lease.lease,
      nowMs: this.now,
      targets,
      destinationIds: new Set(this.config.destinations.map((d) => d.id)),
      observation: { open: this.healthOpen, judged: this.healthJudged },
      thresholdsMs: { vaikora_unreachable: this.deps.options.vaikoraUnreachableAfterMs },
      heartbeat: this.heartbeatOn(),
      store,
      stored,
      log: this.log,
    });
  }

  private async saveHealth(destinations: ReadonlyMap<string, DestinationConfig>): Promise<void> {
    for (const save of healthSaves(destinations, this.ledger, this.now, this.deps.options))
      await this.deps.store.saveDestinationHealth(save.destinationId, save.health, save.lastError);
  }
}

/** One destination's health as the run's end saves it (`TenantStore.saveDestinationHealth`). */
interface HealthSave {
  readonly destinationId: string;
  readonly health: DestinationHealth;
  readonly lastError: string | null;
}

/**
 * The destination health a run saves at its end: a failed destination counts its failure (and may be
 * degraded or disabled); one that took deliveries, or a `verified` or `degraded` one in a run that ended
 * complete and without error, is made `active` with no failure counted, unless it already is.
 */
function healthSaves(
  destinations: ReadonlyMap<string, DestinationConfig>,
  ledger: RunLedger,
  nowMs: number,
  policy: HealthPolicy,
): HealthSave[] {
  const saves: HealthSave[] = [];
  for (const destination of destinations.values()) {
    const failure = ledger.failedDestinations.get(destination.id);
    if (failure !== undefined) {
      saves.push({
        destinationId: destination.id,
        health: afterFailure(destination.health, nowMs, policy, failure.canDisable),
        lastError: `${failure.code}: ${failure.message}`,
      });
    } else if (
      (ledger.deliveredDestinations.has(destination.id) ||
        (destination.state !== 'active' && !ledger.incomplete && ledger.firstError === null)) &&
      (destination.state !== 'active' || destination.health.consecutiveFailures > 0)
    ) {
      saves.push({ destinationId: destination.id, health: afterSuccess(), lastError: null });
    }
  }
  return saves;
}
