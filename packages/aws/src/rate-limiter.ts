import { setTimeout as delay } from 'node:timers/promises';
import { type Destination, TokenBucket } from '@vsh/core';

/** Paces calls to one account-region so that the service's own limit is not hit. */
export interface RateLimiter {
  /** Resolves when the caller may send one request (callers are served first come, first served). */
  take(): Promise<void>;
  /** The service throttled anyway (someone else shares the quota, or clocks drift): drop any saved burst. */
  penalize(): void;
  /** Tokens available now (negative: callers are already waiting for that many). */
  available(): number;
}

export interface TokenBucketOptions {
  /** Sustained rate; Security Hub BatchImportFindings allows 10 per second per account and region. */
  readonly ratePerSecond: number;
  /** Bucket size: how many requests may go at once after a quiet period (Security Hub: 30). */
  readonly burst: number;
  /** Monotonic milliseconds; default performance.now. */
  readonly clock?: (() => number) | undefined;
  readonly sleep?: ((ms: number) => Promise<void>) | undefined;
}

/**
 * A rate limiter on @vsh/core's TokenBucket (the npm limiters either count per fixed window, like
 * p-throttle, which cannot express "10 per second with bursts of 30", or read the clock and sleep
 * themselves). Each caller reserves the next token, letting the balance go negative, and sleeps until
 * that token has been refilled: FIFO order without a waiter queue, and the rate holds however many
 * callers wait.
 */
export function createTokenBucket(options: TokenBucketOptions): RateLimiter {
  const { ratePerSecond, burst } = options;
  if (!(ratePerSecond > 0) || !(burst >= 1)) throw new RangeError('ratePerSecond must be > 0 and burst >= 1');
  const clock = options.clock ?? (() => performance.now());
  const sleep = options.sleep ?? ((ms: number) => delay(ms));
  const bucket = new TokenBucket({ burst, tokensPerInterval: ratePerSecond, intervalMs: 1000 }, clock());

  return {
    async take() {
      const wait = bucket.reserve(clock());
      if (wait > 0) await sleep(wait);
    },
    penalize() {
      bucket.drain(clock());
    },
    available() {
      return bucket.available(clock());
    },
  };
}

/** One rate limiter per account and region, shared by every importer and client that writes there. */
export interface RateLimiterRegistry {
  forDestination(destination: Destination): RateLimiter;
  readonly size: number;
}

export interface RateLimiterRegistryOptions {
  /** Default 10 (Security Hub BatchImportFindings per account and region). */
  readonly ratePerSecond?: number | undefined;
  /** Default 30. */
  readonly burst?: number | undefined;
  readonly clock?: (() => number) | undefined;
  readonly sleep?: ((ms: number) => Promise<void>) | undefined;
}

/** Creates the registry of per-account-region token buckets (defaults: Security Hub's 10/s, burst 30). */
export function createRateLimiterRegistry(options: RateLimiterRegistryOptions = {}): RateLimiterRegistry {
  const limiters = new Map<string, RateLimiter>();
  return {
    forDestination(destination) {
      // Security Hub's quota is the calling account's: in partner-product mode (ADR 0121) that is
      // Data443's account, shared by every tenant imported for; otherwise the customer's own.
      const caller = destination.product?.accountId ?? destination.accountId;
      const key = `${destination.partition}:${caller}:${destination.region}`;
      let limiter = limiters.get(key);
      if (limiter === undefined) {
        limiter = createTokenBucket({
          ratePerSecond: options.ratePerSecond ?? 10,
          burst: options.burst ?? 30,
          clock: options.clock,
          sleep: options.sleep,
        });
        limiters.set(key, limiter);
      }
      return limiter;
    },
    get size() {
      return limiters.size;
    },
  };
}
