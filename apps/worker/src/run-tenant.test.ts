import { getEventListeners } from 'node:events';
import type { Lease, StateStore } from '@vsh/aws';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createWorkerMetrics } from './metrics.ts';
import { DEFAULT_RUN_OPTIONS, type RunDeps, type TenantStore } from './ports.ts';
import { runTenant } from './run-tenant.ts';

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
