import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import {
  type DeliveryContext,
  type DeliveryTarget,
  deliverToStream,
  keepRejections,
  sweepAgent,
} from './delivery.ts';
import { RUNNABLE_STATES } from './health.ts';
import { type LeaseHolder, underLease } from './lease.ts';
import {
  type DestinationConfig,
  type KeptRejections,
  type RecordedRejection,
  type RunDeps,
  routeOf,
  type StreamConfig,
  type VaikoraConnection,
} from './ports.ts';

/** A claimed backfill: re-send the tenant's actions with a time in `[fromMs, toMs)` (ADR 0095). */
export interface BackfillJob {
  readonly id: string;
  readonly tenantId: string;
  /** Only this destination; null: every runnable destination. */
  readonly destinationId: string | null;
  readonly fromMs: number;
  readonly toMs: number;
  /** Names this claim; progress and the end are written only while the row still carries it. */
  readonly claim: string;
}

/** A backfill's counters, written after every page. */
export interface BackfillProgress {
  readonly progressPercent: number;
  readonly pages: number;
  readonly actionsRead: number;
  readonly actionsInRange: number;
  readonly findingsImported: number;
  readonly recordsRejected: number;
  readonly actionsSkipped: number;
}

/** The backfill rows as the worker uses them (implemented on drizzle in backfill-store.ts). */
export interface BackfillStore {
  /** Claims up to `limit` queued backfills, and running ones whose worker stopped writing for `staleMs`. */
  claimBackfills(claimPrefix: string, limit: number, staleMs: number): Promise<BackfillJob[]>;
  /** The job of a backfill claimed elsewhere (the SQS dispatcher), or null when it is no longer running. */
  loadClaimed(backfillId: string): Promise<BackfillJob | null>;
  /** Puts a claimed job back in the queue (its tenant was busy). */
  requeue(job: BackfillJob): Promise<void>;
  progress(job: BackfillJob, progress: BackfillProgress): Promise<void>;
  finish(
    job: BackfillJob,
    progress: BackfillProgress,
    error: { code: string; message: string } | null,
  ): Promise<void>;
  /** Keeps rejected records as the run does, once per stream (ADR 0033); never rejects, failures are counted. */
  recordRejections(
    tenantId: string,
    backfillId: string,
    rejections: readonly RecordedRejection[],
  ): Promise<KeptRejections>;
}

export interface BackfillDeps extends RunDeps {
  readonly backfills: BackfillStore;
  /** Most pages one agent's sweep may read (a backfill reaches further back than a run). */
  readonly maxPages?: number | undefined;
}

export type BackfillResult =
  | { readonly kind: 'busy' }
  | { readonly kind: 'done'; readonly progress: BackfillProgress }
  | {
      readonly kind: 'failed';
      readonly progress: BackfillProgress;
      readonly error: { code: string; message: string };
    };

/**
 * Executes one claimed backfill: under the tenant's lease (never alongside its run), sweeps each agent
 * down to `from`, and filters, maps, validates and imports the actions of the range with the run's
 * delivery pipeline (delivery.ts). Finding ids are stable (`vaikora-{id}`), so a re-sent finding replaces
 * itself in Security Hub; stream cursors are never read or moved. Never throws for the tenant's data;
 * the job row says how it ended.
 */
export async function runBackfill(
  job: BackfillJob,
  deps: BackfillDeps,
  signal?: AbortSignal,
): Promise<BackfillResult> {
  const owner = `${deps.workerId}#backfill#${randomUUID()}`;
  return underLease(job.tenantId, owner, deps, signal, (holder) => new Backfill(job, deps, holder).execute());
}

class Backfill {
  private readonly counts = {
    progressPercent: 0,
    pages: 0,
    actionsRead: 0,
    actionsInRange: 0,
    findingsImported: 0,
    recordsRejected: 0,
    actionsSkipped: 0,
  };
  private error: { code: string; message: string } | null = null;
  private readonly failedDestinations = new Set<string>();
  private readonly nowIso: string;
  private readonly log: Logger;
  /** `DeliveryContext.unattributed`, shared by the backfill's agents. */
  private readonly unattributed = new Map<string, Map<string, string>>();

  constructor(
    private readonly job: BackfillJob,
    private readonly deps: BackfillDeps,
    private readonly lease: LeaseHolder,
  ) {
    this.nowIso = new Date(deps.clock()).toISOString();
    this.log = deps.logger.child({ tenantId: job.tenantId, backfillId: job.id });
  }

  private fail(code: string, message: string): void {
    this.error ??= { code, message: message.slice(0, 1000) };
  }

  async execute(): Promise<BackfillResult> {
    this.log.info({ from: new Date(this.job.fromMs), to: new Date(this.job.toMs) }, 'backfill started');
    const config = await this.deps.store.loadTenant(this.job.tenantId);
    const targets = config === null ? [] : this.targets(config.destinations, config.streams);
    if (config === null) this.fail('TENANT_GONE', 'the tenant is offboarded or unknown');
    else if (config.vaikora === null)
      this.fail(
        config.vaikoraProblem?.code ?? 'NO_VAIKORA_SETTINGS',
        config.vaikoraProblem?.message ?? 'the tenant has not set its Vaikora connection',
      );
    else if (targets.length === 0)
      this.fail(
        'NO_RUNNABLE_DESTINATION',
        this.job.destinationId === null
          ? 'no destination of the tenant is verified, active or degraded'
          : 'the destination is not verified, active or degraded',
      );
    else {
      const byAgent = new Map<string, DeliveryTarget[]>();
      for (const t of targets) byAgent.set(t.stream.agentId, [...(byAgent.get(t.stream.agentId) ?? []), t]);
      // Every agent the tenant routes, not only those of the backfill's destination (ADR 0098).
      const routedAgents = new Set(config.streams.map((s) => s.agentId));
      let index = 0;
      for (const [agentId, group] of byAgent) {
        if (this.lease.signal.aborted || this.error !== null) break;
        await this.sweepAgent(config.vaikora, { agentId, routedAgents }, group, index, byAgent.size);
        index++;
      }
      if (this.lease.signal.aborted)
        this.fail('INTERRUPTED', 'the worker stopped before the backfill finished; run it again');
    }
    if (this.error === null) this.counts.progressPercent = 100;
    await this.deps.backfills.finish(this.job, { ...this.counts }, this.error);
    this.log.info({ ...this.counts, error: this.error }, 'backfill finished');
    const progress = { ...this.counts };
    return this.error === null ? { kind: 'done', progress } : { kind: 'failed', progress, error: this.error };
  }

  private targets(
    destinations: readonly DestinationConfig[],
    streams: readonly StreamConfig[],
  ): DeliveryTarget[] {
    const runnable = new Map(
      destinations
        .filter((d) => RUNNABLE_STATES.includes(d.state))
        .filter((d) => this.job.destinationId === null || d.id === this.job.destinationId)
        .map((d) => [d.id, d]),
    );
    return streams.flatMap((stream) => {
      const destination = runnable.get(stream.destinationId);
      if (destination === undefined) return [];
      const importer = this.deps.importer(routeOf(this.job.tenantId, destination, stream));
      return [{ stream, destination, importer }];
    });
  }

  /**
   * Sweeps one agent down to `from` and delivers the actions of the range to each of its streams with
   * the run's pipeline. Unlike a run it neither reads nor moves cursors (every action of the range is
   * due), leaves records that do not parse to the run that first read them (they carry no trustworthy
   * time), and stops a destination at its first failed import call, whatever the reason: the backfill
   * then ends failed and is run again.
   */
  private async sweepAgent(
    vaikora: VaikoraConnection,
    agent: Pick<DeliveryContext, 'agentId' | 'routedAgents'>,
    group: readonly DeliveryTarget[],
    index: number,
    agents: number,
  ): Promise<void> {
    const { fromMs, toMs } = this.job;
    const ctx: DeliveryContext = {
      ...agent,
      unattributed: this.unattributed,
      thresholds: vaikora.thresholds,
      nowIso: this.nowIso,
      importChunk: this.deps.options.importChunk,
      stopping: () => this.lease.signal.aborted,
    };
    // The ids of the range this sweep read (each is sent once).
    const readInRange = new Set<string>();
    const end = await sweepAgent(
      this.deps.vaikora(vaikora),
      {
        agentId: agent.agentId,
        stopBeforeMs: fromMs,
        signal: this.lease.signal,
        ...(this.deps.maxPages === undefined ? {} : { maxPages: this.deps.maxPages }),
      },
      async (page) => {
        this.counts.pages++;
        this.counts.actionsRead += page.actions.length;
        // A sweep may yield an id again with a later time (ADR 0134): a backfill sends each id once.
        const inRange = page.actions.filter((a) => {
          if (a.timestampMs < fromMs || a.timestampMs >= toMs || readInRange.has(a.id)) return false;
          readInRange.add(a.id);
          return true;
        });
        this.counts.actionsInRange += inRange.length;
        const rejections: RecordedRejection[] = [];
        for (const target of group) {
          if (this.failedDestinations.has(target.destination.id)) continue;
          const d = await deliverToStream(target, inRange, () => true, ctx);
          this.counts.actionsSkipped += d.skipped;
          this.counts.findingsImported += d.imported;
          rejections.push(...d.rejections);
          if (d.notTakenYet !== null)
            this.fail('IMPORT_INCOMPLETE', `Security Hub did not take some findings yet: ${d.notTakenYet}`);
          if (d.failure !== null) {
            this.failedDestinations.add(target.destination.id);
            this.fail(d.failure.code, d.failure.message);
          }
        }
        this.counts.recordsRejected += rejections.length;
        await keepRejections(
          (batch) => this.deps.backfills.recordRejections(this.job.tenantId, this.job.id, batch),
          rejections,
          this.log,
        );
        const reached = page.oldestMs === null ? toMs : Math.max(fromMs, Math.min(toMs, page.oldestMs));
        const agentShare = (toMs - reached) / (toMs - fromMs);
        this.counts.progressPercent = Math.min(99, Math.floor(((index + agentShare) / agents) * 100));
        if (page.stop === 'max-pages')
          this.fail(
            'BACKLOG_TOO_LARGE',
            'the sweep hit its page limit before reaching the start of the range',
          );
        await this.deps.backfills.progress(this.job, { ...this.counts });
        return !this.lease.signal.aborted;
      },
      this.log,
    );
    if (end.failure !== null) this.fail(end.failure.code, end.failure.message);
  }
}
