import { createHash } from 'node:crypto';
import type { Cursor, SeenEntry, SeenSegment, SeenSet, StreamState, StuckFinding } from './ports.ts';

/** A stream cursor: where the stream has got to (ADR 0004). */
export type StreamCursor = Cursor;

/** How the worker reads a stream's cursor: the overlap that catches late and same-timestamp actions. */
export interface CursorPolicy {
  /** Actions stamped up to this long before the cursor are read again (ADR 0004). */
  readonly overlapMs: number;
  /** Where a stream with no cursor starts reading, back from now. */
  readonly initialLookbackMs: number;
}

export const DEFAULT_CURSOR_POLICY: CursorPolicy = {
  overlapMs: 10 * 60_000,
  initialLookbackMs: 24 * 3600_000,
};

/**
 * How far in the future an action's time may be and still move a cursor. Actions stamped later are
 * delivered and remembered in the seen-set, but the position stays at most this far past now.
 */
export const FUTURE_TOLERANCE_MS = 5 * 60_000;

/** The earliest action time a sweep for this cursor must reach. */
export function windowStartMs(cursor: StreamCursor | null, nowMs: number, policy: CursorPolicy): number {
  return cursor === null ? nowMs - policy.initialLookbackMs : cursor.positionMs - policy.overlapMs;
}

/**
 * True when an action still has to be handled for a stream: inside the read window and not in the
 * stream's seen-set. The seen-set holds every id handled at or after the window's start (imported,
 * recorded as rejected, or skipped by the filter), so late arrivals, same-millisecond bursts and
 * actions after a failed one are each handled once, at any rate (ADR 0004).
 */
export function isNew(
  action: { readonly id: string; readonly timestampMs: number },
  seen: SeenSet,
  windowStart: number,
): boolean {
  return action.timestampMs >= windowStart && !seen.has(action.id);
}

/**
 * What a stream's window digest says (ADR 0128, 0144, 0146), stored as `<hash>.<count>.<epoch>`:
 * - `hash`: 128 bits of the SHA-256 of the sorted ids a complete sweep found inside the window the
 *   position opens (22 base64url characters, `windowHash`), when every one of them was handled; empty
 *   when the write cannot vouch for that (a blocked delivery, more ids than WINDOW_HASH_MAX_IDS), and
 *   then no one-page sweep is spared its seen-set read (`sameWindow`);
 * - `count`: how many distinct ids it found there that the seen-set holds: what a later sweep must meet
 *   before it has reached what this one read (ADR 0144);
 * - `epoch`: the lease epoch of the run that found them: an id stored by a later run does not count
 *   (ADR 0143), whichever write of the stream came last.
 * A write at the same position that cannot say more keeps the digest it found (ADR 0146).
 */
export interface WindowEvidence {
  readonly hash: string;
  readonly count: number;
  readonly epoch: number;
}

/** The length of a window digest's hash (128 bits in base64url). */
const WINDOW_HASH_CHARS = 22;

/** The digest stored for `evidence`. */
export function formatWindowDigest(evidence: WindowEvidence): string {
  return `${evidence.hash}.${evidence.count}.${evidence.epoch}`;
}

/**
 * What a stored digest says; undefined for none or a malformed one. A digest stored before ADR 0146 (a
 * hash alone, ADR 0128, or a hash and a count) has its hash, a count of 1 and no epoch (Infinity): any
 * stored id inside the window counts, the rule its writer applied (ADR 0142), and a sweep expects it, so
 * it reads up to 20 pages past the stop, not 3, until its first complete sweep writes a digest of its own
 * (`sameEvidence` never takes the two for the same; a third probe lost an action behind a 6-page upload
 * while such a digest was read as none).
 */
export function parseWindowDigest(digest: string | undefined): WindowEvidence | undefined {
  const parts = /^([A-Za-z0-9_-]{22})?\.([0-9]{1,9})\.([0-9]{1,15})$/.exec(digest ?? '');
  if (parts !== null) return { hash: parts[1] ?? '', count: Number(parts[2]), epoch: Number(parts[3]) };
  const legacy = /^([A-Za-z0-9_-]{22})[0-9]{0,9}$/.exec(digest ?? '');
  return legacy?.[1] === undefined
    ? undefined
    : { hash: legacy[1], count: 1, epoch: Number.POSITIVE_INFINITY };
}

/**
 * The hash of the ids of `actions` stamped at or after `windowStartMs` (ADR 0128): 128 bits of the
 * SHA-256 of their sorted, de-duplicated list, base64url. Two sets with the same hash are the same set.
 */
export function windowHash(
  actions: Iterable<{ readonly id: string; readonly timestampMs: number }>,
  windowStartMs: number,
): string {
  const ids = new Set<string>();
  for (const action of actions) if (action.timestampMs >= windowStartMs) ids.add(action.id);
  return hashOfIds(ids);
}

/** `windowHash` of a window's distinct ids, already gathered. */
export function hashOfIds(ids: ReadonlySet<string>): string {
  return createHash('sha256')
    .update(JSON.stringify([...ids].sort()))
    .digest('base64url')
    .slice(0, WINDOW_HASH_CHARS);
}

/**
 * Whether `actions` hold inside the window exactly the ids a stored digest vouched for (ADR 0128): its
 * hash, or the whole of a digest stored before ADR 0146 (a hash alone, or a hash and a count).
 */
export function sameWindow(
  actions: Iterable<{ readonly id: string; readonly timestampMs: number }>,
  windowStartMs: number,
  digest: string,
): boolean {
  const stored = parseWindowDigest(digest)?.hash ?? '';
  return stored.length === WINDOW_HASH_CHARS && windowHash(actions, windowStartMs) === stored;
}

/**
 * Whether `action` counts toward what a sweep must meet before it has reached what a stream's earlier
 * runs read (ADR 0142-0144, 0146): the stream has evidence (`parseWindowDigest` of its cursor), the
 * action is listed inside its window, and its seen-set (undefined: not read) holds the id, stored by the
 * run that made the evidence or an earlier one (`SeenSet.epochOf`). Not by a later run: one that
 * stopped early, or whose cursor update failed after its seen-set put, may have stored ids that head
 * the list ahead of what it never reached.
 */
export function handledBefore(
  action: { readonly id: string; readonly timestampMs: number },
  evidence: WindowEvidence | undefined,
  seen: SeenSet | undefined,
  windowStart: number,
): boolean {
  if (evidence === undefined || action.timestampMs < windowStart) return false;
  const epoch = seen?.epochOf?.(action.id);
  return epoch !== undefined && epoch <= evidence.epoch;
}

/**
 * How many distinct actions `handledBefore` a sweep must meet for a stream before it has reached what
 * its earlier runs read (ADR 0144): the count of its evidence. One repeated at the head then proves
 * nothing. Infinity without evidence, or with a count of none: no action met is evidence.
 */
export function handledToMeet(evidence: WindowEvidence | undefined): number {
  return evidence !== undefined && evidence.count > 0 ? evidence.count : Number.POSITIVE_INFINITY;
}

/**
 * When a run gives up on a finding Security Hub keeps refusing with a passing error (ADR 0133): after
 * it was refused in `runs` counted runs (runs in which its hub, the destination's account in the
 * stream's region, took other findings, so the hub works) spanning at least `afterMs`. Until then it
 * holds the stream's position, as any finding not delivered yet does.
 */
export interface StuckPolicy {
  readonly runs: number;
  readonly afterMs: number;
  /** At most this many are tracked, the oldest first (the state store keeps 3: STUCK_FINDINGS_MAX of @vsh/aws). */
  readonly kept: number;
}

export const DEFAULT_STUCK_POLICY: StuckPolicy = { runs: 6, afterMs: 60 * 60_000, kept: 3 };

/** The key a stuck finding is kept under: 128 bits of the SHA-256 of the action id, base64url. */
export function stuckKey(actionId: string): string {
  return createHash('sha256').update(actionId).digest('base64url').slice(0, 22);
}

/**
 * Whether a finding Security Hub refuses again now is given up on (kept as rejected, no longer holding
 * the position): this refusal makes its `policy.runs`-th counted run, and it has been stuck `afterMs`.
 */
export function givesUp(entry: StuckFinding | undefined, nowMs: number, policy: StuckPolicy): boolean {
  return entry !== undefined && entry.runs + 1 >= policy.runs && nowMs - entry.sinceMs >= policy.afterMs;
}

/** What one run did on a stream, as `nextStuck` reads it. */
export interface StuckRun {
  /** The actions Security Hub refused with a passing error, by id, with their time. */
  readonly refused: ReadonlyMap<string, number>;
  /** Every action id the run handled on the stream (taken, given up on, refused for good, skipped). */
  readonly handled: Iterable<string>;
  /** The stream's hub took a finding this run, from any stream (the hub works): the run counts. */
  readonly counted: boolean;
  /** The sweep read the whole window: what was not refused again was not due any more. */
  readonly complete: boolean;
}

/**
 * The stuck findings after a run (ADR 0133). A finding the run handled is no longer stuck; after a
 * complete sweep, neither is one it did not find refused again (it is in the seen-set, or gone). In a
 * run that counts, each finding refused again counts one more run and a new one starts at one; a run
 * that does not count adds nothing. The oldest `policy.kept` are kept: they hold the position.
 */
export function nextStuck(
  previous: readonly StuckFinding[],
  run: StuckRun,
  nowMs: number,
  policy: StuckPolicy,
): StuckFinding[] {
  const refused = new Map<string, number>();
  for (const [id, actionMs] of run.refused) refused.set(stuckKey(id), actionMs);
  let kept = previous;
  if (kept.length > 0) {
    const handled = new Set<string>();
    for (const id of run.handled) handled.add(stuckKey(id));
    kept = kept.filter((e) => !handled.has(e.key) && (!run.complete || refused.has(e.key)));
  }
  const byKey = new Map(kept.map((e) => [e.key, e]));
  if (run.counted) {
    for (const [key, actionMs] of refused) {
      const before = byKey.get(key);
      byKey.set(
        key,
        before === undefined
          ? { key, actionMs, runs: 1, sinceMs: nowMs }
          : { ...before, runs: before.runs + 1 },
      );
    }
  }
  return [...byKey.values()].sort((a, b) => a.actionMs - b.actionMs).slice(0, policy.kept);
}

/** How a run ended for one stream, as far as its cursor goes. */
export interface RunEnd {
  /** The sweep reached the end of the list or passed the window: the position may move. */
  readonly complete: boolean;
  /** Time of the oldest action that could not be delivered for a transient reason (read again next run). */
  readonly blockedAtMs: number;
  /** The window this run read from (`windowStartMs`). */
  readonly windowStartMs: number;
  /**
   * The window digest to store with a position whose window starts at the given time (ADR 0128, 0146),
   * or undefined when the sweep was not complete: a write at the same position then keeps the one it found.
   */
  readonly windowDigest?: ((windowStartMs: number) => string | undefined) | undefined;
  /** The stuck findings to keep (ADR 0133; `nextStuck`); absent: those the stream had. */
  readonly stuck?: readonly StuckFinding[] | undefined;
}

/** What to write for a stream after a run: the cursor, the ids to remember, the segments to drop. */
export interface CursorWrite {
  readonly next: StreamCursor;
  readonly seen: SeenEntry[];
  readonly prune: SeenSegment[];
}

/** What one run handled on a stream, to build the next cursor from. */
export class StreamProgress {
  private readonly handled = new Map<string, number>();
  /** Handled ids not yet written to the seen-set (by a checkpoint). */
  private readonly unsaved = new Map<string, number>();
  /** The position a checkpoint wrote; the run's final write never goes behind it. */
  private savedPositionMs: number | null = null;

  /** Marks an action handled: imported, recorded as rejected, or skipped by the filter. */
  add(id: string, timestampMs: number): void {
    this.handled.set(id, timestampMs);
    this.unsaved.set(id, timestampMs);
  }

  get size(): number {
    return this.handled.size;
  }

  /** The ids this run handled. */
  ids(): IterableIterator<string> {
    return this.handled.keys();
  }

  /** The time this run handled the action `id` at; undefined when it did not. */
  timeOf(id: string): number | undefined {
    return this.handled.get(id);
  }

  /** Whether this run handled the action `id`. */
  has(id: string): boolean {
    return this.handled.has(id);
  }

  /**
   * A write made while the run goes on: what it handled since the last checkpoint goes into the
   * seen-set at the position the stream already has (or, for a new stream, the one of its own window),
   * so that a run killed after it re-sends at most what it handled since. Null when nothing is new.
   * Call `saved` once the write succeeded.
   */
  checkpoint(
    state: StreamState,
    nowMs: number,
    policy: CursorPolicy,
    windowStartMs: number,
  ): CursorWrite | null {
    if (this.unsaved.size === 0) return null;
    const position = this.savedPositionMs ?? state.cursor?.positionMs ?? windowStartMs + policy.overlapMs;
    const keepFrom = position - policy.overlapMs;
    const seen: SeenEntry[] = [];
    for (const [id, timestampMs] of this.unsaved) if (timestampMs >= keepFrom) seen.push({ id, timestampMs });
    const stuck = state.cursor?.stuck;
    // At the position it was made for, the stream's digest still says what the run before read (ADR 0146).
    const digest = position === state.cursor?.positionMs ? state.cursor.windowDigest : undefined;
    return {
      next: {
        positionMs: position,
        updatedAtMs: nowMs,
        ...(digest === undefined ? {} : { windowDigest: digest }),
        ...(stuck === undefined ? {} : { stuck }),
      },
      seen,
      prune: [],
    };
  }

  /** Records that `write` (from `checkpoint`) is stored. */
  saved(write: CursorWrite, policy: CursorPolicy): void {
    for (const { id } of write.seen) this.unsaved.delete(id);
    // Older than the window the written position keeps: never read again, never needed.
    const keepFrom = write.next.positionMs - policy.overlapMs;
    for (const [id, ts] of [...this.unsaved]) if (ts < keepFrom) this.unsaved.delete(id);
    this.savedPositionMs = write.next.positionMs;
  }

  /**
   * The write after this run, or null when there is nothing to write (an idle stream costs no write).
   * The position moves only after a complete sweep, and only up to the newest handled action older
   * than the first one that could not be delivered. Whatever the run handled at or after the next
   * window's start goes into the seen-set (what a checkpoint already stored is not written again),
   * even when the sweep stopped early or a delivery failed, so that the next run re-reads but never
   * re-sends it.
   */
  plan(state: StreamState, nowMs: number, policy: CursorPolicy, end: RunEnd): CursorWrite | null {
    const previous = state.cursor;
    let position: number | null = this.savedPositionMs ?? previous?.positionMs ?? null;
    if (end.complete) {
      // Never past now (plus a little clock skew): an action stamped in the future (a hostile or
      // skewed record) would otherwise carry the position, and the window, past every action to come.
      const ceiling = nowMs + FUTURE_TOLERANCE_MS;
      for (const ts of this.handled.values()) {
        if (ts < end.blockedAtMs && ts <= ceiling && (position === null || ts > position)) position = ts;
      }
    }
    if (position === null && (this.handled.size > 0 || (end.stuck?.length ?? 0) > 0)) {
      // A new stream that stopped early or could not deliver its oldest action: a position whose
      // window starts where this run's did, so the next run reads the same range again and the
      // seen-set keeps what this one sent (or the cursor its stuck findings, ADR 0133: a stream whose
      // only action is refused on every send must count its runs too).
      position = end.windowStartMs + policy.overlapMs;
    }
    if (position === null) return null;
    const keepFrom = position - policy.overlapMs;
    const seen: SeenEntry[] = [];
    for (const [id, timestampMs] of this.unsaved) if (timestampMs >= keepFrom) seen.push({ id, timestampMs });
    const prune = state.segments.filter((s) => s.bucketEndMs <= keepFrom);
    // A stuck finding the window is past is never read again (ADR 0133).
    const stuck = (end.stuck ?? previous?.stuck ?? []).filter((e) => e.actionMs >= keepFrom);
    const stored = this.savedPositionMs ?? previous?.positionMs;
    const samePosition = stored !== undefined && position === stored;
    // A sweep that was not complete keeps the digest of the window it did not move (ADR 0146).
    const digest = end.windowDigest?.(keepFrom) ?? (samePosition ? previous?.windowDigest : undefined);
    if (
      samePosition &&
      seen.length === 0 &&
      prune.length === 0 &&
      sameStuck(stuck, previous?.stuck ?? []) &&
      sameEvidence(digest, previous?.windowDigest)
    ) {
      return null;
    }
    return {
      next: {
        positionMs: position,
        updatedAtMs: nowMs,
        ...(digest === undefined ? {} : { windowDigest: digest }),
        ...(stuck.length === 0 ? {} : { stuck }),
      },
      seen,
      prune,
    };
  }
}

/**
 * Whether two digests say the same of one window: the same ids, hashed and counted; the epoch of the run
 * that found them does not matter (ADR 0146). An idle stream writes nothing, and a stream whose counted
 * actions are gone from the list (deleted, or re-stamped out of its window) writes the new count once.
 */
function sameEvidence(a: string | undefined, b: string | undefined): boolean {
  if (a === b) return true;
  const [x, y] = [parseWindowDigest(a), parseWindowDigest(b)];
  // A digest stored before ADR 0146 (no epoch) is written over by the first complete sweep.
  return (
    x !== undefined &&
    y !== undefined &&
    Number.isFinite(x.epoch) &&
    Number.isFinite(y.epoch) &&
    x.hash === y.hash &&
    x.count === y.count
  );
}

function sameStuck(a: readonly StuckFinding[], b: readonly StuckFinding[]): boolean {
  return (
    a.length === b.length &&
    a.every((e, i) => e.key === b[i]?.key && e.runs === b[i]?.runs && e.sinceMs === b[i]?.sinceMs)
  );
}
