import type { Cursor } from '@vsh/aws';

/** A stream cursor: where the stream has got to, with the ids handled in the overlap window before it. */
export type StreamCursor = Cursor;

/** How the worker reads a stream's cursor: the overlap that catches late and same-timestamp actions. */
export interface CursorPolicy {
  /** Actions stamped up to this long before the cursor are read again (ADR 0004). */
  readonly overlapMs: number;
  /** Where a stream with no cursor starts reading, back from now. */
  readonly initialLookbackMs: number;
  /** Ids remembered for the overlap window, so a re-read does not re-send them; bounded. */
  readonly maxRecentIds: number;
}

export const DEFAULT_CURSOR_POLICY: CursorPolicy = {
  overlapMs: 10 * 60_000,
  initialLookbackMs: 24 * 3600_000,
  maxRecentIds: 900,
};

/** The earliest action time a sweep for this cursor must reach. */
export function windowStartMs(cursor: StreamCursor | null, nowMs: number, policy: CursorPolicy): number {
  return cursor === null ? nowMs - policy.initialLookbackMs : cursor.positionMs - policy.overlapMs;
}

/**
 * True when an action still has to be handled for a stream: newer than the cursor, or at the cursor
 * or in the overlap window without having been handled there (late arrivals, same-timestamp bursts).
 */
export function isNew(
  action: { readonly id: string; readonly timestampMs: number },
  cursor: StreamCursor | null,
  handled: ReadonlySet<string>,
  windowStart: number,
): boolean {
  if (action.timestampMs < windowStart) return false;
  if (cursor === null || action.timestampMs > cursor.positionMs) return true;
  return !handled.has(action.id);
}

/** Ids the cursor says were handled at or shortly before its position. */
export function handledIds(cursor: StreamCursor | null): Set<string> {
  if (cursor === null) return new Set();
  return new Set([...cursor.idsAtPosition, ...(cursor.recentIds ?? [])]);
}

/** What one run handled on a stream, to build the next cursor from. */
export class StreamProgress {
  private readonly handled = new Map<string, number>();

  /** Marks an action handled: imported, recorded as rejected, or skipped by the filter. */
  add(id: string, timestampMs: number): void {
    this.handled.set(id, timestampMs);
  }

  get size(): number {
    return this.handled.size;
  }

  /**
   * The cursor after this run: the newest handled time, the ids handled exactly there, and the ids of
   * the overlap window (newest first, bounded). Null when nothing newer than the old cursor was handled
   * and no id needs remembering.
   */
  nextCursor(
    previous: StreamCursor | null,
    nowMs: number,
    policy: CursorPolicy,
    blockedAtMs = Number.POSITIVE_INFINITY,
  ): StreamCursor | null {
    // Nothing at or after an action that could not be delivered may be passed: it is read again next run.
    const handled = [...this.handled].filter(([, ts]) => ts < blockedAtMs);
    if (handled.length === 0) return null;
    let newest = previous?.positionMs ?? Number.NEGATIVE_INFINITY;
    for (const [, ts] of handled) if (ts > newest) newest = ts;
    const at = new Set<string>(
      previous !== null && previous.positionMs === newest ? previous.idsAtPosition : [],
    );
    for (const [id, ts] of handled) if (ts === newest) at.add(id);
    const windowStart = newest - policy.overlapMs;
    const recent = new Map<string, number>();
    if (previous !== null && previous.positionMs >= windowStart) {
      // The previous cursor's ids are still inside the window: keep remembering them.
      for (const id of previous.recentIds ?? []) recent.set(id, previous.positionMs - 1);
      if (previous.positionMs !== newest)
        for (const id of previous.idsAtPosition) recent.set(id, previous.positionMs);
    }
    for (const [id, ts] of handled) if (ts >= windowStart && ts < newest) recent.set(id, ts);
    const recentIds = [...recent.entries()]
      .filter(([id]) => !at.has(id))
      .sort((a, b) => b[1] - a[1])
      .slice(0, policy.maxRecentIds)
      .map(([id]) => id);
    return { positionMs: newest, idsAtPosition: [...at], recentIds, updatedAtMs: nowMs };
  }
}
