import type { SecurityHubImporter } from '@vsh/aws';
import type { PreparedFinding } from '@vsh/core';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { memoryState, memoryTenantStore, memoryVaikora } from '../test/memory-ports.ts';
import { type BackfillDeps, type BackfillJob, type BackfillStore, runBackfill } from './backfill.ts';
import { createWorkerMetrics } from './metrics.ts';
import { DEFAULT_RUN_OPTIONS } from './ports.ts';
import { testAction, testDestination, testTenant } from './tenant.test-support.ts';

// A backfill against in-memory fakes of every port: what it sends where, and what its row says.

const config = testTenant(
  [testDestination('dst_1', '111111111111'), testDestination('dst_2', '222222222222')],
  [
    { id: 'str_1', destinationId: 'dst_1', agentId: 'agt-1', region: 'us-east-1' },
    { id: 'str_2', destinationId: 'dst_2', agentId: 'agt-2', region: 'us-east-1' },
  ],
);
const action = testAction;

function memoryBackfills(overrides: Partial<BackfillStore> = {}) {
  const finished: Array<{ error: { code: string; message: string } | null }> = [];
  const store: BackfillStore = {
    claimBackfills: async () => [],
    loadClaimed: async () => null,
    requeue: async () => undefined,
    progress: async () => undefined,
    finish: async (_job, _progress, error) => {
      finished.push({ error });
    },
    recordRejections: async (_t, _b, rejections) => ({
      inserted: rejections.length,
      repeated: 0,
      failed: 0,
    }),
    ...overrides,
  };
  return { store, finished };
}

function setup(list: unknown[], backfills: BackfillStore) {
  // Findings each account received, by finding id.
  const received = new Map<string, string[]>();
  const deps: BackfillDeps = {
    store: memoryTenantStore(config).store,
    state: memoryState(),
    // A Vaikora that ignores the agent filter: every sweep lists every agent's actions.
    vaikora: () => memoryVaikora(() => list),
    importer: (route): SecurityHubImporter => ({
      destination: route.destination,
      importFindings: async (items: readonly PreparedFinding[]) => {
        const ids = received.get(route.destination.accountId) ?? [];
        ids.push(...items.map((p) => p.finding.Id));
        received.set(route.destination.accountId, ids);
        return {
          imported: items.map((p) => p.finding.Id),
          rejected: [],
          stats: { requests: 1, throttled: 0, transientErrors: 0, resentFindings: 0, rounds: 1 },
        };
      },
    }),
    clock: Date.now,
    logger: pino({ level: 'silent' }),
    metrics: createWorkerMetrics(),
    workerId: 'unit',
    options: DEFAULT_RUN_OPTIONS,
    backfills,
  };
  return { deps, received };
}

const now = Date.now();
const job: BackfillJob = {
  id: 'bf_1',
  tenantId: 'ten_1',
  destinationId: null,
  fromMs: now - 3_600_000,
  toMs: now,
  claim: 'unit#1',
};

describe('runBackfill (in-memory ports)', () => {
  it('sends an id listed twice in the range once (a re-stamped row the sweep yields again, ADR 0134)', async () => {
    const list = [
      action('x', 'agt-1', now - 50 * 60_000),
      action('a', 'agt-1', now - 40 * 60_000),
      action('x', 'agt-1', now - 30 * 60_000),
    ];
    const { deps, received } = setup(list, memoryBackfills().store);

    expect((await runBackfill(job, deps)).kind).toBe('done');
    expect(received.get('111111111111')?.sort()).toEqual(['vaikora-a', 'vaikora-x']);
  });

  it("sends an action naming another routed agent only to that agent's destination, never to the swept agent's", async () => {
    const list = [action('act-1', 'agt-1', now - 60_000), action('act-2', 'agt-2', now - 120_000)];
    const { deps, received } = setup(list, memoryBackfills().store);

    const result = await runBackfill(job, deps);

    expect(result.kind).toBe('done');
    expect(received.get('111111111111')).toEqual(['vaikora-act-1']);
    expect(received.get('222222222222')).toEqual(['vaikora-act-2']);
  });

  it('names an unexpected failure by its kind only: its text (SQL, parameters) never reaches the backfill row', async () => {
    const list = [action('act-1', 'agt-1', now - 60_000)];
    const backfills = memoryBackfills({
      progress: async () => {
        throw new Error('Failed query: update "backfills" set ... params: vk_live_secret');
      },
    });
    const { deps } = setup(list, backfills.store);

    const result = await runBackfill(job, deps);

    expect(result.kind === 'failed' && result.error.code).toBe('UNEXPECTED');
    expect(JSON.stringify(result)).not.toMatch(/Failed query|vk_live_secret/);
    expect(JSON.stringify(backfills.finished)).not.toMatch(/Failed query|vk_live_secret/);
  });
});
