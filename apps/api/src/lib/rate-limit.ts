import { TokenBucket, type TokenBucketRate } from '@vsh/core';

/** The outcome of taking one token. */
type TakeResult = { ok: true } | { ok: false; retryAfterSeconds: number };

export interface RateLimiter {
  /** Takes a token for `key`; refused (nothing taken) while its bucket is empty. */
  take(key: string, nowMs: number): TakeResult;
  /** Gives back a token taken for something that turned out not to count; a bucket back to full is dropped. */
  refund(key: string, nowMs: number): void;
  /** Buckets held: at most `maxKeys`. */
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

/** Buckets a limiter keeps unless told otherwise: about 1 MB of memory. */
const DEFAULT_MAX_KEYS = 10_000;

/**
 * In-memory token buckets (@vsh/core's TokenBucket), one per key (an API key id, a client address or a
 * key prefix for failed authentication). Not a middleware package: the key is only known after
 * authentication, the answer must be our error body with `Retry-After`, a token taken before an
 * authentication is given back when it succeeds, time comes from the injected clock so tests need no
 * waiting, and memory is bounded by an LRU cap, so a flood of distinct keys cannot exhaust it. Per process:
 * several API instances each allow the rate (ADRs 0060 and 0062 say why that is acceptable here).
 */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const rate: TokenBucketRate = {
    burst: options.burst,
    tokensPerInterval: options.perMinute,
    intervalMs: 60_000,
  };
  const maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
  const buckets = new Map<string, TokenBucket>();

  return {
    take(key, nowMs) {
      const bucket = buckets.get(key) ?? new TokenBucket(rate, nowMs);
      // Re-insert so Map order is least recently used first.
      buckets.delete(key);
      buckets.set(key, bucket);
      if (buckets.size > maxKeys) {
        const oldest = buckets.keys().next();
        if (!oldest.done) buckets.delete(oldest.value);
      }
      if (bucket.tryTake(nowMs)) return { ok: true };
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(bucket.msUntilToken(nowMs) / 1000)) };
    },
    refund(key, nowMs) {
      const bucket = buckets.get(key);
      if (bucket === undefined) return;
      bucket.refund(nowMs);
      // A full bucket is the same as none: successful traffic leaves nothing behind.
      if (bucket.isFull(nowMs)) buckets.delete(key);
    },
    get size() {
      return buckets.size;
    },
  };
}
