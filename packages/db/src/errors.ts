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

interface ErrorLike {
  code?: unknown;
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
