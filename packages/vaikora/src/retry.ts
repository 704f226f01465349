import type { VaikoraErrorCode } from './errors.ts';

/** Ceiling on a Retry-After value we even parse (one day); anything larger is treated as that. */
const MAX_RETRY_AFTER_MS = 86_400_000;

/**
 * Parses a `Retry-After` header (delta-seconds or an HTTP date) into milliseconds from `nowMs`.
 * Returns undefined when the header is absent or unreadable, so the caller falls back to backoff.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.min(Math.ceil(Number(trimmed) * 1000), MAX_RETRY_AFTER_MS);
  // An HTTP date always names a weekday or month in letters; this keeps Date.parse from accepting
  // bare numbers or negative values as dates.
  if (!/[a-z]/i.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, at - nowMs), MAX_RETRY_AFTER_MS);
}

/**
 * Exponential backoff with full jitter: uniform in [0, min(maxDelayMs, baseDelayMs * 2^retryIndex)].
 * `retryIndex` counts retries from 0.
 */
export function backoffDelay(
  retryIndex: number,
  baseDelayMs: number,
  maxDelayMs: number,
  random: () => number,
): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(retryIndex, 30));
  return Math.floor(random() * (ceiling + 1));
}

/** How an HTTP status that is not 2xx maps to an error code, and whether a retry can help. */
export function classifyStatus(status: number): { code: VaikoraErrorCode; retryable: boolean } {
  if (status === 401) return { code: 'UNAUTHORIZED', retryable: false };
  if (status === 403) return { code: 'FORBIDDEN', retryable: false };
  if (status === 429) return { code: 'RATE_LIMITED', retryable: true };
  if (status === 408) return { code: 'TIMEOUT', retryable: true };
  if (status >= 500 && status <= 599) return { code: 'UNAVAILABLE', retryable: true };
  // Every request the client sends is fully determined by its configuration (base URL, page size,
  // time filter parameter), so any other 4xx means the configuration does not fit the deployment.
  if (status >= 400 && status <= 499) return { code: 'INVALID_CONFIG', retryable: false };
  return { code: 'BAD_RESPONSE', retryable: false };
}
