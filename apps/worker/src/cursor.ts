import { createHash } from 'node:crypto';
import type { Cursor, SeenEntry, SeenSegment, SeenSet, StreamState } from './ports.ts';

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
 * A digest of the ids of `actions` stamped at or after `windowStartMs` (ADR 0128): 128 bits of the
 * SHA-256 of their sorted, de-duplicated list, base64url. Two sets with the same digest are the same set.
 */
export function windowDigest(
  actions: Iterable<{ readonly id: string; readonly timestampMs: number }>,
  windowStartMs: number,
): string {
  const ids = new Set<string>();
  for (const action of actions) if (action.timestampMs >= windowStartMs) ids.add(action.id);
  return createHash('sha256')
    .update(JSON.stringify([...ids].sort()))
    .digest('base64url')
    .slice(0, 22);
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
   * The digest to store with a position whose window starts at the given time, or undefined when the
   * run cannot vouch that every id the sweep found there is handled (ADR 0128).
   */
  readonly windowDigest?: ((windowStartMs: number) => string | undefined) | undefined;
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
    return { next: { positionMs: position, updatedAtMs: nowMs }, seen, prune: [] };
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
    if (position === null && this.handled.size > 0) {
      // A new stream that stopped early or could not deliver its oldest action: a position whose
      // window starts where this run's did, so the next run reads the same range again and the
      // seen-set keeps what this one sent.
      position = end.windowStartMs + policy.overlapMs;
    }
    if (position === null) return null;
    const keepFrom = position - policy.overlapMs;
    const seen: SeenEntry[] = [];
    for (const [id, timestampMs] of this.unsaved) if (timestampMs >= keepFrom) seen.push({ id, timestampMs });
    const prune = state.segments.filter((s) => s.bucketEndMs <= keepFrom);
    const stored = this.savedPositionMs ?? previous?.positionMs;
    if (stored !== undefined && position === stored && seen.length === 0 && prune.length === 0) {
      return null;
    }
    const digest = end.windowDigest?.(keepFrom);
    return {
      next: {
        positionMs: position,
        updatedAtMs: nowMs,
        ...(digest === undefined ? {} : { windowDigest: digest }),
      },
      seen,
      prune,
    };
  }
}
