import { describe, expect, it } from 'vitest';
import { countingHub, testRunDeps } from '../test/counting-hub.ts';
import { memoryState, memoryTenantStore, memoryVaikora } from '../test/memory-ports.ts';
import { stuckKey } from './cursor.ts';
import type { TenantConfig } from './ports.ts';
import { type RunResult, runTenant } from './run-tenant.ts';
import { testAction, testDestination, testTenant } from './tenant.test-support.ts';

// ADR 0133: a finding Security Hub refuses with a passing error on every send is given up on after 6
// runs over an hour in which its stream's hub took others; a hub refusing everything gives up on none.
// The real run, cursor and importer code over in-memory ports, runs every 5 minutes, and a fake Security
// Hub per region that counts what it stored per id. The first test and those of the review (R1-R3)
// failed on the code before their fix.

const NOW = Date.parse('2026-12-01T12:00:00.000Z');
const MIN = 60_000;
const RUN = 5 * MIN;

const oneStream = testTenant(
  [testDestination('dst_1', '111111111111')],
  [{ id: 'str_1', destinationId: 'dst_1', agentId: 'agt-1', region: 'us-east-1' }],
);

/** Runs every 5 minutes from NOW; each run's Vaikora list first gains `perRun` actions stamped a minute before it. */
function everyFiveMinutes(
  hubs: Record<string, ReturnType<typeof countingHub>>,
  first: readonly unknown[],
  perRun: number,
  tenant: TenantConfig = oneStream,
  list: {
    /** The list is oldest first: new actions go to its end. */
    readonly oldestFirst?: boolean;
    /** The agent of the new actions; default agt-1. */
    readonly agent?: string;
    /** Vaikora honours the agent filter (memoryVaikora alone ignores it). */
    readonly filtered?: boolean;
  } = {},
) {
  let now = NOW - RUN;
  const actions: unknown[] = [...first];
  const state = memoryState(() => now);
  const tenantStore = memoryTenantStore(tenant);
  let runs = 0;
  const next = async () => {
    now += RUN;
    runs++;
    for (let i = 0; i < perRun; i++) {
      const action = testAction(`new-${runs}-${i}`, list.agent ?? 'agt-1', now - MIN + i);
      if (list.oldestFirst) actions.push(action);
      else actions.unshift(action);
    }
    const result: RunResult = await runTenant(
      'ten_1',
      testRunDeps({
        store: tenantStore.store,
        state,
        vaikora: () => {
          const all = memoryVaikora(() => actions);
          if (!list.filtered) return all;
          const mine = (agentId?: string) =>
            actions.filter((a) => (a as { agent_id?: string }).agent_id === agentId);
          return { ...all, sweep: (o) => memoryVaikora(() => mine(o.agentId)).sweep(o) };
        },
        importer: (route) => {
          const h = hubs[route.destination.region];
          if (h === undefined) throw new Error(`no hub in ${route.destination.region}`);
          return h.importer;
        },
        clock: () => now,
      }),
    );
    if (result.kind !== 'ran') throw new Error(result.kind);
    return result.summary;
  };
  const times = async (n: number) => {
    for (let r = 0; r < n; r++) await next();
  };
  return {
    next,
    times,
    cursor: (streamId = 'str_1') => state.getCursor('ten_1', streamId),
    givenUp: () => tenantStore.kept.map((r) => r.rejection.actionId).sort(),
    kept: tenantStore.kept,
    get run() {
      return runs;
    },
  };
}

describe('a finding Security Hub refuses with a passing error on every send (ADR 0133)', () => {
  it('is kept as rejected, with its reason, once refused for an hour of runs while its neighbours were taken; the stream moves on', async () => {
    const h = countingHub();
    h.refuse((ids) => ids.filter((id) => id === 'vaikora-poison'));
    const runs = everyFiveMinutes({ 'us-east-1': h }, [testAction('poison', 'agt-1', NOW - 2 * MIN)], 5);
    await runs.times(24);

    expect(h.stored.size).toBe(24 * 5);
    expect(h.duplicates()).toBe(0);
    expect(runs.kept.map((r) => r.rejection)).toEqual([
      expect.objectContaining({
        actionId: 'poison',
        code: 'IMPORT_REJECTED',
        retryable: false,
        reason: expect.stringMatching(
          /^InternalFailure: x .*in 13 runs since 2026-12-01T12:00:00.000Z; given up so that the stream goes on/,
        ),
      }),
    ]);
    const cursor = await runs.cursor();
    expect(cursor?.positionMs).toBeGreaterThan(NOW - 2 * MIN);
    expect(cursor?.stuck).toBeUndefined();
    // An hour of runs (13 at 5 minutes), each sending it as often as the importer tries a finding (5).
    expect(h.sends('poison')).toBe(13 * 5);
  });

  it('a hub that refuses every finding for two hours gives up on none: all are delivered once it recovers', async () => {
    const h = countingHub();
    h.refuse((ids) => ids);
    const runs = everyFiveMinutes({ 'us-east-1': h }, [], 2);
    await runs.times(24);
    expect(h.stored.size).toBe(0);
    expect(runs.kept).toEqual([]);

    h.refuse(() => []);
    expect((await runs.next()).status).toBe('ok');
    expect(h.stored.size).toBe(50);
    expect(h.duplicates()).toBe(0);
  });

  it('a finding refused in four runs and then taken is delivered once; its entry is counted, then cleared', async () => {
    const h = countingHub();
    const runs = everyFiveMinutes({ 'us-east-1': h }, [testAction('flaky', 'agt-1', NOW - 2 * MIN)], 3);
    h.refuse((ids) => (runs.run <= 4 ? ids.filter((id) => id === 'vaikora-flaky') : []));
    await runs.times(4);
    expect((await runs.cursor())?.stuck).toEqual([
      expect.objectContaining({ key: stuckKey('flaky'), runs: 4 }),
    ]);
    await runs.times(2);
    expect(h.stored.get('vaikora-flaky')).toBe(1);
    expect(runs.kept).toEqual([]);
    expect((await runs.cursor())?.stuck).toBeUndefined();
  });

  it('R1: findings refused once and then taken do not crowd a stuck one out of the list', async () => {
    const h = countingHub();
    const runs = everyFiveMinutes(
      { 'us-east-1': h },
      ['poison', 'flaky-3', 'flaky-2', 'flaky-1'].map((id, i) =>
        testAction(id, 'agt-1', NOW - (2 + i) * MIN),
      ),
      5,
    );
    h.refuse((ids) =>
      ids.filter((id) => id === 'vaikora-poison' || (runs.run === 1 && id.startsWith('vaikora-flaky'))),
    );
    await runs.times(36);
    expect(['flaky-1', 'flaky-2', 'flaky-3'].map((id) => h.stored.get(`vaikora-${id}`))).toEqual([1, 1, 1]);
    expect(runs.givenUp()).toEqual(['poison']);
    expect((await runs.cursor())?.positionMs).toBeGreaterThan(NOW - 2 * MIN);
  });

  it('R1b: four stuck findings, one more than the list holds, are each given up on in turn', async () => {
    const h = countingHub();
    const poison = ['p1', 'p2', 'p3', 'p4'];
    h.refuse((ids) => ids.filter((id) => poison.some((p) => id === `vaikora-${p}`)));
    const runs = everyFiveMinutes(
      { 'us-east-1': h },
      poison.map((id, i) => testAction(id, 'agt-1', NOW - 6 * MIN + i * MIN)).reverse(),
      5,
    );
    await runs.times(48);
    expect(runs.givenUp()).toEqual(poison);
    expect((await runs.cursor())?.positionMs).toBeGreaterThan(NOW - 3 * MIN);
    expect(h.duplicates()).toBe(0);
  });

  it('R2: a finding refused in 5 counted runs is not given up on in the runs where the hub refuses everything', async () => {
    const h = countingHub();
    let down = false;
    h.refuse((ids) => (down ? ids : ids.filter((id) => id === 'vaikora-poison')));
    const runs = everyFiveMinutes({ 'us-east-1': h }, [testAction('poison', 'agt-1', NOW - 2 * MIN)], 2);
    await runs.times(5);
    expect((await runs.cursor())?.stuck?.[0]?.runs).toBe(5);
    down = true;
    await runs.times(8);
    expect(runs.kept).toEqual([]);
    expect((await runs.cursor())?.stuck?.[0]?.runs).toBe(5);
  });

  it("R3: a region whose hub refuses everything gives up on none, while another region's hub takes findings", async () => {
    const east = countingHub();
    const west = countingHub('eu-west-1');
    let westDown = false;
    west.refuse((ids) => (westDown ? ids : []));
    const tenant = testTenant(
      [testDestination('dst_1', '111111111111')],
      [
        { id: 'str_east', destinationId: 'dst_1', agentId: 'agt-1', region: 'us-east-1' },
        { id: 'str_west', destinationId: 'dst_1', agentId: 'agt-1', region: 'eu-west-1' },
      ],
    );
    const runs = everyFiveMinutes({ 'us-east-1': east, 'eu-west-1': west }, [], 2, tenant);
    await runs.times(3);
    westDown = true;
    await runs.times(14);
    expect(runs.kept).toEqual([]);
    expect(east.stored.size).toBe(34);
  });

  // The last probe's cases: each stalled the stream for good on 8b2ee04 (the give-up was decided at the
  // refusal, before the hub had taken the findings of later pages or of agents swept after).
  it('an oldest-first list over two pages: a finding stuck on page 1, the hub taking the new ones on page 2, is given up on', async () => {
    const h = countingHub();
    h.refuse((ids) => ids.filter((id) => id === 'vaikora-poison'));
    const first = [
      testAction('poison', 'agt-1', NOW - 3 * 60 * MIN),
      ...Array.from({ length: 120 }, (_, i) =>
        testAction(`f-${i}`, 'agt-1', NOW - 3 * 60 * MIN + (i + 1) * MIN),
      ),
    ];
    const runs = everyFiveMinutes({ 'us-east-1': h }, first, 1, oneStream, { oldestFirst: true });
    await runs.times(24);
    expect(runs.givenUp()).toEqual(['poison']);
    expect(h.sends('poison')).toBe(13 * 5);
    expect((await runs.cursor())?.positionMs).toBeGreaterThan(NOW - 3 * 60 * MIN);
    expect(h.duplicates()).toBe(0);
  });

  it("a finding stuck on an idle agent's stream is given up on while the same hub takes another agent's findings", async () => {
    const h = countingHub();
    h.refuse((ids) => ids.filter((id) => id === 'vaikora-poison'));
    const tenant = testTenant(
      [testDestination('dst_1', '111111111111')],
      [
        { id: 'str_a', destinationId: 'dst_1', agentId: 'agt-a', region: 'us-east-1' },
        { id: 'str_b', destinationId: 'dst_1', agentId: 'agt-b', region: 'us-east-1' },
      ],
    );
    const runs = everyFiveMinutes(
      { 'us-east-1': h },
      [testAction('poison', 'agt-a', NOW - 2 * MIN)],
      1,
      tenant,
      {
        agent: 'agt-b',
        filtered: true,
      },
    );
    await runs.times(36);
    // Counted in the runs that sweep agt-b first (the order moves, ADR 0134): given up on, not held for good.
    expect(runs.givenUp()).toEqual(['poison']);
    expect((await runs.cursor('str_a'))?.stuck).toBeUndefined();
  });
});
