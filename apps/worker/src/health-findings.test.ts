import {
  HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_KIND,
  type HealthCondition,
  healthFindingId,
  type PreparedFinding,
} from '@vsh/core';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import {
  type HealthObservation,
  type HealthReconcileInput,
  type HealthTarget,
  reconcileHealthFindings,
  reconcileIsIdle,
} from './health-findings.ts';
import type {
  FindingImporter,
  HealthStateStore,
  ImportOutcome,
  Lease,
  OpenHealthCondition,
} from './ports.ts';
import { testDestination } from './tenant.test-support.ts';

const log = pino({ level: 'silent' });
const lease: Lease = { tenantId: 'ten_1', owner: 'run', epoch: 1, expiresAtMs: Number.MAX_SAFE_INTEGER };
const NOW = Date.parse('2026-12-04T12:00:00.000Z');

/** A hub that records what it was sent; `refuse` makes every call fail as a whole. */
function hub(options: { refuse?: boolean } = {}) {
  const sent: PreparedFinding[] = [];
  const importer: FindingImporter = {
    async importFindings(findings): Promise<ImportOutcome> {
      if (options.refuse) throw new Error('Security Hub is not enabled');
      sent.push(...findings);
      return { imported: findings.map((f) => f.finding.Id), rejected: [], stats: { throttled: 0 } };
    },
  };
  return { sent, importer };
}

function memoryHealth(initial: readonly OpenHealthCondition[] = [], options: { failRead?: boolean } = {}) {
  let open = [...initial];
  let saves = 0;
  const store: HealthStateStore = {
    async getOpenHealth() {
      if (options.failRead) throw new Error('DynamoDB unavailable');
      return open;
    },
    async saveOpenHealth(_lease, next) {
      saves++;
      open = [...next];
    },
  };
  return { store, open: () => open, saves: () => saves };
}

const refused = (destinationId: string): HealthObservation => ({
  open: new Map([
    [destinationId, new Map<HealthCondition, string>([['vaikora_auth', 'VAIKORA_UNAUTHORIZED: 401']])],
  ]),
  judged: new Map([[destinationId, new Set<HealthCondition>(['vaikora_auth'])]]),
});
/** Vaikora answered: the key was taken and Vaikora was reached. */
const answered = (destinationId: string): HealthObservation => ({
  open: new Map(),
  judged: new Map([[destinationId, new Set<HealthCondition>(['vaikora_auth', 'vaikora_unreachable'])]]),
});
const unknown: HealthObservation = { open: new Map(), judged: new Map() };

function input(
  targets: readonly HealthTarget[],
  store: HealthStateStore,
  observation: HealthObservation,
  nowMs = NOW,
): HealthReconcileInput {
  return {
    tenantId: 'ten_1',
    lease,
    nowMs,
    targets,
    destinationIds: new Set(targets.map((t) => t.destination.id)),
    observation,
    store,
    log,
  };
}

describe('reconcileHealthFindings', () => {
  const dst = testDestination('dst_1', '123456789012');

  it('imports the finding into every region of the destination once, and not again while it holds', async () => {
    const east = hub();
    const west = hub();
    const targets = [
      { destination: dst, region: 'us-east-1', importer: east.importer },
      { destination: dst, region: 'eu-west-1', importer: west.importer },
    ];
    const state = memoryHealth();

    const first = await reconcileHealthFindings(input(targets, state.store, refused('dst_1')));
    const again = await reconcileHealthFindings(input(targets, state.store, refused('dst_1'), NOW + 60_000));

    expect(first).toEqual({ opened: 2, archived: 0, heartbeats: 0, failed: 0 });
    expect(again).toEqual({ opened: 0, archived: 0, heartbeats: 0, failed: 0 });
    expect(east.sent.map((p) => [p.finding.Region, p.finding.Id])).toEqual([
      ['us-east-1', healthFindingId('ten_1', 'dst_1', 'vaikora_auth')],
    ]);
    expect(west.sent.map((p) => p.finding.Region)).toEqual(['eu-west-1']);
    expect(state.open()).toHaveLength(2);
    expect(state.saves()).toBe(1);
  });

  it('archives with the opening time as CreatedAt when Vaikora answers, and leaves it open when the run could not tell', async () => {
    const target = hub();
    const targets = [{ destination: dst, region: 'us-east-1', importer: target.importer }];
    const openedAtMs = NOW - 3_600_000;
    const state = memoryHealth([
      { destinationId: 'dst_1', region: 'us-east-1', condition: 'vaikora_auth', openedAtMs, imported: true },
    ]);

    const undecided = await reconcileHealthFindings(input(targets, state.store, unknown));
    const cleared = await reconcileHealthFindings(input(targets, state.store, answered('dst_1')));

    expect(undecided).toEqual({ opened: 0, archived: 0, heartbeats: 0, failed: 0 });
    expect(cleared).toEqual({ opened: 0, archived: 1, heartbeats: 0, failed: 0 });
    expect(target.sent.map((p) => p.finding)).toMatchObject([
      {
        RecordState: 'ARCHIVED',
        CreatedAt: new Date(openedAtMs).toISOString(),
        UpdatedAt: new Date(NOW).toISOString(),
      },
    ]);
    expect(state.open()).toEqual([]);
  });

  it('keeps the condition as not imported when the hub refuses the import, so the next run tries again', async () => {
    const down = hub({ refuse: true });
    const up = hub();
    const state = memoryHealth();

    const failed = await reconcileHealthFindings(
      input(
        [{ destination: dst, region: 'us-east-1', importer: down.importer }],
        state.store,
        refused('dst_1'),
      ),
    );
    const retried = await reconcileHealthFindings(
      input(
        [{ destination: dst, region: 'us-east-1', importer: up.importer }],
        state.store,
        refused('dst_1'),
      ),
    );

    expect(failed).toEqual({ opened: 0, archived: 0, heartbeats: 0, failed: 1 });
    expect(retried).toEqual({ opened: 1, archived: 0, heartbeats: 0, failed: 0 });
    expect(state.open()).toMatchObject([{ condition: 'vaikora_auth', openedAtMs: NOW, imported: true }]);
    expect(up.sent[0]?.finding.CreatedAt).toBe(new Date(NOW).toISOString());
  });

  it('imports vaikora_unreachable only once it has held for its threshold, dated from when it began', async () => {
    const target = hub();
    const targets = [{ destination: dst, region: 'us-east-1', importer: target.importer }];
    const state = memoryHealth();
    const unreachable: HealthObservation = {
      open: new Map([
        ['dst_1', new Map<HealthCondition, string>([['vaikora_unreachable', 'VAIKORA_TIMEOUT']])],
      ]),
      judged: new Map([['dst_1', new Set<HealthCondition>(['vaikora_unreachable'])]]),
    };
    const at = (nowMs: number) => ({
      ...input(targets, state.store, unreachable, nowMs),
      thresholdsMs: { vaikora_unreachable: 60 * 60_000 },
    });

    const early = await reconcileHealthFindings(at(NOW));
    const stillEarly = await reconcileHealthFindings(at(NOW + 30 * 60_000));
    const due = await reconcileHealthFindings(at(NOW + 60 * 60_000));

    expect([early.opened, stillEarly.opened, due.opened]).toEqual([0, 0, 1]);
    expect(target.sent.map((p) => p.finding)).toMatchObject([
      {
        Id: healthFindingId('ten_1', 'dst_1', 'vaikora_unreachable'),
        RecordState: 'ACTIVE',
        CreatedAt: new Date(NOW).toISOString(),
      },
    ]);
  });

  it('forgets a condition that cleared before its threshold without importing anything', async () => {
    const target = hub();
    const targets = [{ destination: dst, region: 'us-east-1', importer: target.importer }];
    const state = memoryHealth();
    const unreachable: HealthObservation = {
      open: new Map([
        ['dst_1', new Map<HealthCondition, string>([['vaikora_unreachable', 'VAIKORA_NETWORK']])],
      ]),
      judged: new Map([['dst_1', new Set<HealthCondition>(['vaikora_unreachable'])]]),
    };
    const thresholdsMs = { vaikora_unreachable: 60 * 60_000 };

    await reconcileHealthFindings({ ...input(targets, state.store, unreachable), thresholdsMs });
    const cleared = await reconcileHealthFindings({
      ...input(targets, state.store, answered('dst_1'), NOW + 5 * 60_000),
      thresholdsMs,
    });

    expect(cleared).toEqual({ opened: 0, archived: 0, heartbeats: 0, failed: 0 });
    expect(target.sent).toEqual([]);
    expect(state.open()).toEqual([]);
  });

  it('imports nothing when the stored state cannot be read (no duplicate storm while DynamoDB is down)', async () => {
    const target = hub();
    const state = memoryHealth([], { failRead: true });

    const report = await reconcileHealthFindings(
      input(
        [{ destination: dst, region: 'us-east-1', importer: target.importer }],
        state.store,
        refused('dst_1'),
      ),
    );

    expect(report).toEqual({ opened: 0, archived: 0, heartbeats: 0, failed: 0 });
    expect(target.sent).toEqual([]);
  });

  it('forgets the open conditions of a destination the tenant no longer has', async () => {
    const state = memoryHealth([
      {
        destinationId: 'dst_gone',
        region: 'us-east-1',
        condition: 'vaikora_auth',
        openedAtMs: NOW - 1,
        imported: true,
      },
    ]);

    await reconcileHealthFindings(input([], state.store, unknown));

    expect(state.open()).toEqual([]);
  });
});

describe('reconcileHealthFindings: the heartbeat (ADR 0118)', () => {
  const dst = testDestination('dst_1', '123456789012');
  const other = testDestination('dst_2', '210987654321');
  const heartbeatId = healthFindingId('ten_1', 'dst_1', 'heartbeat');
  const withHeartbeat = (base: HealthReconcileInput, on: readonly string[]): HealthReconcileInput => ({
    ...base,
    heartbeat: new Set(on),
  });

  it('never sends a heartbeat to a destination that has not turned it on', async () => {
    const east = hub();
    const health = memoryHealth();
    const targets = [{ destination: dst, region: 'us-east-1', importer: east.importer }];

    for (const step of [0, 1, 2, 3]) {
      await reconcileHealthFindings(
        input(targets, health.store, answered('dst_1'), NOW + step * HEARTBEAT_INTERVAL_MS),
      );
    }

    expect(east.sent).toEqual([]);
    expect(health.saves()).toBe(0);
  });

  it('sends one heartbeat per hub, none again within the interval, and a fresh one once it is an interval old', async () => {
    const east = hub();
    const west = hub();
    const elsewhere = hub();
    const health = memoryHealth();
    const targets = [
      { destination: dst, region: 'us-east-1', importer: east.importer },
      { destination: dst, region: 'eu-west-1', importer: west.importer },
      { destination: other, region: 'us-east-1', importer: elsewhere.importer },
    ];
    const run = (nowMs: number) =>
      reconcileHealthFindings(
        withHeartbeat(input(targets, health.store, answered('dst_1'), nowMs), ['dst_1']),
      );

    const first = await run(NOW);
    const soon = await run(NOW + 5 * 60_000);
    const almost = await run(NOW + HEARTBEAT_INTERVAL_MS - 1);
    const due = await run(NOW + HEARTBEAT_INTERVAL_MS);

    expect([first, soon, almost, due].map((r) => r.heartbeats)).toEqual([2, 0, 0, 2]);
    expect(east.sent.map((p) => p.finding.Id)).toEqual([heartbeatId, heartbeatId]);
    expect(west.sent.map((p) => p.finding.Region)).toEqual(['eu-west-1', 'eu-west-1']);
    expect(elsewhere.sent).toEqual([]);
    const [opened, again] = east.sent.map((p) => p.finding);
    expect(opened).toMatchObject({ RecordState: 'ACTIVE', CreatedAt: new Date(NOW).toISOString() });
    expect(again).toMatchObject({
      CreatedAt: new Date(NOW).toISOString(),
      UpdatedAt: new Date(NOW + HEARTBEAT_INTERVAL_MS).toISOString(),
    });
  });

  it('tries a heartbeat Security Hub did not take again on the next run', async () => {
    const refusing = hub({ refuse: true });
    const east = hub();
    const health = memoryHealth();
    const at = (importer: FindingImporter) => [{ destination: dst, region: 'us-east-1', importer }];

    const failed = await reconcileHealthFindings(
      withHeartbeat(input(at(refusing.importer), health.store, unknown), ['dst_1']),
    );
    const retried = await reconcileHealthFindings(
      withHeartbeat(input(at(east.importer), health.store, unknown, NOW + 60_000), ['dst_1']),
    );

    expect(failed).toMatchObject({ heartbeats: 0, failed: 1 });
    expect(retried).toMatchObject({ heartbeats: 1, failed: 0 });
    expect(east.sent.map((p) => p.finding.Id)).toEqual([heartbeatId]);
  });

  it('archives the heartbeat once when it is turned off, then sends nothing', async () => {
    const east = hub();
    const health = memoryHealth();
    const targets = [{ destination: dst, region: 'us-east-1', importer: east.importer }];
    await reconcileHealthFindings(withHeartbeat(input(targets, health.store, unknown), ['dst_1']));

    await reconcileHealthFindings(input(targets, health.store, unknown, NOW + 60_000));
    await reconcileHealthFindings(input(targets, health.store, unknown, NOW + 2 * HEARTBEAT_INTERVAL_MS));

    expect(east.sent.map((p) => String(p.finding.RecordState))).toEqual(['ACTIVE', 'ARCHIVED']);
    expect(health.open()).toEqual([]);
  });

  it('keeps the heartbeat apart from the conditions of the same hub', async () => {
    const east = hub();
    const health = memoryHealth();
    const targets = [{ destination: dst, region: 'us-east-1', importer: east.importer }];

    await reconcileHealthFindings(withHeartbeat(input(targets, health.store, refused('dst_1')), ['dst_1']));
    await reconcileHealthFindings(
      withHeartbeat(input(targets, health.store, answered('dst_1'), NOW + 60_000), ['dst_1']),
    );

    expect(east.sent.map((p) => [p.finding.Id, String(p.finding.RecordState)])).toEqual([
      [healthFindingId('ten_1', 'dst_1', 'vaikora_auth'), 'ACTIVE'],
      [heartbeatId, 'ACTIVE'],
      [healthFindingId('ten_1', 'dst_1', 'vaikora_auth'), 'ARCHIVED'],
    ]);
    expect(health.open()).toEqual([
      expect.objectContaining({ condition: 'heartbeat', sentAtMs: NOW, openedAtMs: NOW }),
    ]);
  });
});

describe('reconcileIsIdle', () => {
  const dst = testDestination('dst_1', '123456789012');
  const openEntry: OpenHealthCondition = {
    destinationId: 'dst_1',
    region: 'us-east-1',
    condition: 'vaikora_auth',
    openedAtMs: NOW - 60_000,
    imported: true,
  };
  const heartbeatEntry: OpenHealthCondition = {
    destinationId: 'dst_1',
    region: 'us-east-1',
    condition: HEARTBEAT_KIND,
    openedAtMs: NOW - 2 * HEARTBEAT_INTERVAL_MS,
    imported: true,
    sentAtMs: NOW - 2 * HEARTBEAT_INTERVAL_MS,
  };
  const storedCases: Array<[string, readonly OpenHealthCondition[] | undefined]> = [
    ['not read with the cursors', undefined],
    ['none open', []],
    ['one open', [openEntry]],
    ['a heartbeat kept', [heartbeatEntry]],
  ];
  const observations: Array<[string, HealthObservation]> = [
    ['nothing judged', unknown],
    ['Vaikora answered', answered('dst_1')],
    ['the key refused', refused('dst_1')],
  ];
  const heartbeats: Array<[string, ReadonlySet<string> | undefined]> = [
    ['no heartbeat set', undefined],
    ['heartbeat off', new Set()],
    ['heartbeat on', new Set(['dst_1'])],
  ];
  const cases = storedCases.flatMap(([s, stored]) =>
    observations.flatMap(([o, observation]) =>
      heartbeats.map(([h, heartbeat]) => ({ name: `${s}, ${o}, ${h}`, stored, observation, heartbeat })),
    ),
  );

  it.each(cases)('says idle only when reconciling makes no call: $name', async (c) => {
    const target = hub();
    const state = memoryHealth(c.stored ?? []);
    let reads = 0;
    const store: HealthStateStore = {
      getOpenHealth: (tenantId) => {
        reads++;
        return state.store.getOpenHealth(tenantId);
      },
      saveOpenHealth: (l, next) => state.store.saveOpenHealth(l, next),
    };

    await reconcileHealthFindings({
      ...input([{ destination: dst, region: 'us-east-1', importer: target.importer }], store, c.observation),
      stored: c.stored,
      heartbeat: c.heartbeat,
    });
    const calls = reads + state.saves() + target.sent.length;

    const idle = reconcileIsIdle(c);
    if (idle) expect(calls).toBe(0);
    // Idle exactly when nothing was stored open, nothing is seen open and no heartbeat is on.
    expect(idle).toBe(
      c.stored?.length === 0 && c.observation.open.size === 0 && (c.heartbeat?.size ?? 0) === 0,
    );
  });
});
