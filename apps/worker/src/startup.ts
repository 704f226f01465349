import { setTimeout as sleep } from 'node:timers/promises';
import { CodedError } from '@vsh/core';
import { isConnectionError } from '@vsh/db';

/** A start-up migration attempt that neither finished nor failed in time (its connection was likely cut). */
export class MigrationTimeoutError extends CodedError<'MIGRATION_ATTEMPT_TIMEOUT'> {
  override name = 'MigrationAttemptTimeout';
}

export interface MigrateRetryOptions {
  /** Attempts in all (the first included). */
  readonly attempts: number;
  /** How long one attempt may take before it counts as cut and the next one starts. */
  readonly attemptTimeoutMs: number;
  /** Waits between attempts (default: backoff from 250 ms, doubling, at most 4 s). */
  readonly wait?: (attempt: number) => Promise<void>;
}

const backoff = (attempt: number) => sleep(Math.min(4000, 250 * 2 ** (attempt - 1)));

/**
 * Runs the start-up migration, retrying connection errors with backoff: the database may be restarting
 * or not up yet when a worker starts (a deploy, a failover). An attempt whose connection is cut
 * mid-query can also never settle (postgres-js drops the query's promise with the connection; ADR 0032):
 * with nothing else pending, the process would then end before it ever started. So each attempt has a
 * deadline, and a missed one counts as a connection error. A loop rather than a retry library: one call
 * site, and the decision is isConnectionError.
 */
export async function migrateWithRetry(
  migrate: () => Promise<void>,
  options: MigrateRetryOptions,
): Promise<void> {
  const wait = options.wait ?? backoff;
  for (let attempt = 1; ; attempt++) {
    const deadline = new AbortController();
    try {
      await Promise.race([
        migrate(),
        sleep(options.attemptTimeoutMs, undefined, { signal: deadline.signal }).then(() => {
          throw new MigrationTimeoutError(
            'MIGRATION_ATTEMPT_TIMEOUT',
            `the start-up migration did not finish within ${options.attemptTimeoutMs} ms (its connection was likely cut)`,
          );
        }),
      ]);
      return;
    } catch (err) {
      const retryable = isConnectionError(err) || err instanceof MigrationTimeoutError;
      if (!retryable || attempt >= options.attempts) throw err;
      await wait(attempt);
    } finally {
      deadline.abort();
    }
  }
}
