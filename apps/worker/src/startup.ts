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
  /**
   * Told of each failed attempt that will be retried (not of the last, whose error is thrown): a worker
   * that started after a cut would otherwise leave no trace of it in its log.
   */
  readonly onRetry?: (err: unknown, attempt: number) => void;
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
      options.onRetry?.(err, attempt);
      await wait(attempt);
    } finally {
      deadline.abort();
    }
  }
}

/** A database connection pool as start-up needs it: something to migrate, and a way to close it. */
export interface ClosableDb {
  close(): Promise<void>;
}

/**
 * Opens a pool and migrates with `migrateWithRetry`, on a fresh pool for every attempt. A pool whose
 * connections were cut can stay broken: postgres-js 3.4.9 puts a reserved connection (the migration
 * lock's) that closed while idle back among its open ones when it is released, and every later query on
 * it fails at once with CONNECTION_CLOSED, so every retry on that pool failed the same way
 * (startup-cuts.int.test.ts, a database restart during the migration). A failed attempt's pool is closed
 * in the background: its close can wait out the driver's end timeout (porsager/postgres#1130).
 */
export async function openMigrated<Db extends ClosableDb>(
  open: () => Promise<Db>,
  migrate: (db: Db) => Promise<void>,
  options: MigrateRetryOptions,
): Promise<Db> {
  let current: Db | undefined;
  let attempts = 0;
  const retire = (db: Db) => void db.close().catch(() => undefined);
  try {
    await migrateWithRetry(async () => {
      const attempt = ++attempts;
      if (current !== undefined) retire(current);
      current = undefined;
      const db = await open();
      // An attempt that missed its deadline and opened late: a later attempt owns the pool now.
      if (attempt !== attempts) {
        retire(db);
        return;
      }
      current = db;
      await migrate(db);
    }, options);
  } catch (err) {
    if (current !== undefined) await current.close().catch(() => undefined);
    throw err;
  }
  if (current === undefined) throw new Error('openMigrated: no pool after a successful migration');
  return current;
}
