import { describe, expect, it } from 'vitest';
import { MigrationTimeoutError, migrateWithRetry } from './startup.ts';

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
