import type { SeenSegment, SeenSet, StreamState } from '@vsh/aws';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CursorPolicy,
  DEFAULT_STUCK_POLICY,
  formatWindowDigest,
  givesUp,
  handledBefore,
  handledToMeet,
  isNew,
  nextStuck,
  parseWindowDigest,
  type StreamCursor,
  StreamProgress,
  type StuckRun,
  sameWindow,
  stuckKey,
  windowHash,
  windowStartMs,
} from './cursor.ts';

const policy: CursorPolicy = { overlapMs: 1000, initialLookbackMs: 60_000 };
const cursor = (positionMs: number): StreamCursor => ({ positionMs, updatedAtMs: 0 });
const stateOf = (
  c: StreamCursor | null,
  seen: Iterable<string> = [],
  segments: SeenSegment[] = [],
): StreamState => {
  const set = new Set(seen);
  return { cursor: c, seen: { has: (id) => set.has(id), size: set.size }, segments };
};
const complete = (windowStart: number, blockedAtMs = Number.POSITIVE_INFINITY) => ({
  complete: true,
  blockedAtMs,
  windowStartMs: windowStart,
});

describe('the read window', () => {
  it('starts the initial lookback before now for a new stream, and the overlap before the cursor otherwise', () => {
    expect(windowStartMs(null, 100_000, policy)).toBe(40_000);
    expect(windowStartMs(cursor(50_000), 100_000, policy)).toBe(49_000);
  });

  it.each([
    ['newer than the cursor', 'x', 10_001, true],
    ['at the cursor, not seen', 'x', 10_000, true],
    ['at the cursor, seen', 'a', 10_000, false],
    ['late arrival inside the overlap', 'late', 9_500, true],
    ['seen inside the overlap', 'r', 9_500, false],
    ['seen after the cursor (sent by a run that stopped early)', 'after', 12_000, false],
    ['older than the window', 'old', 8_999, false],
  ])('%s → %s', (_name, id, ts, expected) => {
    const c = cursor(10_000);
    const state = stateOf(c, ['a', 'r', 'after']);

    expect(isNew({ id, timestampMs: ts }, state.seen, windowStartMs(c, 20_000, policy))).toBe(expected);
  });
});

describe('the window digest (ADR 0128, 0144, 0146)', () => {
  const at = (id: string, timestampMs: number) => ({ id, timestampMs });

  it('hashes the set of ids inside the window: order, repeats and older actions do not change it', () => {
    const hash = windowHash([at('a', 10), at('b', 20), at('old', 5)], 10);

    expect(hash).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(windowHash([at('b', 20), at('a', 10), at('a', 30), at('older', 1)], 10)).toBe(hash);
  });

  it('changes its hash with one id more, one less, or one moved across the window start', () => {
    const hash = windowHash([at('a', 10), at('b', 20)], 10);

    expect(windowHash([at('a', 10), at('b', 20), at('c', 15)], 10)).not.toBe(hash);
    expect(windowHash([at('a', 10)], 10)).not.toBe(hash);
    expect(windowHash([at('a', 9), at('b', 20)], 10)).not.toBe(hash);
  });

  it('cannot be confused by ids that join into the same text', () => {
    expect(windowHash([at('a,b', 10)], 0)).not.toBe(windowHash([at('a', 10), at('b', 10)], 0));
    expect(windowHash([at('a\nb', 10)], 0)).not.toBe(windowHash([at('a', 10), at('b', 10)], 0));
  });

  it('differs for any two different sets of ids (property)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string(), { minLength: 1, maxLength: 20 }), fc.string(), (ids, extra) => {
        fc.pre(!ids.includes(extra));
        const base = ids.map((id) => at(id, 1));
        return windowHash(base, 0) !== windowHash([...base, at(extra, 1)], 0);
      }),
    );
  });

  it('is stored as hash, count and epoch, and reads back as written; an older digest counts 1 action of any epoch', () => {
    const hash = windowHash([at('a', 10)], 10);
    const evidence = { hash, count: 20, epoch: 7 };
    const countOnly = { hash: '', count: 1_200, epoch: 8 };
    const older = { hash, count: 1, epoch: Number.POSITIVE_INFINITY };

    expect(formatWindowDigest(evidence)).toBe(`${hash}.20.7`);
    expect(parseWindowDigest(formatWindowDigest(evidence))).toEqual(evidence);
    expect(parseWindowDigest(formatWindowDigest(countOnly))).toEqual(countOnly);
    expect(formatWindowDigest(evidence).length).toBeLessThanOrEqual(64);
    // ADR 0128's hash alone, and ADR 0144's hash and count (third probe: read as none, they ended the
    // reading past an upload after 3 pages).
    expect(parseWindowDigest(hash)).toEqual(older);
    expect(parseWindowDigest(`${hash}20`)).toEqual(older);
    expect(handledToMeet(older)).toBe(1);
    // None, and malformed ones.
    for (const digest of [
      undefined,
      `${hash}.20`,
      `${hash}.-1.7`,
      `${hash}.1e3.7`,
      `x.1.2`,
      'short',
      `${hash}x`,
    ]) {
      expect(parseWindowDigest(digest)).toBeUndefined();
    }
  });

  it('writes over a digest stored before ADR 0146 at the first complete sweep, whatever it found', () => {
    const hash = windowHash([at('a', 10)], 10);
    const stored = { positionMs: 100_000, updatedAtMs: 0, windowDigest: hash };
    const same = formatWindowDigest({ hash, count: 1, epoch: 4 });

    const write = new StreamProgress().plan(stateOf(stored), 200_000, policy, {
      ...complete(99_000),
      windowDigest: () => same,
    });

    expect(write?.next).toMatchObject({ positionMs: 100_000, windowDigest: same });
  });

  it('spares a one-page sweep its read only by a hash, stored now or before ADR 0146 (ADR 0128)', () => {
    const page = [at('c', 30), at('b', 20), at('a', 10), at('old', 5)];
    const hash = windowHash([at('a', 10), at('b', 20), at('c', 30)], 10);

    expect(sameWindow(page, 10, formatWindowDigest({ hash, count: 3, epoch: 2 }))).toBe(true);
    expect(sameWindow(page, 10, hash)).toBe(true);
    expect(sameWindow(page, 10, `${hash}3`)).toBe(true);
    expect(sameWindow([at('a', 10)], 10, formatWindowDigest({ hash, count: 3, epoch: 2 }))).toBe(false);
    // A count without a hash (a write that could not vouch for every id) spares nothing.
    expect(sameWindow(page, 10, formatWindowDigest({ hash: '', count: 3, epoch: 2 }))).toBe(false);
  });

  it('asks a sweep to meet as many handled actions as the digest counted, each stored by its run or before (ADR 0143, 0144)', () => {
    const evidence = { hash: '', count: 2, epoch: 5 };
    const epochs = new Map([
      ['before', 4],
      ['same', 5],
      ['later', 6],
    ]);
    const seen: SeenSet = { has: (id) => epochs.has(id), size: epochs.size, epochOf: (id) => epochs.get(id) };
    const counts = (id: string, timestampMs = 100) => handledBefore({ id, timestampMs }, evidence, seen, 50);

    expect(handledToMeet(evidence)).toBe(2);
    expect([counts('before'), counts('same'), counts('later'), counts('never')]).toEqual([
      true,
      true,
      false,
      false,
    ]);
    // Listed before the window's start, with no evidence, or with a seen-set not read.
    expect(counts('before', 49)).toBe(false);
    expect(handledBefore({ id: 'before', timestampMs: 100 }, undefined, seen, 50)).toBe(false);
    expect(handledBefore({ id: 'before', timestampMs: 100 }, evidence, undefined, 50)).toBe(false);
    // A count of none, or no evidence: nothing met is evidence.
    expect(handledToMeet({ ...evidence, count: 0 })).toBe(Number.POSITIVE_INFINITY);
    expect(handledToMeet(undefined)).toBe(Number.POSITIVE_INFINITY);
  });

  it('goes into a complete write as the run gives it; a write at the same position that cannot say more keeps the one it found (ADR 0146)', () => {
    const progress = new StreamProgress();
    progress.add('a', 100_000);
    const end = { complete: true, blockedAtMs: Number.POSITIVE_INFINITY, windowStartMs: 0 };

    const made = progress.plan(stateOf(null), 200_000, policy, {
      ...end,
      windowDigest: (from) => `d${from}`,
    });
    const stored = { positionMs: 100_000, updatedAtMs: 0, windowDigest: 'kept' };
    const incomplete = new StreamProgress();
    incomplete.add('b', 100_500);
    const kept = incomplete.plan(stateOf(stored), 200_000, policy, { ...end, complete: false });
    const checkpoint = incomplete.checkpoint(stateOf(stored), 200_000, policy, 99_000);
    const moved = new StreamProgress();
    moved.add('c', 150_000);
    const none = moved.plan(stateOf(stored), 200_000, policy, { ...end, windowDigest: () => undefined });

    expect(made?.next).toMatchObject({ positionMs: 100_000, windowDigest: `d${100_000 - policy.overlapMs}` });
    expect(kept?.next).toMatchObject({ positionMs: 100_000, windowDigest: 'kept' });
    expect(checkpoint?.next).toMatchObject({ positionMs: 100_000, windowDigest: 'kept' });
    // The position moved: the stored digest was of another window.
    expect(none?.next).toMatchObject({ positionMs: 150_000 });
    expect(none?.next.windowDigest).toBeUndefined();
  });

  it('is written again when the count or hash of the same window changed, not when only the epoch did (ADR 0146)', () => {
    const hash = windowHash([at('a', 10)], 10);
    const stored = {
      positionMs: 100_000,
      updatedAtMs: 0,
      windowDigest: formatWindowDigest({ hash, count: 5, epoch: 3 }),
    };
    const end = complete(99_000);
    const plan = (digest: string) =>
      new StreamProgress().plan(stateOf(stored), 200_000, policy, { ...end, windowDigest: () => digest });

    expect(plan(formatWindowDigest({ hash, count: 5, epoch: 9 }))).toBeNull();
    expect(plan(formatWindowDigest({ hash, count: 4, epoch: 9 }))?.next.windowDigest).toBe(`${hash}.4.9`);
    expect(plan(formatWindowDigest({ hash: '', count: 5, epoch: 9 }))?.next.windowDigest).toBe('.5.9');
  });
});

describe('StreamProgress.plan', () => {
  it('moves to the newest handled time and remembers what the next window still covers', () => {
    const p = new StreamProgress();
    p.add('a', 100);
    p.add('b', 1_300);
    p.add('c', 1_300);
    p.add('d', 250);

    expect(p.plan(stateOf(null), 999, policy, complete(0))).toEqual({
      next: { positionMs: 1_300, updatedAtMs: 999 },
      seen: [
        { id: 'b', timestampMs: 1_300 },
        { id: 'c', timestampMs: 1_300 },
        { id: 'd', timestampMs: 1_000 - 750 + 0 },
      ].filter((e) => e.timestampMs >= 300),
      prune: [],
    });
  });

  it('remembers every id of a window of 60,000 actions (100 per second for 10 minutes)', () => {
    const p = new StreamProgress();
    const overlap = { overlapMs: 600_000, initialLookbackMs: 600_000 };
    for (let i = 0; i < 60_000; i++) p.add(`id-${i}`, 1_000_000 + i * 10);

    const write = p.plan(stateOf(cursor(1_000_000)), 2_000_000, overlap, complete(400_000));

    expect(write?.next.positionMs).toBe(1_000_000 + 59_999 * 10);
    expect(write?.seen).toHaveLength(60_000);
  });

  it('never passes an action that could not be delivered, but remembers what was sent after it', () => {
    const p = new StreamProgress();
    p.add('a', 100);
    p.add('c', 300);

    const write = p.plan(stateOf(cursor(50)), 999, policy, complete(0, 200));

    expect(write?.next.positionMs).toBe(100);
    expect(write?.seen.map((e) => e.id).sort()).toEqual(['a', 'c']);
  });

  it('keeps the position of a run that stopped early and remembers what it sent', () => {
    const p = new StreamProgress();
    p.add('sent', 5_000);

    const write = p.plan(stateOf(cursor(4_000)), 9_999, policy, { ...complete(3_000), complete: false });

    expect(write).toEqual({
      next: { positionMs: 4_000, updatedAtMs: 9_999 },
      seen: [{ id: 'sent', timestampMs: 5_000 }],
      prune: [],
    });
  });

  it('gives a new stream that stopped early the position of its own window', () => {
    const p = new StreamProgress();
    p.add('sent', 50_000);

    const write = p.plan(stateOf(null), 100_000, policy, { ...complete(40_000), complete: false });

    expect(write?.next.positionMs).toBe(41_000);
    expect(windowStartMs(write?.next ?? null, 200_000, policy)).toBe(40_000);
  });

  it('does not let an action stamped in the future carry the position past now', () => {
    const p = new StreamProgress();
    const now = 1_800_000_000_000;
    p.add('from-2099', Date.UTC(2099, 0, 1));
    p.add('recent', now - 1000);

    const write = p.plan(stateOf(cursor(now - 60_000)), now, policy, complete(now - 61_000));

    expect(write?.next.positionMs).toBe(now - 1000);
    expect(write?.seen.map((e) => e.id).sort()).toEqual(['from-2099', 'recent']);
    // The next run's window still holds the actions to come.
    expect(
      isNew(
        { id: 'next', timestampMs: now + 1 },
        stateOf(write?.next ?? null).seen,
        windowStartMs(write?.next ?? null, now + 2, policy),
      ),
    ).toBe(true);
  });

  it('checkpoints what it handled at the stored position, and the final write carries only the rest', () => {
    const p = new StreamProgress();
    const state = stateOf(cursor(5_000));
    p.add('early', 5_100);
    const check = p.checkpoint(state, 6_000, policy, 4_000);
    if (check === null) throw new Error('no checkpoint');
    p.saved(check, policy);
    p.add('late', 5_200);

    const write = p.plan(state, 7_000, policy, complete(4_000));

    expect(check).toEqual({
      next: { positionMs: 5_000, updatedAtMs: 6_000 },
      seen: [{ id: 'early', timestampMs: 5_100 }],
      prune: [],
    });
    expect(p.checkpoint(state, 6_500, policy, 4_000)?.seen).toEqual([{ id: 'late', timestampMs: 5_200 }]);
    expect(write).toEqual({
      next: { positionMs: 5_200, updatedAtMs: 7_000 },
      seen: [{ id: 'late', timestampMs: 5_200 }],
      prune: [],
    });
  });

  it('never writes a new stream behind its checkpoint', () => {
    const p = new StreamProgress();
    p.add('old', 40_100);
    const check = p.checkpoint(stateOf(null), 100_000, policy, 40_000);
    if (check === null) throw new Error('no checkpoint');
    p.saved(check, policy);

    const write = p.plan(stateOf(null), 100_001, policy, complete(40_000));

    expect(check.next.positionMs).toBe(41_000);
    // The newest handled action (40,100) is older than the checkpoint's position: the position stays.
    expect(write).toBeNull();
  });

  it('writes nothing for an idle stream', () => {
    expect(new StreamProgress().plan(stateOf(cursor(5)), 1, policy, complete(0))).toBeNull();
    expect(new StreamProgress().plan(stateOf(null), 1, policy, complete(0))).toBeNull();
  });

  it('prunes the segments wholly behind the next window', () => {
    const p = new StreamProgress();
    p.add('new', 10_000);
    const old: SeenSegment = { key: 'old', bucketStartMs: 0, bucketEndMs: 9_000, count: 3 };
    const live: SeenSegment = { key: 'live', bucketStartMs: 8_000, bucketEndMs: 9_001, count: 3 };

    const write = p.plan(stateOf(cursor(5_000), [], [old, live]), 1, policy, complete(4_000));

    expect(write?.prune).toEqual([old]);
  });
});

/**
 * The whole rule over many runs: a list that grows with late arrivals, same-millisecond bursts and
 * failed deliveries; each run reads the window, handles what is new and writes the plan. Every action
 * inside the lookback is handled, and none twice unless its delivery failed.
 */
describe('stuck findings (ADR 0133)', () => {
  const H = 3600_000;
  const entry = (id: string, actionMs: number, runs: number, sinceMs: number) => ({
    key: stuckKey(id),
    actionMs,
    runs,
    sinceMs,
  });

  const run = (refused: Map<string, number>, over: Partial<StuckRun> = {}): StuckRun => ({
    refused,
    handled: [],
    counted: true,
    complete: true,
    ...over,
  });

  it('counts a refusal again in a run that counts, starts a new one at one, and adds nothing in a run that does not', () => {
    const before = [entry('a', 100, 2, 0)];
    const refused = new Map([
      ['a', 100],
      ['b', 200],
    ]);
    expect(nextStuck(before, run(refused), 5_000, DEFAULT_STUCK_POLICY)).toEqual([
      entry('a', 100, 3, 0),
      entry('b', 200, 1, 5_000),
    ]);
    expect(nextStuck(before, run(refused, { counted: false }), 5_000, DEFAULT_STUCK_POLICY)).toEqual(before);
  });

  it('drops what the run handled, and after a complete sweep what it did not find refused again', () => {
    const before = [entry('taken', 100, 2, 0), entry('gone', 150, 4, 0), entry('again', 200, 1, 0)];
    const refused = new Map([['again', 200]]);
    const complete = nextStuck(before, run(refused, { handled: ['taken'] }), 5_000, DEFAULT_STUCK_POLICY);
    expect(complete).toEqual([entry('again', 200, 2, 0)]);
    // A sweep that stopped early may not have reached 'gone': it stays.
    const partial = nextStuck(
      before,
      run(refused, { handled: ['taken'], complete: false }),
      5_000,
      DEFAULT_STUCK_POLICY,
    );
    expect(partial).toEqual([entry('gone', 150, 4, 0), entry('again', 200, 2, 0)]);
  });

  it('keeps the oldest three: the ones holding the position', () => {
    const refused = new Map(['d', 'c', 'b', 'a'].map((id, i) => [id, 400 - i * 100]));
    const next = nextStuck([], run(refused), 0, DEFAULT_STUCK_POLICY);
    expect(next.map((e) => e.actionMs)).toEqual([100, 200, 300]);
    expect(stuckKey('a')).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it.each([
    ['never stuck', undefined, 10 * H, false],
    ['five counted runs over an hour: this refusal is the sixth', entry('a', 0, 5, 0), H, true],
    ['five counted runs in less than an hour', entry('a', 0, 5, 0), H - 1, false],
    ['four counted runs over a day', entry('a', 0, 4, 0), 24 * H, false],
  ])('gives up: %s', (_name, stuck, nowMs, expected) => {
    expect(givesUp(stuck, nowMs, DEFAULT_STUCK_POLICY)).toBe(expected);
  });

  it('drops an entry the next window is past, and writes when only the stuck findings changed', () => {
    const state = stateOf({ ...cursor(10_000), stuck: [entry('old', 8_000, 3, 0), entry('a', 9_500, 1, 0)] });
    const progress = new StreamProgress();
    const blocked = { complete: true, blockedAtMs: 9_500, windowStartMs: 9_000 };
    const same = progress.plan(state, 20_000, policy, { ...blocked, stuck: state.cursor?.stuck });
    expect(same?.next.stuck).toEqual([entry('a', 9_500, 1, 0)]);
    const counted = progress.plan(state, 20_000, policy, { ...blocked, stuck: [entry('a', 9_500, 2, 0)] });
    expect(counted?.next).toMatchObject({ positionMs: 10_000, stuck: [entry('a', 9_500, 2, 0)] });
  });

  it('a checkpoint carries the stuck findings it read', () => {
    const stuck = [entry('a', 9_500, 2, 0)];
    const progress = new StreamProgress();
    progress.add('x', 10_500);
    const write = progress.checkpoint(stateOf({ ...cursor(10_000), stuck }), 20_000, policy, 9_000);
    expect(write?.next.stuck).toEqual(stuck);
  });
});

describe('runs over a growing list (property)', () => {
  it('handles every action once, whatever the bursts, late arrivals and failures', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            count: fc.integer({ min: 0, max: 60 }),
            lateBy: fc.integer({ min: 0, max: 900 }),
            burst: fc.boolean(),
            failAt: fc.option(fc.integer({ min: 0, max: 59 }), { nil: undefined }),
            stopsEarly: fc.boolean(),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        (runs) => {
          let now = 100_000;
          const list: Array<{ id: string; timestampMs: number }> = [];
          let stored: StreamCursor | null = null;
          const seen = new Map<string, number>();
          const handledCount = new Map<string, number>();
          const failedOnce = new Set<string>();
          let n = 0;
          for (const run of runs) {
            now += 700;
            for (let i = 0; i < run.count; i++) {
              const ts = run.burst ? now : now - (i % 3 === 0 ? run.lateBy : 0) - (i % 7);
              list.push({ id: `a${n++}`, timestampMs: ts });
            }
            const state = stateOf(stored, seen.keys());
            const windowStart = windowStartMs(stored, now, policy);
            const progress = new StreamProgress();
            let blocked = Number.POSITIVE_INFINITY;
            const failing = run.failAt === undefined ? undefined : list[list.length - 1 - run.failAt];
            for (const action of list) {
              if (!isNew(action, state.seen, windowStart)) continue;
              if (action === failing && !failedOnce.has(action.id)) {
                failedOnce.add(action.id);
                blocked = Math.min(blocked, action.timestampMs);
                continue;
              }
              handledCount.set(action.id, (handledCount.get(action.id) ?? 0) + 1);
              progress.add(action.id, action.timestampMs);
            }
            const write = progress.plan(state, now, policy, {
              complete: !run.stopsEarly,
              blockedAtMs: blocked,
              windowStartMs: windowStart,
            });
            if (write === null) continue;
            if (stored !== null) expect(write.next.positionMs).toBeGreaterThanOrEqual(stored.positionMs);
            stored = write.next;
            for (const e of write.seen) seen.set(e.id, e.timestampMs);
            for (const p of write.prune) expect(p).toBeUndefined();
          }
          // A final clean run picks up whatever is left.
          now += 700;
          const state = stateOf(stored, seen.keys());
          const windowStart = windowStartMs(stored, now, policy);
          for (const action of list) {
            if (isNew(action, state.seen, windowStart))
              handledCount.set(action.id, (handledCount.get(action.id) ?? 0) + 1);
          }
          for (const action of list) {
            const times = handledCount.get(action.id) ?? 0;
            // Inside the lookback every action is handled exactly once.
            if (action.timestampMs >= 100_000 - policy.initialLookbackMs) expect(times).toBe(1);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
