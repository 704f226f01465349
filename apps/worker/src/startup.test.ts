import { describe, expect, it } from 'vitest';
import { MigrationTimeoutError, migrateWithRetry, openMigrated } from './startup.ts';

const connectionError = () =>
  Object.assign(new Error('write CONNECTION_CLOSED'), { code: 'CONNECTION_CLOSED' });
const noWait = async () => undefined;

describe('migrateWithRetry', () => {
  it('retries a migration whose connection was cut and that never settles (it used to hang start-up)', async () => {
    let calls = 0;
    const migrate = () => {
      calls++;
      // The first attempt's connection is cut mid-query: postgres-js neither resolves nor rejects it.
      return calls === 1 ? new Promise<void>(() => undefined) : Promise.resolve();
    };
    await migrateWithRetry(migrate, { attempts: 3, attemptTimeoutMs: 20, wait: noWait });
    expect(calls).toBe(2);
  });

  it('retries connection errors and gives up after the last attempt with the last error', async () => {
    let calls = 0;
    const migrate = () => {
      calls++;
      return Promise.reject(connectionError());
    };
    await expect(
      migrateWithRetry(migrate, { attempts: 3, attemptTimeoutMs: 1000, wait: noWait }),
    ).rejects.toThrow('CONNECTION_CLOSED');
    expect(calls).toBe(3);
  });

  it('reports each attempt it retries, with its error, so a start-up that outlasted a cut says so in the log', async () => {
    let calls = 0;
    const migrate = () => {
      calls++;
      return calls < 3 ? Promise.reject(connectionError()) : Promise.resolve();
    };
    const retried: Array<{ attempt: number; code: unknown }> = [];
    await migrateWithRetry(migrate, {
      attempts: 5,
      attemptTimeoutMs: 1000,
      wait: noWait,
      onRetry: (err, attempt) => retried.push({ attempt, code: (err as { code?: unknown }).code }),
    });
    expect(retried).toEqual([
      { attempt: 1, code: 'CONNECTION_CLOSED' },
      { attempt: 2, code: 'CONNECTION_CLOSED' },
    ]);
  });

  it('does not report the attempt it gives up on (its error is thrown instead)', async () => {
    const retried: number[] = [];
    const failure = migrateWithRetry(() => Promise.reject(connectionError()), {
      attempts: 2,
      attemptTimeoutMs: 1000,
      wait: noWait,
      onRetry: (_err, attempt) => retried.push(attempt),
    });
    await expect(failure).rejects.toThrow('CONNECTION_CLOSED');
    expect(retried).toEqual([1]);
  });

  it('gives up at once on any other error', async () => {
    let calls = 0;
    const migrate = () => {
      calls++;
      return Promise.reject(new Error('relation "x" already exists'));
    };
    await expect(
      migrateWithRetry(migrate, { attempts: 5, attemptTimeoutMs: 1000, wait: noWait }),
    ).rejects.toThrow('already exists');
    expect(calls).toBe(1);
  });

  it('names a hang that outlasts every attempt', async () => {
    const migrate = () => new Promise<void>(() => undefined);
    const failure = migrateWithRetry(migrate, { attempts: 2, attemptTimeoutMs: 10, wait: noWait });
    await expect(failure).rejects.toBeInstanceOf(MigrationTimeoutError);
  });
});

describe('openMigrated', () => {
  /** Pools that record whether they were closed; the migration fails on those listed in `failOn`. */
  const pools = (failOn: readonly number[]) => {
    const opened: Array<{ id: number; closed: boolean; close(): Promise<void> }> = [];
    const open = async () => {
      const pool = {
        id: opened.length + 1,
        closed: false,
        async close() {
          pool.closed = true;
        },
      };
      opened.push(pool);
      return pool;
    };
    const migrate = async (pool: { id: number }) => {
      if (failOn.includes(pool.id)) throw connectionError();
    };
    return { opened, open, migrate };
  };

  it('migrates each retry on a fresh pool and closes the failed ones (a cut can leave a pool broken for good)', async () => {
    const { opened, open, migrate } = pools([1, 2]);
    const db = await openMigrated(open, migrate, { attempts: 5, attemptTimeoutMs: 1000, wait: noWait });
    expect(db.id).toBe(3);
    expect(opened.map((p) => [p.id, p.closed])).toEqual([
      [1, true],
      [2, true],
      [3, false],
    ]);
  });

  it('closes the last pool when it gives up, and throws the last error', async () => {
    const { opened, open, migrate } = pools([1, 2]);
    await expect(
      openMigrated(open, migrate, { attempts: 2, attemptTimeoutMs: 1000, wait: noWait }),
    ).rejects.toThrow('CONNECTION_CLOSED');
    expect(opened.map((p) => p.closed)).toEqual([true, true]);
  });
});
