import { AwsError, classifyAwsError } from '@vsh/aws';
import {
  errorInfo,
  type PreparedFinding,
  prepareAction,
  type Thresholds,
  type VaikoraAction,
} from '@vsh/core';
import { type SweepOptions, type VaikoraClient, VaikoraError, type VaikoraPage } from '@vsh/vaikora';
import type { Logger } from 'pino';
import {
  type DestinationConfig,
  destinationOf,
  type FindingImporter,
  type KeptRejections,
  type RecordedRejection,
  type SeenEntry,
  type StreamConfig,
} from './ports.ts';

// The one delivery pipeline of the worker (ADR 0102), used by tenant runs and backfills alike: read an
// agent's actions page by page (`sweepAgent`), map and import them for each of its streams
// (`deliverToStream`), keep what was rejected (`keepRejections`). What each caller does with the
// outcome (a run moves its cursors, a backfill writes its row) stays with the caller.

/** One stream of the agent being swept: where its findings go. */
export interface DeliveryTarget {
  readonly stream: StreamConfig;
  readonly destination: DestinationConfig;
  readonly importer: FindingImporter;
}

/** What a delivery needs to know about the tenant and the sweep. */
export interface DeliveryContext {
  /** The agent being swept. */
  readonly agentId: string;
  /** Every agent the tenant routes somewhere: a record naming one of them belongs to that agent's streams. */
  readonly routedAgents: ReadonlySet<string>;
  /**
   * The records naming no routed agent (no agent_id, or one the tenant does not route) that a stream
   * of this run or backfill already took, by destination and region, with the stream that took each,
   * shared by its agents' sweeps: a Vaikora that ignores the agent filter returns them to every agent's
   * sweep, and each would import them (ADR 0134). Absent: each sweep takes them.
   */
  readonly unattributed?: Map<string, Map<string, string>> | undefined;
  readonly thresholds: Thresholds;
  /** The time findings are stamped with (`UpdatedAt`). */
  readonly nowIso: string;
  /** Findings per import call. */
  readonly importChunk: number;
  /** Checked before each import call: true stops after the call in flight (shutdown, lease, budget). */
  readonly stopping: () => boolean;
}

/** What delivering one page's actions to one stream did. `read` = alreadySent + otherAgent + skipped + rejected + mapped. */
export interface StreamDelivery {
  read: number;
  /** Not due for this stream (already handled by an earlier run, or outside the range). */
  alreadySent: number;
  otherAgent: number;
  skipped: number;
  /** Became findings. */
  mapped: number;
  /** Findings Security Hub took, as it counted them. */
  imported: number;
  /** Findings neither taken nor refused for good: a later run sends them. */
  notSent: number;
  throttles: number;
  /** The findings Security Hub took. */
  readonly sent: PreparedFinding[];
  /** Actions handled for good: sent, refused for good, skipped, rejected, or another agent's. */
  readonly handled: SeenEntry[];
  /** Records that cannot become findings, and findings Security Hub refused for good. */
  readonly rejections: RecordedRejection[];
  /** Time of the oldest action not delivered for a transient reason other than a refusal listed in `refused` (+Infinity: none). */
  blockedAtMs: number;
  /**
   * The actions whose findings Security Hub refused with a passing error, with the refusal: not
   * delivered yet, and not in `blockedAtMs` (the run decides whether one is given up on, ADR 0133).
   */
  readonly refused: Array<SeenEntry & { readonly rejection: RecordedRejection }>;
  /** Security Hub's reason for the first finding it did not take yet (it may take it later). */
  notTakenYet: string | null;
  /** Why the last import call failed as a whole; nothing more of the page was sent to the stream. */
  failure: AwsError | null;
}

/**
 * Delivers one page's actions to one stream: those `isDue` for it that name no other routed agent
 * (ADR 0098) are filtered and mapped (core), and what qualifies is imported in chunks. Never throws
 * for the data or for Security Hub: every outcome is in the result.
 */
export async function deliverToStream(
  target: DeliveryTarget,
  actions: readonly VaikoraAction[],
  isDue: (action: VaikoraAction) => boolean,
  ctx: DeliveryContext,
): Promise<StreamDelivery> {
  const out: StreamDelivery = {
    read: actions.length,
    alreadySent: 0,
    otherAgent: 0,
    skipped: 0,
    mapped: 0,
    imported: 0,
    notSent: 0,
    throttles: 0,
    sent: [],
    handled: [],
    rejections: [],
    refused: [],
    blockedAtMs: Number.POSITIVE_INFINITY,
    notTakenYet: null,
    failure: null,
  };
  const { destination, stream } = target;
  const where = destinationOf(destination, stream.region);
  const refusal = (rejection: RecordedRejection['rejection']): RecordedRejection => ({
    rejection,
    destinationId: destination.id,
    agentId: ctx.agentId,
  });
  const ready: PreparedFinding[] = [];
  for (const action of actions) {
    if (!isDue(action)) {
      out.alreadySent++;
      continue;
    }
    const handled = { id: action.id, timestampMs: action.timestampMs };
    // Routing is per agent (ADR 0098): a record that names another agent this tenant routes (a Vaikora
    // that ignores the filter) must not reach this agent's AWS account; that agent's own stream sends it.
    // Any other agent_id (absent, junk) is the queried agent's: the filter matched it.
    if (
      action.agentId !== undefined &&
      action.agentId !== ctx.agentId &&
      ctx.routedAgents.has(action.agentId)
    ) {
      out.otherAgent++;
      out.handled.push(handled);
      continue;
    }
    if (ctx.unattributed !== undefined && !ctx.routedAgents.has(action.agentId ?? '')) {
      // A record no routed agent names: taken by the first sweep of the run that reads it for this
      // destination and region, handled (not sent) by the others.
      const key = `${destination.id}\u0000${stream.region}`;
      let claimed = ctx.unattributed.get(key);
      if (claimed === undefined) {
        claimed = new Map();
        ctx.unattributed.set(key, claimed);
      }
      const by = claimed.get(action.id);
      if (by !== undefined && by !== stream.id) {
        // Another stream of the run sends it (or holds it until it is taken): this one never does.
        out.otherAgent++;
        out.handled.push(handled);
        continue;
      }
      claimed.set(action.id, stream.id);
    }
    const outcome = prepareAction(action, {
      destination: where,
      now: ctx.nowIso,
      thresholds: ctx.thresholds,
    });
    if (outcome.kind === 'skipped') {
      out.skipped++;
      out.handled.push(handled);
    } else if (outcome.kind === 'rejected') {
      out.rejections.push(refusal(outcome.rejection));
      out.handled.push(handled);
    } else {
      out.mapped++;
      ready.push(outcome.value);
    }
  }
  let settled = 0;
  for (let i = 0; i < ready.length; i += ctx.importChunk) {
    // Shutdown or budget: the chunk in flight finishes; what was not sent is read again by a later run.
    if (ctx.stopping()) {
      out.blockedAtMs = Math.min(out.blockedAtMs, oldest(ready.slice(i)));
      break;
    }
    const chunk = ready.slice(i, i + ctx.importChunk);
    const byFindingId = new Map(chunk.map((p) => [p.finding.Id, p]));
    try {
      const result = await target.importer.importFindings(chunk);
      out.throttles += result.stats.throttled;
      out.imported += result.imported.length;
      settled += result.imported.length;
      for (const id of result.imported) {
        const p = byFindingId.get(id);
        if (p === undefined) continue;
        out.sent.push(p);
        out.handled.push({ id: p.action.id, timestampMs: p.action.timestampMs });
      }
      for (const rejection of result.rejected) {
        const p = rejection.actionId === null ? undefined : byFindingId.get(`vaikora-${rejection.actionId}`);
        if (rejection.retryable && p !== undefined) {
          out.refused.push({
            id: p.action.id,
            timestampMs: p.action.timestampMs,
            rejection: refusal(rejection),
          });
          out.notTakenYet ??= rejection.reason;
        } else if (rejection.retryable) {
          // A refusal naming no finding of the call holds everything back.
          out.blockedAtMs = Number.NEGATIVE_INFINITY;
          out.notTakenYet ??= rejection.reason;
        } else {
          out.rejections.push(refusal(rejection));
          settled++;
          if (p !== undefined) out.handled.push({ id: p.action.id, timestampMs: p.action.timestampMs });
        }
      }
    } catch (err) {
      out.failure = err instanceof AwsError ? err : classifyAwsError(err);
      // What the call imported before it stopped is in Security Hub: handled, never to be sent again.
      for (const id of out.failure.importedBefore) {
        const p = byFindingId.get(id);
        if (p === undefined) continue;
        out.imported++;
        settled++;
        out.sent.push(p);
        out.handled.push({ id: p.action.id, timestampMs: p.action.timestampMs });
      }
      // Nothing after this chunk is sent either: the oldest of all of them bounds the cursor, not
      // only this chunk's (a later chunk holds older actions than this one).
      out.blockedAtMs = Math.min(out.blockedAtMs, oldest(ready.slice(i)));
      break;
    }
  }
  out.notSent = ready.length - settled;
  return out;
}

function oldest(findings: readonly PreparedFinding[]): number {
  return Math.min(...findings.map((p) => p.action.timestampMs));
}

/** Why a sweep broke off, as the run or backfill reports it. */
export interface SweepFailure {
  readonly code: string;
  readonly message: string;
  /** Vaikora refused the tenant's key or settings: none of the agent's streams can progress until they are fixed. */
  readonly settingsRefused: boolean;
}

/** How an agent's sweep ended. */
export interface SweepEnd {
  /** The last page reached the end of the list or passed `stopBeforeMs`: nothing due was left unread. */
  readonly complete: boolean;
  /** The last page was the end of the list. */
  readonly reachedEnd: boolean;
  /** The sweep stopped at its page limit. */
  readonly hitPageLimit: boolean;
  /** Oldest action time any page carried (+Infinity: none). */
  readonly oldestSeenMs: number;
  /** What broke the sweep off; null when nothing did, or when its signal did. */
  readonly failure: SweepFailure | null;
}

/**
 * Reads an agent's actions page by page, newest first, and hands each page to `onPage`, which says
 * whether to go on. Never throws: a failure (Vaikora's, or one of `onPage`) ends the sweep and is
 * returned, named for the tenant (an unexpected error by its kind only: its text can carry anything).
 */
export async function sweepAgent(
  client: VaikoraClient,
  request: SweepOptions & { readonly signal: AbortSignal },
  onPage: (page: VaikoraPage) => Promise<boolean>,
  log: Logger,
): Promise<SweepEnd> {
  let stop: VaikoraPage['stop'] = null;
  let oldestSeenMs = Number.POSITIVE_INFINITY;
  try {
    for await (const page of client.sweep(request)) {
      if (page.oldestMs !== null) oldestSeenMs = Math.min(oldestSeenMs, page.oldestMs);
      stop = page.stop;
      if (!(await onPage(page))) break;
    }
  } catch (err) {
    return {
      complete: false,
      reachedEnd: false,
      hitPageLimit: false,
      oldestSeenMs,
      failure: sweepFailure(err, request.signal, log),
    };
  }
  return {
    complete: stop !== null && stop !== 'max-pages',
    reachedEnd: stop === 'end',
    hitPageLimit: stop === 'max-pages',
    oldestSeenMs,
    failure: null,
  };
}

function sweepFailure(err: unknown, signal: AbortSignal, log: Logger): SweepFailure | null {
  if (signal.aborted) return null;
  if (err instanceof VaikoraError) {
    log.warn({ err: errorInfo(err) }, 'Vaikora sweep failed');
    return {
      code: `VAIKORA_${err.code}`,
      message: err.message,
      settingsRefused:
        err.code === 'UNAUTHORIZED' || err.code === 'FORBIDDEN' || err.code === 'INVALID_CONFIG',
    };
  }
  log.error({ err: errorInfo(err) }, 'sweep failed unexpectedly');
  return {
    code: 'UNEXPECTED',
    message: `the run failed unexpectedly (${err instanceof Error ? err.name : 'error'}); Data443 has been alerted`,
    settingsRefused: false,
  };
}

/**
 * Keeps a page's rejections with `record` (the store keeps each once per stream; ADR 0033). Never
 * fails the sweep (ADR 0004): a store that rejects anyway is logged by the records' fingerprints
 * (never the database's text) and counted as `failed`.
 */
export async function keepRejections(
  record: (rejections: readonly RecordedRejection[]) => Promise<KeptRejections>,
  rejections: readonly RecordedRejection[],
  log: Logger,
): Promise<KeptRejections> {
  if (rejections.length === 0) return { inserted: 0, repeated: 0, failed: 0 };
  try {
    return await record(rejections);
  } catch (err) {
    log.error(
      {
        err: { name: err instanceof Error ? err.name : 'unknown' },
        fingerprints: rejections.map((r) => r.rejection.fingerprint ?? r.rejection.actionId),
      },
      'rejected records could not be kept',
    );
    return { inserted: 0, repeated: 0, failed: rejections.length };
  }
}
