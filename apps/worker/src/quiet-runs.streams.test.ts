import type { VaikoraClient } from '@vsh/vaikora';
import { describe, expect, it } from 'vitest';
import { countingImporter, testRunDeps } from '../test/counting-hub.ts';
import { memoryState, memoryTenantStore, memoryVaikora } from '../test/memory-ports.ts';
import type { StreamConfig, TenantConfig } from './ports.ts';
import { runTenant } from './run-tenant.ts';
import { testAction, testDestination, testTenant } from './tenant.test-support.ts';

// ADR 0137 (found by a review of its first version): a stream disabled and enabled again (syncStreams keeps its id and
// its cursor) is missing from the snapshot a quiet run took while it was disabled. The next quiet runs
// treat it as a new stream (window: the 24 h lookback) although its cursor is days old: what the agent
// did between its cursor and 24 h ago is not seen until the snapshot is an hour old. Under ADR 0136
// (one GetItem per quiet run) the first run after the stream came back read its cursor and imported.

const CYCLE_MS = 5 * 60_000;
const S1: StreamConfig = { id: 'str_1', destinationId: 'dst_1', agentId: 'agt-1', region: 'us-east-1' };
const S2: StreamConfig = { id: 'str_2', destinationId: 'dst_1', agentId: 'agt-2', region: 'us-east-1' };

describe('a stream enabled again after a quiet run kept the state without it', () => {
  it('is imported by the first run after it is enabled again (as under ADR 0136)', async () => {
    const T0 = Date.parse('2026-12-05T10:00:00Z');
    let now = T0;
    const clock = () => now;
    let secondEnabled = true;
    const base = testTenant([testDestination('dst_1', '123456789012')], [S1, S2]);
    // What the API's syncStreams does: the stream row is disabled, then enabled again with its id.
    const config = {
      ...base,
      get streams() {
        return secondEnabled ? [S1, S2] : [S1];
      },
    } as TenantConfig;
    const list: ReturnType<typeof testAction>[] = [];
    const state = memoryState(clock);
    const tenant = memoryTenantStore(config);
    const { importer, imports } = countingImporter();
    // Vaikora lists one agent's actions per sweep, newest first.
    const perAgent = (agentId: string) =>
      memoryVaikora(() =>
        list.filter((a) => a.agent_id === agentId).sort((a, b) => b.timestamp.localeCompare(a.timestamp)),
      );
    const vaikora = {
      ...memoryVaikora(() => list),
      sweep: (request: Parameters<VaikoraClient['sweep']>[0]) =>
        perAgent(request.agentId ?? '').sweep(request),
    } as VaikoraClient;
    const deps = testRunDeps({
      sleep: async () => undefined,
      store: tenant.store,
      state,
      vaikora: () => vaikora,
      importer: () => importer,
      clock,
    });
    const run = () => runTenant('ten_1', deps, undefined, tenant.hint);

    list.push(testAction('a-1', 'agt-1', T0 - 200_000), testAction('b-1', 'agt-2', T0 - 200_000));
    await run(); // imports both
    now += CYCLE_MS;
    await run(); // idle, under the lease: quiet, keeps a snapshot of both cursors
    expect(tenant.stateSnapshot?.cursors).toHaveProperty('str_2');

    // The destination stops routing agt-2 (str_2 disabled); agt-2 goes on acting meanwhile.
    secondEnabled = false;
    list.push(testAction('b-2', 'agt-2', T0 + 90 * 60_000));
    // Two days of quiet runs later (one every 5 minutes; one an hour reads the store again).
    for (now = T0 + 2 * CYCLE_MS; now < T0 + 2 * 24 * 3_600_000; now += CYCLE_MS) await run();
    // Up to the run that read the store again (its snapshot is fresh): str_2 is enabled again just after.
    while (tenant.stateSnapshot?.readAtMs !== now) {
      now += CYCLE_MS;
      await run();
    }
    expect(tenant.stateSnapshot?.cursors).not.toHaveProperty('str_2');
    expect((await state.getCursor('ten_1', 'str_2'))?.positionMs).toBe(T0 - 200_000);

    // agt-2 is routed again: str_2 enabled again, with its cursor of two days ago.
    secondEnabled = true;
    let runs = 0;
    while (imports.get('vaikora-b-2') === undefined && runs < 30) {
      now += CYCLE_MS;
      await run();
      runs++;
    }
    // The first version kept no entry for a stream it did not sweep: 12 runs (the snapshot's hour), not 1.
    expect(imports.get('vaikora-b-2')).toBe(1);
    expect(runs).toBe(1);
  });
});
