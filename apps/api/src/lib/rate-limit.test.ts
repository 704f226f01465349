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
});
