/** How fast a bucket refills and how much it holds. */
export interface TokenBucketRate {
  /** Bucket size: how many tokens may go at once after a quiet period (at least 1). */
  readonly burst: number;
  /** Tokens added per `intervalMs` (the sustained rate), more than 0. */
  readonly tokensPerInterval: number;
  /** Length of the refill interval in milliseconds, more than 0. */
  readonly intervalMs: number;
}

/**
 * A token bucket on an injected clock: every method takes the time (monotonic milliseconds), so the
 * bucket holds no timer and a test needs no waiting. Hand-written because @vsh/core imports only zod,
 * and the maintained npm bucket (`limiter`) reads the clock and sleeps itself. A clock that steps back
 * refills nothing until it passes the latest time seen.
 *
 * The balance may go negative (`reserve`): callers that queue up each reserve the next token and wait
 * until it is refilled, which keeps first-come-first-served order without a waiter queue.
 */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly rate: TokenBucketRate,
    nowMs: number,
  ) {
    if (!(rate.tokensPerInterval > 0) || !(rate.intervalMs > 0) || !(rate.burst >= 1)) {
      throw new RangeError('tokensPerInterval and intervalMs must be > 0 and burst >= 1');
    }
    this.tokens = rate.burst;
    this.at = nowMs;
  }

  private refill(nowMs: number): void {
    if (nowMs <= this.at) return;
    const { burst, tokensPerInterval, intervalMs } = this.rate;
    this.tokens = Math.min(burst, this.tokens + ((nowMs - this.at) * tokensPerInterval) / intervalMs);
    this.at = nowMs;
  }

  /** Milliseconds until the balance, now `tokens`, reaches `target`. */
  private msUntil(target: number): number {
    return this.tokens >= target
      ? 0
      : ((target - this.tokens) * this.rate.intervalMs) / this.rate.tokensPerInterval;
  }

  /** Tokens held at `nowMs` (negative: that many are reserved already). */
  available(nowMs: number): number {
    this.refill(nowMs);
    return this.tokens;
  }

  /** True when the bucket holds its whole burst (a full bucket is the same as a new one). */
  isFull(nowMs: number): boolean {
    return this.available(nowMs) >= this.rate.burst;
  }

  /** Takes one token when a whole one is there; false (nothing taken) otherwise. */
  tryTake(nowMs: number): boolean {
    this.refill(nowMs);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until `tryTake` would succeed (0: now). */
  msUntilToken(nowMs: number): number {
    this.refill(nowMs);
    return this.msUntil(1);
  }

  /** Takes the next token even when it is not there yet; returns the milliseconds until it is (0: now). */
  reserve(nowMs: number): number {
    this.refill(nowMs);
    this.tokens -= 1;
    return this.msUntil(0);
  }

  /** Gives one token back (something that did not count after all), never above the burst. */
  refund(nowMs: number): void {
    this.refill(nowMs);
    this.tokens = Math.min(this.rate.burst, this.tokens + 1);
  }

  /** Drops any saved burst (the service throttled anyway); reservations already made stand. */
  drain(nowMs: number): void {
    this.refill(nowMs);
    this.tokens = Math.min(this.tokens, 0);
  }
}
