import { CodedError } from '@vsh/core';

/** The closed set of ways a call to the Vaikora management API can fail. */
export const VAIKORA_ERROR_CODES = [
  'UNAUTHORIZED',
  'FORBIDDEN',
  'RATE_LIMITED',
  'UNAVAILABLE',
  'TIMEOUT',
  'BAD_RESPONSE',
  'NETWORK',
  'INVALID_CONFIG',
] as const;
export type VaikoraErrorCode = (typeof VAIKORA_ERROR_CODES)[number];

export interface VaikoraErrorDetails {
  /** HTTP status of the last response, when there was one. */
  readonly status?: number;
  /** What the server asked for in `Retry-After`, when it was more than the client agreed to wait. */
  readonly retryAfterMs?: number;
  /** How many requests were made before giving up. */
  readonly attempts?: number;
  /** A sanitized cause: name, message and code only, with the API key removed. Never headers. */
  readonly cause?: Error;
}

/**
 * The one error the Vaikora client throws. Messages and causes never carry the API key or request
 * headers; `retryable` says whether the same call can succeed later (the worker reschedules).
 */
export class VaikoraError extends CodedError<VaikoraErrorCode> {
  override name = 'VaikoraError';
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly attempts: number | undefined;

  constructor(
    code: VaikoraErrorCode,
    message: string,
    readonly retryable: boolean,
    details: VaikoraErrorDetails = {},
  ) {
    super(code, message, details.cause === undefined ? undefined : { cause: details.cause });
    this.status = details.status;
    this.retryAfterMs = details.retryAfterMs;
    this.attempts = details.attempts;
  }

  /** A plain shape for logs; `JSON.stringify(error)` gives this. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      status: this.status,
      retryAfterMs: this.retryAfterMs,
      attempts: this.attempts,
      cause: this.cause instanceof Error ? { name: this.cause.name, message: this.cause.message } : undefined,
    };
  }
}

/** Removes every occurrence of `secret` from `text` (a fetch error can echo a header value). */
export function redact(text: string, secret: string): string {
  return secret.length === 0 ? text : text.split(secret).join('[redacted]');
}

/**
 * Rebuilds a thrown value as a plain Error holding only name, message and code (recursing one level
 * into `cause`), with the secret removed: an undici error can carry the request, and a request carries
 * the `X-API-Key` header.
 */
export function sanitizeCause(value: unknown, secret: string, depth = 0): Error {
  const source =
    value instanceof Error ? value : new Error(typeof value === 'string' ? value : 'unknown error');
  const inner =
    depth < 1 && source.cause !== undefined ? sanitizeCause(source.cause, secret, depth + 1) : undefined;
  const clean = new Error(redact(source.message, secret), inner === undefined ? undefined : { cause: inner });
  clean.name = redact(source.name, secret);
  const code = (source as { code?: unknown }).code;
  if (typeof code === 'string') Object.assign(clean, { code: redact(code, secret) });
  clean.stack = `${clean.name}: ${clean.message}`;
  return clean;
}
