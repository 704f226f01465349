import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CursorPolicy,
  handledIds,
  isNew,
  type StreamCursor,
  StreamProgress,
  windowStartMs,
} from './cursor.ts';

const policy: CursorPolicy = { overlapMs: 1000, initialLookbackMs: 60_000, maxRecentIds: 5 };
const cursor = (
  positionMs: number,
  idsAtPosition: string[] = [],
  recentIds: string[] = [],
): StreamCursor => ({
  positionMs,
  idsAtPosition,
  recentIds,
  updatedAtMs: 0,
});

describe('the read window', () => {
  it('starts the initial lookback before now for a new stream, and the overlap before the cursor otherwise', () => {
    expect(windowStartMs(null, 100_000, policy)).toBe(40_000);
    expect(windowStartMs(cursor(50_000), 100_000, policy)).toBe(49_000);
  });

  it.each([
    ['newer than the cursor', 'x', 10_001, true],
    ['at the cursor, not handled', 'x', 10_000, true],
    ['at the cursor, handled there', 'a', 10_000, false],
    ['late arrival inside the overlap', 'late', 9_500, true],
    ['remembered inside the overlap', 'r', 9_500, false],
    ['older than the window', 'old', 8_999, false],
  ])('%s → %s', (_name, id, ts, expected) => {
    const c = cursor(10_000, ['a'], ['r']);

    expect(isNew({ id, timestampMs: ts }, c, handledIds(c), windowStartMs(c, 20_000, policy))).toBe(expected);
  });
});

describe('StreamProgress.nextCursor', () => {
  it('moves to the newest handled time with the ids handled exactly there', () => {
    const p = new StreamProgress();
    p.add('a', 100);
    p.add('b', 300);
    p.add('c', 300);
    p.add('d', 250);

    expect(p.nextCursor(null, 999, policy)).toEqual({
      positionMs: 300,
      idsAtPosition: ['b', 'c'],
      recentIds: ['d', 'a'],
      updatedAtMs: 999,
    });
  });

  it('keeps the previous ids when new actions share the cursor time', () => {
    const p = new StreamProgress();
    p.add('late-same-ms', 300);

    const next = p.nextCursor(cursor(300, ['b']), 999, policy);

    expect(next?.positionMs).toBe(300);
    expect(new Set(next?.idsAtPosition)).toEqual(new Set(['b', 'late-same-ms']));
  });

  it('never passes an action that could not be delivered', () => {
    const p = new StreamProgress();
    p.add('a', 100);
    p.add('c', 300);

    const next = p.nextCursor(cursor(50), 999, policy, 200);

    expect(next?.positionMs).toBe(100);
  });

  it('returns null when nothing was handled', () => {
    expect(new StreamProgress().nextCursor(cursor(5), 1, policy)).toBeNull();
  });

  it('never moves backwards and never skips an unhandled action (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        fc.array(
          fc.record({
            id: fc.string({ minLength: 1, maxLength: 4 }),
            ts: fc.integer({ min: 0, max: 20_000 }),
          }),
          {
            maxLength: 40,
          },
        ),
        fc.option(fc.integer({ min: 0, max: 20_000 }), { nil: undefined }),
        (start, handled, blocked) => {
          const previous = cursor(start, ['seed']);
          const p = new StreamProgress();
          for (const h of handled) p.add(h.id, h.ts);

          const next = p.nextCursor(previous, 1, policy, blocked ?? Number.POSITIVE_INFINITY);

          if (next === null) return;
          expect(next.positionMs).toBeGreaterThanOrEqual(previous.positionMs);
          if (blocked !== undefined)
            expect(next.positionMs).toBeLessThan(Math.max(blocked, previous.positionMs + 1));
          // Everything the new cursor claims at its position was really handled (or already claimed).
          for (const id of next.idsAtPosition) {
            const claimed =
              handled.some((h) => h.id === id && h.ts === next.positionMs) ||
              (next.positionMs === start && id === 'seed');
            expect(claimed).toBe(true);
          }
          expect(next.recentIds?.length ?? 0).toBeLessThanOrEqual(policy.maxRecentIds);
        },
      ),
    );
  });
});
