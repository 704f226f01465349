import type { PreparedFinding } from '@vsh/core';
import type { RecentFinding } from '@vsh/db';
import type { RunSummary, StreamConfig } from './ports.ts';

const MAX_RECENT = 50;

/** What one destination's streams did with the actions they read: the parts add up to `read` (ADR 0100). */
export interface StreamCounts {
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

/** Why a destination failed in this run; `canDisable` is false when it is not the destination's fault. */
export interface DestinationFailure {
  readonly code: string;
  readonly message: string;
  readonly canDisable: boolean;
}

/** What one tenant run did, as it goes: its counters, its first error, its destinations, its summary. */
export class RunLedger {
  readonly counts = {
    actionsRead: 0,
    findingsMapped: 0,
    findingsImported: 0,
    actionsSkipped: 0,
    recordsRejected: 0,
    throttles: 0,
  };
  /** The run's first error; a run reports only its first. */
  firstError: { code: string; message: string } | null = null;
  /** The run stopped before it handled everything it read or should have read. */
  incomplete = false;
  readonly failedDestinations = new Map<string, DestinationFailure>();
  /** Destinations that took at least one finding. */
  readonly deliveredDestinations = new Set<string>();
  /** Whether `firstError` only says why the run stopped early (see `stoppedEarly`). */
  private onlyStopped = false;
  private readonly recent: RecentFinding[] = [];
  private readonly positions: number[] = [];
  private readonly perDestination = new Map<string, StreamCounts>();

  constructor(private readonly now: number) {}

  fail(code: string, message: string): void {
    if (this.firstError === null) this.firstError = { code, message };
  }

  /**
   * Names why the run stopped early when nothing failed: the run reports it (a partial run always says
   * why) but it is not an error for the run's status (a shutdown is not a failure).
   */
  stoppedEarly(code: string, message: string): void {
    if (this.firstError !== null) return;
    this.firstError = { code, message };
    this.onlyStopped = true;
  }

  /** Marks a destination failed for the rest of the run, and the run failed with its error. */
  failDestination(destinationId: string, failure: DestinationFailure): void {
    this.failedDestinations.set(destinationId, failure);
    this.fail(failure.code, failure.message);
  }

  stats(destinationId: string): StreamCounts {
    let stats = this.perDestination.get(destinationId);
    if (stats === undefined) {
      stats = emptyCounts();
      this.perDestination.set(destinationId, stats);
    }
    return stats;
  }

  /** Where one of the destination's streams stands after the run (its lag). */
  position(destinationId: string, positionMs: number): void {
    this.positions.push(positionMs);
    this.stats(destinationId).positions.push(positionMs);
  }

  remember(p: PreparedFinding, region: string): void {
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

  summary(streams: readonly StreamConfig[]): RunSummary {
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
