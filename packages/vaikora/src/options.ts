import { z } from 'zod';
import { VaikoraError } from './errors.ts';

/** What one HTTP attempt looked like, for metrics and logs. Never carries the key or headers. */
export interface VaikoraRequestEvent {
  /** The page requested (verify requests page 1). */
  readonly page: number;
  /** HTTP status, or null when no response arrived (network error, timeout). */
  readonly status: number | null;
  /** 1 for the first attempt at this page, 2 for its first retry, ... */
  readonly attempt: number;
  readonly durationMs: number;
  /** Set when the attempt failed. */
  readonly code?: string;
}

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;
export type SleepLike = (ms: number, signal?: AbortSignal) => Promise<void>;

const fn = <T>(name: string) =>
  z.custom<T>((value) => typeof value === 'function', { message: `${name} must be a function` });

// Visible ASCII only: a header value with control characters or non-ASCII makes fetch throw an
// error that quotes the value, and the value is the secret.
const API_KEY = /^[\x21-\x7e]+$/;

const optionFields = z.object({
  /** Management API base, e.g. `https://api.vaikora.com/api/v1`; `/actions` is appended. */
  baseUrl: z
    .string()
    .refine((value) => {
      try {
        const url = new URL(value);
        return (
          (url.protocol === 'https:' || url.protocol === 'http:') &&
          url.username === '' &&
          url.password === ''
        );
      } catch {
        return false;
      }
    }, 'must be an http(s) URL without credentials')
    .transform((value) => value.replace(/\/+$/, '')),
  apiKey: z
    .string()
    .min(1, 'must not be empty')
    .max(1024, 'is too long')
    .regex(API_KEY, 'must be visible ASCII'),
  /** Page size to request; the public connectors use 100, the documented maximum. */
  perPage: z.number().int().min(1).max(100).default(100),
  /** Name of a time filter query parameter the deployment accepts (e.g. `since`); unset = none. */
  timeFilterParam: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/, 'must be a plain query parameter name')
    .optional(),
  /** Per attempt, headers and body together. */
  timeoutMs: z.number().int().min(1).max(300_000).default(15_000),
  /** Retries after the first attempt; bounded so a sick server cannot hold a worker forever. */
  maxRetries: z.number().int().min(0).max(10).default(4),
  baseDelayMs: z.number().int().min(0).max(60_000).default(500),
  maxDelayMs: z.number().int().min(0).max(300_000).default(20_000),
  /** Longest `Retry-After` the client waits; a longer request ends the call with RATE_LIMITED. */
  maxRetryAfterMs: z.number().int().min(0).max(3_600_000).default(60_000),
  /** Default page bound of one sweep. */
  maxPages: z.number().int().min(1).max(1_000_000).default(1000),
  /**
   * Body bytes read per page at most (ADR 0022): 16 MiB is about 100 times a full page of ordinary
   * records, and bounds what one page can hold in memory. A larger page is PAGE_UNREADABLE.
   */
  maxResponseBytes: z
    .number()
    .int()
    .min(1024)
    .max(1024 * 1024 * 1024)
    .default(16 * 1024 * 1024),
  /** Records per page at most: 10 times the documented largest `per_page`; more is PAGE_UNREADABLE. */
  maxRecordsPerPage: z.number().int().min(1).max(100_000).default(1000),
  /** Nesting of one record at most (its own braces are level 1); deeper is RECORD_TOO_DEEP. */
  maxRecordDepth: z.number().int().min(1).max(1000).default(64),
  /**
   * Bytes of one record at most; larger is RECORD_TOO_LARGE. 4 MiB, not 1: a valid record may carry a
   * 1 MiB free-text field (the mapper cuts it to Security Hub's limits, ADR 0003), which is more than
   * 1 MiB as JSON, up to 4x in multi-byte UTF-8; the page bound still caps the page (ADR 0022).
   */
  maxRecordBytes: z
    .number()
    .int()
    .min(64)
    .max(1024 * 1024 * 1024)
    .default(4 * 1024 * 1024),
  userAgent: z
    .string()
    .regex(/^[\x20-\x7e]+$/)
    .default('vsh-vaikora-connector'),
  fetch: fn<FetchLike>('fetch').optional(),
  sleep: fn<SleepLike>('sleep').optional(),
  /** Uniform [0, 1) source for jitter. */
  random: fn<() => number>('random').optional(),
  /** Wall clock in epoch ms, for HTTP-date `Retry-After` values. */
  now: fn<() => number>('now').optional(),
  onRequest: fn<(event: VaikoraRequestEvent) => void>('onRequest').optional(),
});

export const vaikoraClientOptionsSchema = optionFields.refine(
  (options) => options.maxRecordsPerPage >= options.perPage,
  {
    path: ['maxRecordsPerPage'],
    message: 'must be at least perPage, or every full page would be unreadable',
  },
);

export type VaikoraClientOptions = z.input<typeof vaikoraClientOptionsSchema>;
export type ResolvedVaikoraClientOptions = z.output<typeof vaikoraClientOptionsSchema>;

/** Validates client options; the message names the fields and never quotes a value. */
export function parseClientOptions(options: VaikoraClientOptions): ResolvedVaikoraClientOptions {
  const parsed = vaikoraClientOptionsSchema.safeParse(options);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map(
    (issue) => `${issue.path.join('.') || 'options'} ${issue.message}`,
  );
  throw new VaikoraError('INVALID_CONFIG', `invalid Vaikora client options: ${problems.join('; ')}`, false);
}
