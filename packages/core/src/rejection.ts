/** Where in the pipeline a record was rejected. */
export type RejectionStage = 'parse' | 'map' | 'validate' | 'import';

/** The closed set of reasons a Vaikora record or a finding can be rejected for. */
export const REJECTION_CODES = [
  'MALFORMED_RECORD',
  'MISSING_ID',
  'INVALID_ID',
  'MISSING_TIMESTAMP',
  'INVALID_TIMESTAMP',
  'INVALID_FINDING',
  'FINDING_TOO_LARGE',
  'IMPORT_REJECTED',
  /** A record nested deeper than the reader allows: never parsed, kept by its raw bytes. */
  'RECORD_TOO_DEEP',
  /** A record larger than the reader allows: never parsed, kept by its raw bytes. */
  'RECORD_TOO_LARGE',
  /** A page that cannot be read within the reader's bounds (too many records, or not JSON at all). */
  'PAGE_UNREADABLE',
] as const;
export type RejectionCode = (typeof REJECTION_CODES)[number];

/**
 * A record that could not become a finding in Security Hub, kept as data with its reason.
 * `retryable` says whether sending it again later can succeed.
 */
export interface Rejection {
  readonly actionId: string | null;
  readonly code: RejectionCode;
  readonly stage: RejectionStage;
  readonly reason: string;
  readonly retryable: boolean;
  /** The input as received (for the rejected-records store; callers bound its size). */
  readonly raw?: unknown;
  /**
   * A stable identity of the bad input (sha256, base64url, of its raw bytes as received where the
   * reader has them): the same record read again by a later run is stored once, counted again.
   */
  readonly fingerprint?: string;
}

/** Builds a rejection; non-retryable unless said otherwise. */
export function reject(
  code: RejectionCode,
  stage: RejectionStage,
  reason: string,
  actionId: string | null,
  raw?: unknown,
  retryable = false,
): Rejection {
  return raw === undefined
    ? { actionId, code, stage, reason, retryable }
    : { actionId, code, stage, reason, retryable, raw };
}
