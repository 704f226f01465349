/** The outcome of taking one token. */
export type TakeResult = { ok: true } | { ok: false; retryAfterSeconds: number };

export interface RateLimiter {
  take(key: string, nowMs: number): TakeResult;
  readonly size: number;
}

export interface RateLimiterOptions {
  /** Sustained rate, tokens per minute. */
  perMinute: number;
  /** Bucket size: requests allowed at once after a quiet period. */
  burst: number;
  /** Buckets kept at most; the least recently used is dropped (a dropped bucket restarts full). */
  maxKeys?: number;
}

/**
 * In-memory token buckets, one per key (an API key id, or a client address for failed authentication).
 * Hand-written (30 lines) rather than a middleware package: the key is only known after authentication,
 * the answer must be our error body with `Retry-After`, time comes from the injected clock so tests need
 * no waiting, and memory is bounded by an LRU cap. Per process: several API instances each allow the
 * rate (ADR 0060 says why that is acceptable here).
 */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const perMs = options.perMinute / 60_000;
  const maxKeys = options.maxKeys ?? 10_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    take(key, nowMs) {
      const previous = buckets.get(key);
      const bucket = previous ?? { tokens: options.burst, at: nowMs };
      bucket.tokens = Math.min(options.burst, bucket.tokens + Math.max(0, nowMs - bucket.at) * perMs);
      bucket.at = nowMs;
      // Re-insert so Map order is least recently used first.
      buckets.delete(key);
      buckets.set(key, bucket);
      if (buckets.size > maxKeys) {
        const oldest = buckets.keys().next();
        if (!oldest.done) buckets.delete(oldest.value);
      }
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return { ok: true };
      }
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000)) };
    },
    get size() {
      return buckets.size;
    },
  };
}
