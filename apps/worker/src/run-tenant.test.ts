import { getEventListeners } from 'node:events';
import type { Lease, StateStore } from '@vsh/aws';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createWorkerMetrics } from './metrics.ts';
import { DEFAULT_RUN_OPTIONS, type RunDeps, type TenantStore } from './ports.ts';
import { type RunOutcome, runStatus, runTenant } from './run-tenant.ts';

function depsWithFreeLeases(): RunDeps {
  let epoch = 0;
  const state: Pick<StateStore, 'acquireLease' | 'releaseLease' | 'renewLease'> = {
    acquireLease: async (tenantId, owner, ttlMs): Promise<Lease> => ({
      tenantId,
      owner,
      epoch: ++epoch,
      expiresAtMs: Date.now() + ttlMs,
    }),
    renewLease: async (lease) => lease,
    releaseLease: async () => true,
  };
  const store: Pick<TenantStore, 'loadTenant'> = { loadTenant: async () => null };
  return {
    state: state as StateStore,
    store: store as TenantStore,
    vaikora: () => {
      throw new Error('not used');
    },
    importer: () => {
      throw new Error('not used');
    },
    clock: Date.now,
    logger: pino({ level: 'silent' }),
    metrics: createWorkerMetrics(),
    workerId: 'unit',
    options: DEFAULT_RUN_OPTIONS,
  };
}

describe('runTenant', () => {
  it('leaves no listener on the shutdown signal it shares with every other run of the process', async () => {
    const deps = depsWithFreeLeases();
    const shutdown = new AbortController();

    for (let i = 0; i < 25; i++) await runTenant(`ten_${i}`, deps, shutdown.signal);

    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
  });
});

describe('runStatus', () => {
  const run = (over: Partial<RunOutcome>): RunOutcome => ({
    error: false,
    incomplete: false,
    actionsRead: 10,
    findingsImported: 4,
    destinations: new Set(['d1', 'd2']),
    failedDestinations: new Set(),
    ...over,
  });

  it.each<[string, Partial<RunOutcome>, 'ok' | 'partial' | 'failed']>([
    ['finished without an error', {}, 'ok'],
    ['finished with nothing to do', { actionsRead: 0, findingsImported: 0 }, 'ok'],
    [
      'one of two destinations failed, the other received findings',
      { error: true, failedDestinations: new Set(['d1']) },
      'partial',
    ],
    [
      'one of two failed, the other had nothing to receive',
      { error: true, findingsImported: 0, failedDestinations: new Set(['d1']) },
      'partial',
    ],
    [
      'every destination failed after actions were read',
      { error: true, findingsImported: 0, failedDestinations: new Set(['d1', 'd2']) },
      'failed',
    ],
    ['Vaikora refused the key: nothing read', { error: true, actionsRead: 0, findingsImported: 0 }, 'failed'],
    [
      'no runnable destination',
      { error: true, actionsRead: 0, findingsImported: 0, destinations: new Set() },
      'failed',
    ],
    ['stopped by shutdown after some findings', { incomplete: true }, 'partial'],
    ['stopped by shutdown before anything was sent', { incomplete: true, findingsImported: 0 }, 'partial'],
    ['a page could not be read after findings were sent', { error: true, incomplete: true }, 'partial'],
  ])('%s', (_name, over, expected) => {
    expect(runStatus(run(over))).toBe(expected);
  });
});
