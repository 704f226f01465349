import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TokenBucket } from './token-bucket.ts';

const tenPerSecond = { burst: 3, tokensPerInterval: 10, intervalMs: 1000 };

describe('TokenBucket', () => {
  it('starts full, lets the burst through, then refuses until a token is refilled', () => {
    const bucket = new TokenBucket(tenPerSecond, 0);

    const taken = [0, 0, 0, 0].map(() => bucket.tryTake(0));

    expect(taken).toEqual([true, true, true, false]);
    expect(bucket.msUntilToken(0)).toBe(100);
    expect(bucket.tryTake(99)).toBe(false);
    expect(bucket.tryTake(100)).toBe(true);
  });

  it('refills up to the burst, never beyond', () => {
    const bucket = new TokenBucket(tenPerSecond, 0);
    bucket.tryTake(0);

    expect(bucket.available(3_600_000)).toBe(3);
    expect(bucket.isFull(3_600_000)).toBe(true);
  });

  it('reserves tokens ahead, each caller waiting one interval share longer than the last', () => {
    const bucket = new TokenBucket(tenPerSecond, 0);

    const waits = Array.from({ length: 6 }, () => bucket.reserve(0));

    expect(waits).toEqual([0, 0, 0, 100, 200, 300]);
    expect(bucket.available(0)).toBe(-3);
  });

  it('drains the saved burst but keeps reservations', () => {
    const full = new TokenBucket(tenPerSecond, 0);
    const owing = new TokenBucket(tenPerSecond, 0);
    for (let i = 0; i < 5; i++) owing.reserve(0);

    full.drain(0);
    owing.drain(0);

    expect(full.available(0)).toBe(0);
    expect(owing.available(0)).toBe(-2);
  });

  it('refunds a token, never above the burst', () => {
    const bucket = new TokenBucket(tenPerSecond, 0);
    bucket.tryTake(0);

    bucket.refund(0);
    bucket.refund(0);

    expect(bucket.available(0)).toBe(3);
  });

  it('does not refill while the clock is behind the latest time seen', () => {
    const bucket = new TokenBucket({ burst: 1, tokensPerInterval: 1, intervalMs: 1000 }, 10_000);
    bucket.tryTake(10_000);

    expect(bucket.tryTake(0)).toBe(false);
    expect(bucket.tryTake(10_500)).toBe(false);
    expect(bucket.tryTake(11_000)).toBe(true);
  });

  it('computes waits exactly for slow rates (one per minute is 60 000 ms, not 60 000.000001)', () => {
    const bucket = new TokenBucket({ burst: 1, tokensPerInterval: 1, intervalMs: 60_000 }, 0);
    bucket.tryTake(0);

    expect(bucket.msUntilToken(0)).toBe(60_000);
  });

  it.each([
    { burst: 0, tokensPerInterval: 1, intervalMs: 1 },
    { burst: 1, tokensPerInterval: 0, intervalMs: 1 },
    { burst: 1, tokensPerInterval: 1, intervalMs: 0 },
    { burst: 1, tokensPerInterval: Number.NaN, intervalMs: 1 },
  ])('refuses a rate that cannot refill: %o', (rate) => {
    expect(() => new TokenBucket(rate, 0)).toThrow(RangeError);
  });

  it('never grants more than burst + rate × elapsed (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 0, max: 20 })), {
          maxLength: 40,
        }),
        (burst, perSecond, steps) => {
          const bucket = new TokenBucket({ burst, tokensPerInterval: perSecond, intervalMs: 1000 }, 0);
          let now = 0;
          let granted = 0;
          for (const [gap, attempts] of steps) {
            now += gap;
            for (let i = 0; i < attempts; i++) if (bucket.tryTake(now)) granted += 1;
            expect(granted).toBeLessThanOrEqual(burst + (now * perSecond) / 1000 + 1e-9);
          }
        },
      ),
    );
  });

  it('grants a token exactly when msUntilToken says one is there (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 500 }), fc.boolean()), { maxLength: 40 }),
        (steps) => {
          const bucket = new TokenBucket({ burst: 2, tokensPerInterval: 5, intervalMs: 1000 }, 0);
          let now = 0;
          for (const [gap, take] of steps) {
            now += gap;
            const wait = bucket.msUntilToken(now);
            if (take) expect(bucket.tryTake(now)).toBe(wait === 0);
          }
        },
      ),
    );
  });
});
