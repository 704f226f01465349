import { describe, expect, it } from 'vitest';
import { createRateLimiter } from './rate-limit.ts';

describe('createRateLimiter', () => {
  it('allows the burst, then refuses with the seconds until the next token', () => {
    const limiter = createRateLimiter({ perMinute: 60, burst: 3 });

    const results = [0, 0, 0, 0].map(() => limiter.take('k', 1_000));

    expect(results.slice(0, 3).every((r) => r.ok)).toBe(true);
    expect(results[3]).toEqual({ ok: false, retryAfterSeconds: 1 });
  });

  it('refills at the sustained rate', () => {
    const limiter = createRateLimiter({ perMinute: 60, burst: 1 });
    limiter.take('k', 0);

    expect(limiter.take('k', 500).ok).toBe(false);
    expect(limiter.take('k', 1_600).ok).toBe(true);
  });

  it('keeps keys apart', () => {
    const limiter = createRateLimiter({ perMinute: 1, burst: 1 });

    expect(limiter.take('a', 0).ok).toBe(true);
    expect(limiter.take('b', 0).ok).toBe(true);
    expect(limiter.take('a', 0)).toEqual({ ok: false, retryAfterSeconds: 60 });
  });

  it('bounds memory by dropping the least recently used key', () => {
    const limiter = createRateLimiter({ perMinute: 1, burst: 1, maxKeys: 100 });

    for (let i = 0; i < 1_000; i++) limiter.take(`k${i}`, 0);

    expect(limiter.size).toBe(100);
  });

  it('keeps at most its cap under a flood of distinct keys, forgetting the least recently used', () => {
    const limiter = createRateLimiter({ perMinute: 1, burst: 1, maxKeys: 1_000 });
    limiter.take('attacker', 0);

    for (let i = 0; i < 100_000; i++) {
      limiter.take(`198.51.${i >> 8}.${i & 255}`, 0);
      if (i % 500 === 0) limiter.take('attacker', 0);
    }

    expect(limiter.size).toBe(1_000);
    // Touched recently, so still remembered as empty.
    expect(limiter.take('attacker', 0).ok).toBe(false);
  });

  it('gives a refunded token back, so a request that did not count costs nothing', () => {
    const limiter = createRateLimiter({ perMinute: 1, burst: 2 });

    limiter.take('k', 0);
    limiter.take('k', 0);
    limiter.refund('k', 0);

    expect(limiter.take('k', 0).ok).toBe(true);
    expect(limiter.take('k', 0).ok).toBe(false);
  });

  it('drops a bucket a refund fills again, and ignores a refund for a key it does not hold', () => {
    const limiter = createRateLimiter({ perMinute: 1, burst: 3 });

    limiter.take('k', 0);
    limiter.refund('k', 0);
    limiter.refund('unknown', 0);

    expect(limiter.size).toBe(0);
  });

  it('never refunds above the burst', () => {
    const limiter = createRateLimiter({ perMinute: 1, burst: 2 });

    limiter.take('k', 0);
    limiter.take('k', 0);
    limiter.refund('k', 0);
    limiter.refund('k', 0);
    limiter.refund('k', 0);

    expect([0, 0, 0].map(() => limiter.take('k', 0).ok)).toEqual([true, true, false]);
  });

  it('does not refill when the clock steps back', () => {
    const limiter = createRateLimiter({ perMinute: 60, burst: 1 });
    limiter.take('k', 10_000);

    expect(limiter.take('k', 0).ok).toBe(false);
    expect(limiter.take('k', 10_500).ok).toBe(false);
    expect(limiter.take('k', 11_000).ok).toBe(true);
  });
});
