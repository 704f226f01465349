import { randomUUID } from 'node:crypto';
import {
  AwsError,
  classifyAwsError,
  type Lease,
  type SecurityHubImporter,
  StateError,
  type StreamState,
} from '@vsh/aws';
import { type PreparedFinding, prepareAction, type VaikoraAction } from '@vsh/core';
import type { RecentFinding } from '@vsh/db';
import { VaikoraError } from '@vsh/vaikora';
import type { Logger } from 'pino';
import { type CursorPolicy, isNew, type StreamCursor, StreamProgress, windowStartMs } from './cursor.ts';
import { afterFailure, afterSuccess, RUNNABLE_STATES } from './health.ts';
import {
  type DestinationConfig,
  type KeptRejections,
  type RecordedRejection,
  type RunDeps,
  type RunSummary,
  routeOf,
  type StreamConfig,
  type TenantConfig,
} from './ports.ts';

export type RunResult =
  | { readonly kind: 'busy' }
  | { readonly kind: 'gone' }
  | { readonly kind: 'ran'; readonly runId: string; readonly summary: RunSummary };

const MAX_RECENT = 50;

/** Why a run was stopped from outside, as the run's error code and message (the status page shows them). */
const SHUTDOWN = {
  code: 'SHUTDOWN',
  message: 'the worker was stopped before the run finished; the next run goes on from there',
};
const LEASE_LOST = {
  code: 'LEASE_LOST',
  message: 'another worker took over this tenant; its run continues from the stored cursor',
};
const LEASE_EXPIRED = {
  code: 'LEASE_EXPIRED',
  message:
    "the run's lease ran out before it could be renewed (the worker was paused or overloaded); the next run goes on from there",
};
/** How often a run stores what it handled so far (see `checkpoint`). */
const CHECKPOINT_MS = 2000;

/**
 * One tenant's run (architecture.md, "One tenant's run"): take the lease, pull every new action of
 * every stream, import what qualifies, advance each cursor only past what is in Security Hub or
 * recorded as rejected, record the run, release the lease. Never throws for a tenant's data or
 * configuration; `signal` stops it after the batch in flight.
 */
export async function runTenant(tenantId: string, deps: RunDeps, signal?: AbortSignal): Promise<RunResult> {
  // The lease owner names this run, not only the process: a process runs many tenants at once and can be
  // handed the same tenant twice (an SQS message sent again, "run now"), and the store lets an owner take
  // its own lease again, so a per-process owner would let both runs in.
  const owner = `${deps.workerId}#${randomUUID()}`;
  const lease = await deps.state.acquireLease(tenantId, owner, deps.options.leaseTtlMs);
  if (lease === null) return { kind: 'busy' };
  const holder = new LeaseHolder(lease, deps, signal);
  try {
    const config = await deps.store.loadTenant(tenantId);
    if (config === null) return { kind: 'gone' };
    return await new TenantRun(config, deps, holder).execute();
  } finally {
    await holder.release();
  }
}

/** Keeps the lease alive while the run (or a backfill) works, and stops it when the lease is lost. */
export class LeaseHolder {
  readonly controller = new AbortController();
  /** Why the run was stopped from outside (shutdown, lease lost or run out): what a partial run reports. */
  stopReason: { code: string; message: string } | null = null;
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> = Promise.resolve();
  /** Removes the listener on the outer signal, which every run of the process shares and outlives them. */
  private readonly detach: () => void = () => undefined;

  constructor(
    public lease: Lease,
    private readonly deps: RunDeps,
    outer: AbortSignal | undefined,
  ) {
    if (outer) {
      if (outer.aborted) this.stopWith(SHUTDOWN.code, SHUTDOWN.message, outer.reason);
      else {
        const onAbort = () => this.stopWith(SHUTDOWN.code, SHUTDOWN.message, outer.reason);
        outer.addEventListener('abort', onAbort, { once: true });
        this.detach = () => outer.removeEventListener('abort', onAbort);
      }
    }
    const every = Math.max(1000, Math.floor(deps.options.leaseTtlMs / 3));
    this.timer = setInterval(() => {
      this.renewing = this.renew();
    }, every);
    this.timer.unref();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Stops the run and keeps the first reason, so a run cut short always says why (never "partial, no error"). */
  stopWith(code: string, message: string, reason?: unknown): void {
    this.stopReason ??= { code, message };
    this.controller.abort(reason ?? new Error(message));
  }

  private async renew(): Promise<void> {
    try {
      this.lease = await this.deps.state.renewLease(this.lease, this.deps.options.leaseTtlMs);
    } catch (err) {
      if (err instanceof StateError && err.code === 'LEASE_LOST') {
        this.deps.logger.warn({ tenantId: this.lease.tenantId }, 'lease lost; stopping the run');
        this.stopWith(LEASE_LOST.code, LEASE_LOST.message, err);
      } else {
        this.deps.logger.warn({ tenantId: this.lease.tenantId, err: errorInfo(err) }, 'lease renewal failed');
      }
    }
  }

  async release(): Promise<void> {
    this.detach();
    clearInterval(this.timer);
    await this.renewing;
    try {
      await this.deps.state.releaseLease(this.lease);
    } catch (err) {
      // The lease expires on its own; a failed release only delays the next run.
      this.deps.logger.warn({ tenantId: this.lease.tenantId, err: errorInfo(err) }, 'lease release failed');
    }
  }
}

interface StreamWork {
  readonly stream: StreamConfig;
  readonly destination: DestinationConfig;
  readonly state: StreamState;
  readonly cursor: StreamCursor | null;
  readonly windowStart: number;
  readonly progress: StreamProgress;
  readonly importer: SecurityHubImporter;
  /** Time of the oldest action that could not be delivered for a transient reason. */
  blockedAtMs: number;
}

/** What one destination's streams did with the actions they read: the parts add up to `read` (ADR 0100). */
interface StreamCounts {
  read: number;
  alreadySent: number;
  /** Named another agent the tenant routes: that agent's own stream delivers it, to its own destination. */
  otherAgent: number;
  skipped: number;
  rejected: number;
  imported: number;
  notSent: number;
  positions: number[];
}

const emptyCounts = (): StreamCounts => ({
  read: 0,
  alreadySent: 0,
  otherAgent: 0,
  skipped: 0,
  rejected: 0,
  imported: 0,
  notSent: 0,
  positions: [],
});

class TenantRun {
  private readonly log: Logger;
  private readonly now: number;
  private readonly nowIso: string;
  private readonly policy: CursorPolicy;
  private runId = '';
  private readonly counts = {
    actionsRead: 0,
    findingsMapped: 0,
    findingsImported: 0,
    actionsSkipped: 0,
    recordsRejected: 0,
    throttles: 0,
  };
  private firstError: { code: string; message: string } | null = null;
  /** Whether `firstError` only says why the run stopped early (see `stoppedEarly`). */
  private onlyStopped = false;
  private readonly recent: RecentFinding[] = [];
  private readonly failedDestinations = new Map<
    string,
    { code: string; message: string; canDisable: boolean }
  >();
  private readonly deliveredDestinations = new Set<string>();
  private readonly positions: number[] = [];
  private readonly perDestination = new Map<string, StreamCounts>();
  /** Every agent this tenant routes somewhere: a record naming one of them belongs to that agent's streams. */
  private readonly routedAgents: ReadonlySet<string>;
  private incomplete = false;
  private lastCheckpointMs: number;
  /** Stops the run: a shutdown, a lost lease, or the run's time budget spent. */
  private readonly stop: AbortSignal;
  private readonly budget: AbortSignal;

  constructor(
    private readonly config: TenantConfig,
    private readonly deps: RunDeps,
    private readonly lease: LeaseHolder,
  ) {
    this.now = deps.clock();
    this.nowIso = new Date(this.now).toISOString();
    this.log = deps.logger.child({ tenantId: config.tenantId });
    this.routedAgents = new Set(config.streams.map((stream) => stream.agentId));
    const { overlapMs, initialLookbackMs } = deps.options;
    this.policy = { overlapMs, initialLookbackMs };
    this.budget = AbortSignal.timeout(deps.options.runBudgetMs);
    this.stop = AbortSignal.any([lease.signal, this.budget]);
    this.lastCheckpointMs = this.now;
  }

  /** True when the run must stop: also when its lease has run out by the local clock (a paused process). */
  private stopping(): boolean {
    if (this.stop.aborted) return true;
    if (this.deps.clock() >= this.lease.lease.expiresAtMs) {
      this.lease.stopWith(LEASE_EXPIRED.code, LEASE_EXPIRED.message);
      return true;
    }
    return false;
  }

  async execute(): Promise<RunResult> {
    const { store, workerId, metrics } = this.deps;
    const { tenantId } = this.config;
    const startedAt = new Date(this.now);
    this.runId = await store.startRun(tenantId, workerId, startedAt);
    const log = this.log.child({ runId: this.runId });
    log.info({ streams: this.config.streams.length }, 'run started');

    const vaikora = this.config.vaikora;
    const runnable = new Map(
      this.config.destinations.filter((d) => RUNNABLE_STATES.includes(d.state)).map((d) => [d.id, d]),
    );
    const streams = this.config.streams.filter((s) => runnable.has(s.destinationId));
    if (vaikora === null) {
      const problem = this.config.vaikoraProblem;
      if (problem) this.fail(problem.code, problem.message);
      else this.fail('NO_VAIKORA_SETTINGS', 'the tenant has not set its Vaikora connection');
    } else if (this.config.destinations.length > 0 && runnable.size === 0) {
      this.fail('NO_RUNNABLE_DESTINATION', 'no destination is verified, active or degraded');
    } else {
      const byAgent = new Map<string, StreamConfig[]>();
      for (const s of streams) byAgent.set(s.agentId, [...(byAgent.get(s.agentId) ?? []), s]);
      for (const [agentId, group] of byAgent) {
        if (this.stopping()) {
          this.incomplete = true;
          break;
        }
        await this.runAgent(agentId, group, runnable);
      }
      if (this.budget.aborted && !this.lease.signal.aborted) {
        this.fail(
          'RUN_BUDGET_SPENT',
          `the run stopped after its ${Math.round(this.deps.options.runBudgetMs / 1000)} s budget; the next run goes on from there`,
        );
      }
      const stopped = this.lease.stopReason;
      if (stopped !== null && this.incomplete) this.stoppedEarly(stopped.code, stopped.message);
      await this.saveHealth(runnable);
    }

    const summary = this.summary(streams);
    await store.finishRun(this.runId, summary, new Date(this.deps.clock()));
    const pollMs = (vaikora?.pollIntervalSeconds ?? 300) * 1000;
    await store.scheduleNext(tenantId, new Date(this.now + pollMs), startedAt);

    metrics.imported.inc({ tenant: tenantId }, summary.findingsImported);
    metrics.skipped.inc({ tenant: tenantId }, summary.actionsSkipped);
    metrics.throttles.inc({ tenant: tenantId }, summary.throttles);
    metrics.runs.inc({ status: summary.status });
    metrics.runDuration.observe({ status: summary.status }, (this.deps.clock() - this.now) / 1000);
    if (summary.lagSeconds !== null) metrics.lagSeconds.set({ tenant: tenantId }, summary.lagSeconds);
    log.info({ ...summary, recentFindings: undefined }, 'run finished');
    return { kind: 'ran', runId: this.runId, summary };
  }

  private stats(destinationId: string) {
    let stats = this.perDestination.get(destinationId);
    if (stats === undefined) {
      stats = emptyCounts();
      this.perDestination.set(destinationId, stats);
    }
    return stats;
  }

  private position(destinationId: string, positionMs: number): void {
    this.positions.push(positionMs);
    this.stats(destinationId).positions.push(positionMs);
  }

  private fail(code: string, message: string): void {
    if (this.firstError === null) this.firstError = { code, message };
  }

  /**
   * Names why the run stopped early when nothing failed: the run reports it (a partial run always says
   * why) but it is not an error for the run's status (a shutdown is not a failure).
   */
  private stoppedEarly(code: string, message: string): void {
    if (this.firstError !== null) return;
    this.firstError = { code, message };
    this.onlyStopped = true;
  }

  private async runAgent(
    agentId: string,
    group: readonly StreamConfig[],
    destinations: ReadonlyMap<string, DestinationConfig>,
  ): Promise<void> {
    const { state } = this.deps;
    const vaikora = this.config.vaikora;
    if (vaikora === null) return;
    const work: StreamWork[] = [];
    for (const stream of group) {
      const destination = destinations.get(stream.destinationId);
      if (destination === undefined || this.failedDestinations.has(destination.id)) continue;
      let streamState: StreamState;
      try {
        streamState = await state.getStream(this.config.tenantId, stream.id);
      } catch (err) {
        // Without every cursor of the agent its sweep cannot know where to stop; the next run reads it again.
        this.incomplete = true;
        this.fail('STATE_UNAVAILABLE', err instanceof Error ? err.message : String(err));
        this.log.warn({ err: errorInfo(err), streamId: stream.id }, 'cursor not read; agent skipped');
        return;
      }
      const cursor = streamState.cursor;
      work.push({
        stream,
        destination,
        state: streamState,
        cursor,
        windowStart: windowStartMs(cursor, this.now, this.policy),
        progress: new StreamProgress(),
        importer: this.deps.importer(routeOf(this.config.tenantId, destination, stream)),
        blockedAtMs: Number.POSITIVE_INFINITY,
      });
    }
    if (work.length === 0) return;
    const stopBeforeMs = Math.min(...work.map((w) => w.windowStart));
    const client = this.deps.vaikora(vaikora);
    let complete = false;
    let reachedEnd = false;
    let oldestSeen = Number.POSITIVE_INFINITY;
    try {
      for await (const page of client.sweep({ agentId, stopBeforeMs, signal: this.stop })) {
        this.counts.actionsRead += page.actions.length;
        if (page.oldestMs !== null) oldestSeen = Math.min(oldestSeen, page.oldestMs);
        const rejections: RecordedRejection[] = page.rejections.map((rejection) => ({
          rejection,
          destinationId: null,
          agentId,
        }));
        for (const w of work) {
          if (this.failedDestinations.has(w.destination.id)) continue;
          await this.deliver(w, page.actions, rejections, agentId);
        }
        await this.keep(rejections);
        await this.checkpoint(work);
        if (page.stop !== null) {
          complete = page.stop !== 'max-pages';
          reachedEnd = page.stop === 'end';
          if (page.stop === 'max-pages')
            this.fail('BACKLOG_TOO_LARGE', 'the sweep hit its page limit before reaching the cursor');
        }
        if (this.stopping()) break;
      }
    } catch (err) {
      complete = false;
      this.onSweepError(err, work);
    }
    if (this.stop.aborted) {
      this.incomplete = true;
      complete = false;
    }
    if (!complete) this.incomplete = true;
    // A run whose lease is lost writes nothing: the new holder's writes are the ones that count.
    if (this.lease.signal.aborted) {
      for (const w of work) if (w.cursor !== null) this.position(w.destination.id, w.cursor.positionMs);
      return;
    }
    for (const w of work) await this.advance(w, complete, reachedEnd, oldestSeen);
  }

  /** Filters, maps, validates and imports one page's new actions for one stream. */
  private async deliver(
    w: StreamWork,
    actions: readonly VaikoraAction[],
    rejections: RecordedRejection[],
    agentId: string,
  ): Promise<void> {
    const thresholds = this.config.vaikora?.thresholds;
    if (thresholds === undefined) return;
    const destination = {
      accountId: w.destination.accountId,
      region: w.stream.region,
      partition: w.destination.partition,
    };
    const ready: PreparedFinding[] = [];
    const stats = this.stats(w.destination.id);
    stats.read += actions.length;
    for (const action of actions) {
      if (!isNew(action, w.state.seen, w.windowStart)) {
        stats.alreadySent++;
        continue;
      }
      // Routing is per agent (ADR 0098): a record that names another agent this tenant routes (a Vaikora
      // that ignores the filter) must not reach this agent's AWS account; that agent's own stream sends it.
      // Any other agent_id (absent, junk) is the queried agent's: the filter matched it.
      if (
        action.agentId !== undefined &&
        action.agentId !== agentId &&
        this.routedAgents.has(action.agentId)
      ) {
        stats.otherAgent++;
        w.progress.add(action.id, action.timestampMs);
        continue;
      }
      const outcome = prepareAction(action, { destination, now: this.nowIso, thresholds });
      if (outcome.kind === 'skipped') {
        this.counts.actionsSkipped++;
        this.stats(w.destination.id).skipped++;
        w.progress.add(action.id, action.timestampMs);
      } else if (outcome.kind === 'rejected') {
        rejections.push({ rejection: outcome.rejection, destinationId: w.destination.id, agentId });
        w.progress.add(action.id, action.timestampMs);
      } else {
        this.counts.findingsMapped++;
        ready.push(outcome.value);
      }
    }
    // Whatever of `ready` was neither imported nor refused for good is not sent yet: the next run tries again.
    let settled = 0;
    for (let i = 0; i < ready.length; i += this.deps.options.importChunk) {
      // Shutdown or budget: the chunk in flight finishes; what was not sent is read again by the next run.
      if (this.stopping()) {
        w.blockedAtMs = Math.min(w.blockedAtMs, ...ready.slice(i).map((p) => p.action.timestampMs));
        break;
      }
      const chunk = ready.slice(i, i + this.deps.options.importChunk);
      const outcome = await this.importChunk(w, chunk, rejections, agentId);
      settled += outcome.settled;
      if (!outcome.ok) break;
    }
    stats.notSent += ready.length - settled;
  }

  private async importChunk(
    w: StreamWork,
    chunk: PreparedFinding[],
    rejections: RecordedRejection[],
    agentId: string,
  ): Promise<{ ok: boolean; settled: number }> {
    const byFindingId = new Map(chunk.map((p) => [p.finding.Id, p]));
    try {
      const result = await w.importer.importFindings(chunk);
      this.counts.throttles += result.stats.throttled;
      this.counts.findingsImported += result.imported.length;
      this.stats(w.destination.id).imported += result.imported.length;
      let refused = 0;
      if (result.imported.length > 0) this.deliveredDestinations.add(w.destination.id);
      for (const id of result.imported) {
        const p = byFindingId.get(id);
        if (p === undefined) continue;
        w.progress.add(p.action.id, p.action.timestampMs);
        this.remember(p, w.stream.region);
      }
      for (const rejection of result.rejected) {
        const p = rejection.actionId === null ? undefined : byFindingId.get(`vaikora-${rejection.actionId}`);
        if (rejection.retryable) {
          w.blockedAtMs = Math.min(w.blockedAtMs, p?.action.timestampMs ?? Number.NEGATIVE_INFINITY);
          this.fail('IMPORT_INCOMPLETE', `Security Hub did not take some findings yet: ${rejection.reason}`);
        } else {
          rejections.push({ rejection, destinationId: w.destination.id, agentId });
          refused++;
          if (p !== undefined) w.progress.add(p.action.id, p.action.timestampMs);
        }
      }
      return { ok: true, settled: result.imported.length + refused };
    } catch (err) {
      const error = err instanceof AwsError ? err : classifyAwsError(err);
      if (error.stopsDestination) {
        this.failedDestinations.set(w.destination.id, {
          code: error.code,
          message: error.message,
          canDisable: true,
        });
        this.fail(error.code, error.message);
      } else {
        const oldest = Math.min(...chunk.map((p) => p.action.timestampMs));
        w.blockedAtMs = Math.min(w.blockedAtMs, oldest);
        this.fail(error.code, error.message);
        this.log.warn(
          { err: errorInfo(err), destinationId: w.destination.id },
          'import failed; will retry next run',
        );
      }
      return { ok: false, settled: 0 };
    }
  }

  private remember(p: PreparedFinding, region: string): void {
    this.recent.push({
      id: p.finding.Id,
      title: p.finding.Title,
      severity: p.finding.Severity.Label,
      time: p.finding.CreatedAt,
      region,
    });
    // A sweep goes newest first, so the last sent are the oldest: keep the newest by time, not by arrival.
    if (this.recent.length > MAX_RECENT * 2) this.recent.sort(newestFirst).splice(MAX_RECENT);
  }

  /**
   * Keeps the page's rejections. Never fails the sweep (the store never rejects; ADR 0004): a record
   * the database could not keep is logged by the store with its fingerprint and counted here.
   * The run counts records seen for the first time; a record re-read in a later overlap is not new.
   */
  private async keep(rejections: readonly RecordedRejection[]): Promise<void> {
    if (rejections.length === 0) return;
    let kept: KeptRejections;
    try {
      kept = await this.deps.store.recordRejections(this.config.tenantId, this.runId, rejections);
    } catch (err) {
      // The port never rejects; an adapter that does anyway must not stall the stream either.
      this.log.error(
        {
          err: { name: err instanceof Error ? err.name : 'unknown' },
          fingerprints: rejections.map((r) => r.rejection.fingerprint ?? r.rejection.actionId),
        },
        'rejected records could not be kept',
      );
      kept = { inserted: 0, repeated: 0, failed: rejections.length };
    }
    this.counts.recordsRejected += kept.inserted;
    for (const { rejection, destinationId } of rejections) {
      if (destinationId !== null) this.stats(destinationId).rejected++;
      this.deps.metrics.rejected.inc({ tenant: this.config.tenantId, stage: rejection.stage });
    }
    if (kept.failed > 0) {
      this.fail(
        'REJECTIONS_NOT_KEPT',
        `${kept.failed} rejected records could not be stored; they are in the worker's log`,
      );
    }
  }

  private onSweepError(err: unknown, work: readonly StreamWork[]): void {
    if (this.stop.aborted) return;
    if (err instanceof VaikoraError) {
      this.fail(`VAIKORA_${err.code}`, err.message);
      if (err.code === 'UNAUTHORIZED' || err.code === 'FORBIDDEN' || err.code === 'INVALID_CONFIG') {
        for (const w of work) {
          this.failedDestinations.set(w.destination.id, {
            code: `VAIKORA_${err.code}`,
            message: err.message,
            canDisable: false,
          });
        }
      }
      this.log.warn({ err: errorInfo(err) }, 'Vaikora sweep failed');
      return;
    }
    // The message a tenant sees names the error only: an unexpected error's text can carry anything.
    this.fail(
      'UNEXPECTED',
      `the run failed unexpectedly (${err instanceof Error ? err.name : 'error'}); Data443 has been alerted`,
    );
    this.log.error({ err: errorInfo(err) }, 'sweep failed unexpectedly');
  }

  /**
   * Every `CHECKPOINT_MS` while the sweep goes on, what each stream handled since the last checkpoint
   * goes into its seen-set (same position): a worker killed mid-run re-sends at most what it handled
   * since (issue 11). A failed checkpoint is only a missed optimisation: the final write carries it.
   */
  private async checkpoint(work: readonly StreamWork[]): Promise<void> {
    const now = this.deps.clock();
    if (now - this.lastCheckpointMs < CHECKPOINT_MS || this.stop.aborted) return;
    this.lastCheckpointMs = now;
    for (const w of work) {
      if (this.failedDestinations.has(w.destination.id)) continue;
      const write = w.progress.checkpoint(w.state, now, this.policy, w.windowStart);
      if (write === null) continue;
      try {
        await this.deps.state.advanceCursor(this.lease.lease, w.stream.id, write.next, { seen: write.seen });
        w.progress.saved(write, this.policy);
      } catch (err) {
        if (err instanceof StateError && err.code === 'LEASE_LOST') {
          this.lease.stopWith(LEASE_LOST.code, LEASE_LOST.message, err);
          return;
        }
        this.log.debug({ err: errorInfo(err), streamId: w.stream.id }, 'checkpoint not saved');
      }
    }
  }

  private async advance(
    w: StreamWork,
    complete: boolean,
    reachedEnd: boolean,
    oldestSeen: number,
  ): Promise<void> {
    if (this.failedDestinations.has(w.destination.id)) {
      if (w.cursor !== null) this.position(w.destination.id, w.cursor.positionMs);
      return;
    }
    if (w.blockedAtMs !== Number.POSITIVE_INFINITY) this.incomplete = true;
    const gapFrom = w.cursor?.positionMs;
    if (
      complete &&
      gapFrom !== undefined &&
      reachedEnd &&
      gapFrom < this.now - this.deps.options.retentionMs &&
      oldestSeen > gapFrom
    ) {
      this.fail(
        'RETENTION_GAP',
        `actions between ${new Date(gapFrom).toISOString()} and ${new Date(Math.min(oldestSeen, this.now)).toISOString()} ` +
          'may have expired from Vaikora before they could be read',
      );
    }
    const write = w.progress.plan(w.state, this.now, this.policy, {
      complete,
      blockedAtMs: w.blockedAtMs,
      windowStartMs: w.windowStart,
    });
    if (write === null) {
      this.position(w.destination.id, w.cursor?.positionMs ?? this.now);
      return;
    }
    try {
      await this.deps.state.advanceCursor(this.lease.lease, w.stream.id, write.next, {
        seen: write.seen,
        prune: write.prune,
      });
      this.position(w.destination.id, write.next.positionMs);
    } catch (err) {
      this.position(w.destination.id, w.cursor?.positionMs ?? this.now);
      if (err instanceof StateError && err.code === 'LEASE_LOST') {
        this.lease.stopWith(LEASE_LOST.code, LEASE_LOST.message, err);
        this.fail(LEASE_LOST.code, LEASE_LOST.message);
      } else {
        this.fail('CURSOR_NOT_SAVED', err instanceof Error ? err.message : String(err));
      }
      this.log.warn({ err: errorInfo(err), streamId: w.stream.id }, 'cursor not advanced');
    }
  }

  private async saveHealth(destinations: ReadonlyMap<string, DestinationConfig>): Promise<void> {
    const policy = this.deps.options;
    for (const destination of destinations.values()) {
      const failure = this.failedDestinations.get(destination.id);
      if (failure !== undefined) {
        const next = afterFailure(destination.health, this.now, policy, failure.canDisable);
        await this.deps.store.saveDestinationHealth(
          destination.id,
          next,
          `${failure.code}: ${failure.message}`,
        );
      } else if (
        this.deliveredDestinations.has(destination.id) ||
        (destination.state !== 'active' && !this.incomplete && this.firstError === null)
      ) {
        if (destination.state !== 'active' || destination.health.consecutiveFailures > 0) {
          await this.deps.store.saveDestinationHealth(destination.id, afterSuccess(), null);
        }
      }
    }
  }

  private summary(streams: readonly StreamConfig[]): RunSummary {
    const lagSeconds =
      this.positions.length > 0
        ? Math.max(0, Math.round((this.now - Math.min(...this.positions)) / 1000))
        : null;
    // Every way to stop early records its reason at the source; this names any path missed since.
    if (this.incomplete && this.firstError === null) {
      this.stoppedEarly(
        'INCOMPLETE',
        'the run stopped before it read every new action; the next run goes on from there',
      );
    }
    const status = runStatus({
      error: this.firstError !== null && !this.onlyStopped,
      incomplete: this.incomplete,
      actionsRead: this.counts.actionsRead,
      findingsImported: this.counts.findingsImported,
      destinations: new Set(streams.map((s) => s.destinationId)),
      failedDestinations: new Set(this.failedDestinations.keys()),
    });
    const destinationStats: RunSummary['destinationStats'] = {};
    for (const id of new Set([...this.perDestination.keys(), ...this.failedDestinations.keys()])) {
      const stats = this.perDestination.get(id) ?? emptyCounts();
      const failure = this.failedDestinations.get(id);
      destinationStats[id] = {
        imported: stats.imported,
        rejected: stats.rejected,
        skipped: stats.skipped,
        read: stats.read,
        alreadySent: stats.alreadySent,
        otherAgent: stats.otherAgent,
        notSent: stats.notSent,
        lagSeconds:
          stats.positions.length > 0
            ? Math.max(0, Math.round((this.now - Math.min(...stats.positions)) / 1000))
            : null,
        errorCode: failure?.code ?? null,
        errorMessage: failure?.message.slice(0, 1000) ?? null,
      };
    }
    return {
      status,
      ...this.counts,
      destinationStats,
      lagSeconds,
      errorCode: this.firstError?.code ?? null,
      errorMessage: this.firstError?.message.slice(0, 1000) ?? null,
      recentFindings: [...this.recent].sort(newestFirst).slice(0, MAX_RECENT),
    };
  }
}

/** Orders findings newest first by their time (ISO strings of one format sort as text), then by id. */
function newestFirst(a: RecentFinding, b: RecentFinding): number {
  return b.time.localeCompare(a.time) || b.id.localeCompare(a.id);
}

/** What a run did, as far as its status goes. */
export interface RunOutcome {
  /** Whether anything failed (the run's first error). */
  readonly error: boolean;
  /** Whether the run stopped early (shutdown, lost lease, a page it could not read). */
  readonly incomplete: boolean;
  readonly actionsRead: number;
  readonly findingsImported: number;
  /** The destinations the run had streams for. */
  readonly destinations: ReadonlySet<string>;
  /** Those that failed (role unusable, Security Hub off, import refused). */
  readonly failedDestinations: ReadonlySet<string>;
}

/**
 * `ok` when nothing failed and the run finished; `failed` when it achieved nothing: nothing read
 * and nothing sent because of an error, or nothing sent because every destination it had failed
 * (actions read from Vaikora but stuck are not progress); `partial` otherwise.
 */
export function runStatus(run: RunOutcome): RunSummary['status'] {
  if (!run.error && !run.incomplete) return 'ok';
  if (run.findingsImported > 0) return 'partial';
  const everyDestinationFailed =
    run.destinations.size > 0 && [...run.destinations].every((id) => run.failedDestinations.has(id));
  if (everyDestinationFailed) return 'failed';
  const nothingRead = run.actionsRead === 0;
  return nothingRead && (run.destinations.size === 0 || run.failedDestinations.size > 0 || run.error)
    ? 'failed'
    : 'partial';
}

/** An error's name, message and code, for a log line. */
export function errorInfo(err: unknown): { name: string; message: string; code?: string } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string'
      ? { name: err.name, message: err.message, code }
      : { name: err.name, message: err.message };
  }
  return { name: 'unknown', message: String(err) };
}
