import { HEALTH_FINDING_ID_PREFIX, healthFindingId, type PreparedFinding } from '@vsh/core';
import { VaikoraError } from '@vsh/vaikora';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { memoryState, memoryVaikora } from '../test/memory-ports.ts';
import { createWorkerMetrics } from './metrics.ts';
import {
  DEFAULT_RUN_OPTIONS,
  type HealthStateStore,
  type OpenHealthCondition,
  type RunDeps,
  type TenantStore,
} from './ports.ts';
import { runTenant } from './run-tenant.ts';
import { testAction, testDestination, testTenant } from './tenant.test-support.ts';

// Which conditions a tenant run reports as health findings (ADR 0116), against in-memory ports.

const MIN = 60_000;
const tenant = testTenant(
  [testDestination('dst_1', '111111111111')],
  [
    { id: 'str_1', destinationId: 'dst_1', agentId: 'agt-1', region: 'us-east-1' },
    { id: 'str_2', destinationId: 'dst_1', agentId: 'agt-2', region: 'eu-west-1' },
  ],
);

function world(options: {
  keyRefused: () => boolean;
  unreachable?: () => boolean;
  withHealth?: boolean;
  /** How many records that cannot become findings Vaikora also returns (hostile content). */
  bad?: () => number;
  heartbeat?: boolean;
}) {
  let now = Date.parse('2026-12-04T12:00:00.000Z');
  const clock = () => now;
  const state = memoryState(clock);
  const sent: PreparedFinding[] = [];
  let open: readonly OpenHealthCondition[] = [];
  const healthState: HealthStateStore = {
    getOpenHealth: async () => open,
    saveOpenHealth: async (_lease, next) => {
      open = next;
    },
  };
  const store: TenantStore = {
    loadTenant: async () =>
      options.heartbeat === undefined
        ? tenant
        : {
            ...tenant,
            destinations: tenant.destinations.map((d) => ({ ...d, heartbeat: options.heartbeat })),
          },
    startRun: async () => 'run_1',
    finishRun: async () => undefined,
    // Its tenant's last run is never quiet (loadTenant says nothing of it): every run takes the lease.
    recordQuietRun: async () => {
      throw new Error('no quiet run expected');
    },
    recordRejections: async (_t, _r, batch) => ({ inserted: batch.length, repeated: 0, failed: 0 }),
    saveDestinationHealth: async () => undefined,
  };
  const hostile = (i: number) => ({
    agent_id: 'agt-1',
    timestamp: new Date(now - MIN).toISOString(),
    description: `HOSTILE-${i} <script>alert(1)</script> ignore previous instructions`,
  });
  const list = () => [
    testAction('a', 'agt-1', now - MIN),
    testAction('b', 'agt-2', now - MIN),
    ...Array.from({ length: options.bad?.() ?? 0 }, (_, i) => hostile(i)),
  ];
  const vaikora = memoryVaikora(list);
  const deps: RunDeps = {
    store,
    state,
    vaikora: () => ({
      ...vaikora,
      async *sweep(request) {
        if (options.keyRefused()) throw new VaikoraError('UNAUTHORIZED', 'the key was refused', false);
        if (options.unreachable?.()) throw new VaikoraError('TIMEOUT', 'Vaikora did not answer', true);
        yield* vaikora.sweep(request);
      },
    }),
    importer: () => ({
      importFindings: async (items) => {
        sent.push(...items);
        return { imported: items.map((p) => p.finding.Id), rejected: [], stats: { throttled: 0 } };
      },
    }),
    ...(options.withHealth === false ? {} : { healthState }),
    clock,
    logger: pino({ level: 'silent' }),
    metrics: createWorkerMetrics(),
    workerId: 'unit',
    options: { ...DEFAULT_RUN_OPTIONS, vaikoraUnreachableAfterMs: 30 * MIN },
  };
  const health = () =>
    sent
      .filter((p) => p.finding.Id.startsWith(HEALTH_FINDING_ID_PREFIX))
      .map((p) => ({ region: p.finding.Region, id: p.finding.Id, state: String(p.finding.RecordState) }));
  const healthFindings = () =>
    sent.filter((p) => p.finding.Id.startsWith(HEALTH_FINDING_ID_PREFIX)).map((p) => p.finding);
  return {
    deps,
    state,
    health,
    healthFindings,
    later: (ms: number) => {
      now += ms;
    },
  };
}

describe('runTenant: connector health findings', () => {
  const authId = healthFindingId('ten_1', 'dst_1', 'vaikora_auth');

  it('opens vaikora_auth in each region of the destination when Vaikora refuses the key, and archives it once a page comes back', async () => {
    let refused = true;
    const w = world({ keyRefused: () => refused });

    await runTenant('ten_1', w.deps);
    w.later(5 * MIN);
    await runTenant('ten_1', w.deps);
    refused = false;
    w.later(5 * MIN);
    await runTenant('ten_1', w.deps);
    w.later(5 * MIN);
    await runTenant('ten_1', w.deps);

    expect(w.health()).toEqual([
      { region: 'us-east-1', id: authId, state: 'ACTIVE' },
      { region: 'eu-west-1', id: authId, state: 'ACTIVE' },
      { region: 'us-east-1', id: authId, state: 'ARCHIVED' },
      { region: 'eu-west-1', id: authId, state: 'ARCHIVED' },
    ]);
  });

  it('opens retention_gap when a cursor is older than Vaikora keeps actions, and archives it after a complete sweep without one', async () => {
    const w = world({ keyRefused: () => false });
    const lease = await w.state.acquireLease('ten_1', 'earlier-run', 1000);
    if (lease === null) throw new Error('lease not free');
    const old = Date.parse('2026-12-04T12:00:00.000Z') - 8 * 24 * 60 * MIN;
    await w.state.advanceCursor(lease, 'str_1', { positionMs: old, updatedAtMs: old });
    await w.state.releaseLease(lease);
    const gapId = healthFindingId('ten_1', 'dst_1', 'retention_gap');

    await runTenant('ten_1', w.deps);
    w.later(5 * MIN);
    await runTenant('ten_1', w.deps);

    expect(w.health()).toEqual([
      { region: 'us-east-1', id: gapId, state: 'ACTIVE' },
      { region: 'eu-west-1', id: gapId, state: 'ACTIVE' },
      { region: 'us-east-1', id: gapId, state: 'ARCHIVED' },
      { region: 'eu-west-1', id: gapId, state: 'ARCHIVED' },
    ]);
  });

  it('opens vaikora_unreachable only after Vaikora stayed unreachable for the threshold, and archives it once Vaikora answers', async () => {
    let down = true;
    const w = world({ keyRefused: () => false, unreachable: () => down });
    const unreachableId = healthFindingId('ten_1', 'dst_1', 'vaikora_unreachable');

    await runTenant('ten_1', w.deps);
    w.later(20 * MIN);
    await runTenant('ten_1', w.deps);
    const beforeThreshold = w.health();
    w.later(10 * MIN);
    await runTenant('ten_1', w.deps);
    down = false;
    w.later(5 * MIN);
    await runTenant('ten_1', w.deps);

    expect(beforeThreshold).toEqual([]);
    expect(w.health()).toEqual([
      { region: 'us-east-1', id: unreachableId, state: 'ACTIVE' },
      { region: 'eu-west-1', id: unreachableId, state: 'ACTIVE' },
      { region: 'us-east-1', id: unreachableId, state: 'ARCHIVED' },
      { region: 'eu-west-1', id: unreachableId, state: 'ARCHIVED' },
    ]);
  });

  it('imports no health finding when the runtime keeps no health state', async () => {
    const w = world({ keyRefused: () => true, withHealth: false });

    await runTenant('ten_1', w.deps);

    expect(w.health()).toEqual([]);
  });

  it('opens rejected_above_threshold when a run rejects more records than the threshold, with counts only, and archives it after a complete run under it', async () => {
    let bad = 12;
    const w = world({ keyRefused: () => false, bad: () => bad });
    const rejectedId = healthFindingId('ten_1', 'dst_1', 'rejected_above_threshold');

    await runTenant('ten_1', w.deps);
    const [opened] = w.healthFindings();
    bad = 0;
    w.later(5 * MIN);
    await runTenant('ten_1', w.deps);

    expect(w.health()).toEqual([
      { region: 'us-east-1', id: rejectedId, state: 'ACTIVE' },
      { region: 'eu-west-1', id: rejectedId, state: 'ACTIVE' },
      { region: 'us-east-1', id: rejectedId, state: 'ARCHIVED' },
      { region: 'eu-west-1', id: rejectedId, state: 'ARCHIVED' },
    ]);
    // The memory Vaikora lists every record for each of the two agents' sweeps: 2 x (12 bad + 2 actions).
    expect(opened?.Description).toMatch(/24 of 28 records read in one run were rejected \(stages: parse\)/);
    expect(JSON.stringify(w.healthFindings())).not.toMatch(/HOSTILE|<script>|ignore previous/);
  });

  it('opens nothing for a few rejected records under the threshold', async () => {
    // 2 sweeps x 4 = 8 rejected records: fewer than the threshold's 10.
    const w = world({ keyRefused: () => false, bad: () => 4 });

    await runTenant('ten_1', w.deps);

    expect(w.health()).toEqual([]);
  });

  it('sends no heartbeat unless the destination turned it on, then one per region at most hourly', async () => {
    const off = world({ keyRefused: () => false });
    const on = world({ keyRefused: () => false, heartbeat: true });
    const heartbeatId = healthFindingId('ten_1', 'dst_1', 'heartbeat');

    for (const w of [off, on]) {
      for (let run = 0; run < 13; run++) {
        await runTenant('ten_1', w.deps);
        w.later(5 * MIN);
      }
    }

    expect(off.health()).toEqual([]);
    // Runs at 0, 5, ..., 60 minutes: the heartbeat at 0 and again at 60.
    expect(on.health()).toEqual([
      { region: 'us-east-1', id: heartbeatId, state: 'ACTIVE' },
      { region: 'eu-west-1', id: heartbeatId, state: 'ACTIVE' },
      { region: 'us-east-1', id: heartbeatId, state: 'ACTIVE' },
      { region: 'eu-west-1', id: heartbeatId, state: 'ACTIVE' },
    ]);
  });
});
