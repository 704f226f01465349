import { safeText } from './raw.ts';

/** SQLSTATE codes callers branch on (e.g. a unique violation becomes a 409 in the API). */
export const pgErrorCodes = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  checkViolation: '23514',
  notNullViolation: '23502',
} as const;

export interface PgErrorInfo {
  /** SQLSTATE, e.g. `23505`. */
  code: string;
  /** The violated constraint's name, when the server named one. */
  constraint: string | undefined;
}

/**
 * The PostgreSQL error under `error`, from either driver: drizzle wraps driver errors in a
 * `DrizzleQueryError` whose `cause` is the driver's error; postgres-js names the constraint
 * `constraint_name`, PGlite `constraint`.
 */
export function pgErrorOf(error: unknown): PgErrorInfo | undefined {
  for (const candidate of causes(error)) {
    if (typeof candidate.code === 'string' && /^[0-9A-Z]{5}$/.test(candidate.code)) {
      const constraint = candidate.constraint_name ?? candidate.constraint;
      return { code: candidate.code, constraint: typeof constraint === 'string' ? constraint : undefined };
    }
  }
  return undefined;
}

/** A database error as it may be logged: the code and the server's (or driver's) own message, never the SQL or its parameters. */
export interface DbErrorCause {
  /** SQLSTATE (e.g. `22P05`), or the driver's code for a lost connection (e.g. `CONNECTION_ENDED`); `unknown` otherwise. */
  code: string;
  /** The PostgreSQL message or the driver's, first line, escaped and at most 300 bytes; the error's name when it has no code. */
  message: string;
  constraint: string | undefined;
}

/**
 * What went wrong in a failed statement, fit for a log line. drizzle's own error (`Failed query: <SQL>
 * params: <values>`) and the driver error's `query`/`parameters` fields carry the statement and its data
 * (a rejected record, a tenant's settings), so only the code and the message of the coded cause are kept.
 */
export function dbErrorCause(error: unknown): DbErrorCause {
  try {
    for (const candidate of causes(error)) {
      if (typeof candidate.code === 'string' && /^[0-9A-Z_]{2,40}$/.test(candidate.code)) {
        const constraint = candidate.constraint_name ?? candidate.constraint;
        const message = typeof candidate.message === 'string' ? candidate.message : '';
        return {
          code: candidate.code,
          message: safeText(message.split('\n', 1)[0] ?? '', 300),
          constraint: typeof constraint === 'string' ? safeText(constraint, 100) : undefined,
        };
      }
    }
    const name = error instanceof Error && typeof error.name === 'string' ? error.name : typeof error;
    return { code: 'unknown', message: safeText(name, 100), constraint: undefined };
  } catch {
    return { code: 'unknown', message: 'unreadable error', constraint: undefined };
  }
}

interface ErrorLike {
  code?: unknown;
  message?: unknown;
  constraint?: unknown;
  constraint_name?: unknown;
  cause?: unknown;
}

/** The error and its causes, outermost first (at most 5: drizzle wraps the driver's error once). */
function* causes(error: unknown): Generator<ErrorLike> {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    yield current as ErrorLike;
    current = (current as ErrorLike).cause;
  }
}

// Codes of a lost or refused connection: Node's socket errors, postgres-js's own, and SQLSTATE
// class 08 (connection exception) and 57P01-57P03 (the server shutting down or not yet up).
const CONNECTION_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
  'CONNECTION_ENDED',
  'CONNECT_TIMEOUT',
  '57P01',
  '57P02',
  '57P03',
]);

/** Whether `error` (or one of its causes) is a lost or refused database connection: worth retrying. */
export function isConnectionError(error: unknown): boolean {
  for (const { code } of causes(error)) {
    if (typeof code === 'string' && (CONNECTION_CODES.has(code) || code.startsWith('08'))) return true;
  }
  return false;
}
