import { StateError } from '@vsh/aws';
import { describe, expect, it } from 'vitest';
import { countingHub, testRunDeps } from '../test/counting-hub.ts';
import { memoryState, memoryTenantStore, memoryVaikora } from '../test/memory-ports.ts';
import { DEFAULT_RUN_OPTIONS } from './ports.ts';
import { type RunResult, runTenant } from './run-tenant.ts';
import { testAction, testDestination, testTenant } from './tenant.test-support.ts';

// Faults on the delivery and state side: every qualifying action must reach Security Hub exactly once (a
// re-import of an id the hub already holds is billed again, so it counts as a duplicate). In-memory ports
// (the real run, cursor and importer code), a fake Security Hub that counts imports per id. Each of the
// first four failed on fe9cb5a (200, 99, 99 and 300 findings imported a second time).

const NOW = Date.parse('2026-12-01T12:00:00.000Z');
const MIN = 60_000;
const tenant = testTenant(
  [testDestination('dst_1', '111111111111')],
  [{ id: 'str_1', destinationId: 'dst_1', agentId: 'agt-1', region: 'us-east-1' }],
);
const list = (n: number) =>
  Array.from({ length: n }, (_, i) => testAction(`act-${i}`, 'agt-1', NOW - MIN - i * 100));

function deps(
  h: ReturnType<typeof countingHub>,
  actions: unknown[] | (() => unknown[]),
  state = memoryState(() => NOW),
  clock: () => number = () => NOW,
) {
  const run = testRunDeps({
    store: memoryTenantStore(tenant).store,
    state,
    vaikora: () => memoryVaikora(typeof actions === 'function' ? actions : () => actions),
    importer: () => h.importer,
    clock,
  });
  return { run, state };
}

const summary = (r: RunResult) => {
  if (r.kind !== 'ran') throw new Error(r.kind);
  return r.summary;
};

describe('delivery and state faults: nothing imported twice', () => {
  it('a graceful shutdown (SIGTERM) mid-run keeps what the run imported: the next run re-imports none of it', async () => {
    const h = countingHub();
    const actions = list(300);
    const shutdown = new AbortController();
    // The shutdown arrives while the second page's import is in flight (well inside one checkpoint interval).
    h.answer((_ids, call) => {
      if (call === 2) shutdown.abort(new Error('SIGTERM'));
      return undefined;
    });
    const { run, state } = deps(h, actions);

    const first = summary(await runTenant('ten_1', run, shutdown.signal));
    expect(first).toMatchObject({ status: 'partial', errorCode: 'SHUTDOWN', findingsImported: 200 });

    h.answer(() => undefined);
    const second = summary(await runTenant('ten_1', deps(h, actions, state).run));

    expect(h.stored.size).toBe(300);
    // ADR 0004: "the seen-set always receives what the run handled, also when the sweep stopped early
    // (shutdown, ...)"; main.ts logs "saving cursors" on SIGTERM.
    expect({ reimported: h.duplicates(), importedBySecondRun: second.findingsImported }).toEqual({
      reimported: 0,
      importedBySecondRun: 100,
    });
  });

  it('an access error on a resend round keeps what the first round imported: none of it is imported again', async () => {
    const h = countingHub();
    const actions = list(100);
    // Round 1: 99 stored, one InternalFailure. Round 2 (its resend): the role's session was revoked /
    // expired (any stop-the-destination or unclassified error).
    h.answer((ids, call) => {
      if (call === 1) return { fail: [ids[0] ?? ''] };
      const err = Object.assign(new Error('User is not authorized'), {
        name: 'AccessDeniedException',
        $fault: 'client',
        $metadata: { httpStatusCode: 403 },
      });
      return { throw: err };
    });
    const { run, state } = deps(h, actions);
    const first = summary(await runTenant('ten_1', run));
    expect(first.status).not.toBe('ok');
    expect(h.stored.size).toBe(99);

    // The customer fixes the role; the next run delivers.
    h.answer(() => undefined);
    await runTenant('ten_1', deps(h, actions, state).run);

    expect(h.stored.size).toBe(100);
    expect(h.duplicates()).toBe(0);
  });

  it('an unclassified error (ExpiredTokenException) on a resend round: none of the first round is imported again', async () => {
    const h = countingHub();
    const actions = list(100);
    h.answer((ids, call) => {
      if (call === 1) return { fail: [ids[0] ?? ''] };
      const err = Object.assign(new Error('The security token included in the request is expired'), {
        name: 'ExpiredTokenException',
        $fault: 'client',
        $metadata: { httpStatusCode: 403 },
      });
      return { throw: err };
    });
    const { run, state } = deps(h, actions);
    await runTenant('ten_1', run);
    expect(h.stored.size).toBe(99);

    h.answer(() => undefined);
    await runTenant('ten_1', deps(h, actions, state).run);

    expect(h.stored.size).toBe(100);
    expect(h.duplicates()).toBe(0);
  });

  it('one transient DynamoDB failure of the final cursor write does not make the next run re-import the whole run', async () => {
    const h = countingHub();
    const actions = list(300);
    const { run, state } = deps(h, actions);
    const advance = state.advanceCursor.bind(state);
    let failures = 1;
    state.advanceCursor = async (...args) => {
      if (failures-- > 0)
        throw new StateError(
          'UNAVAILABLE',
          'DynamoDB call failed: ProvisionedThroughputExceededException',
          true,
        );
      return advance(...args);
    };
    const first = summary(await runTenant('ten_1', run));
    expect(first).toMatchObject({ findingsImported: 300 });

    await runTenant('ten_1', deps(h, actions, state).run);

    expect(h.stored.size).toBe(300);
    expect(h.duplicates()).toBe(0);
  });
});

describe('a DynamoDB that keeps failing the final cursor writes', () => {
  it('tries them again only until the run is a little past its budget: a run of five streams ends instead of trying for minutes', async () => {
    const streams = [1, 2, 3, 4, 5].map((n) => ({
      id: `str_${n}`,
      destinationId: 'dst_1',
      agentId: `agt-${n}`,
      region: 'us-east-1',
    }));
    const five = testTenant([testDestination('dst_1', '111111111111')], streams);
    const actions = streams.map((s, i) => testAction(`act-${i}`, s.agentId, NOW - MIN));
    let now = NOW;
    const h = countingHub();
    const { run, state } = deps(
      h,
      actions,
      memoryState(() => now),
      () => now,
    );
    // Every write fails after hanging 10 s (the SDK's own attempts), as a DynamoDB that stopped answering.
    let tries = 0;
    state.advanceCursor = async () => {
      tries++;
      now += 10_000;
      throw new StateError('UNAVAILABLE', 'DynamoDB call failed: TimeoutError', true);
    };
    const result = summary(
      await runTenant('ten_1', {
        ...run,
        store: memoryTenantStore(five).store,
        sleep: async (ms) => {
          now += ms;
        },
        options: { ...DEFAULT_RUN_OPTIONS, runBudgetMs: 60_000, leaseTtlMs: 3600_000 },
      }),
    );

    expect(result.errorCode).toBe('CURSOR_NOT_SAVED');
    expect(h.stored.size).toBe(5);
    // 4 tries of the first stream's final write (45 s); past the budget and an eighth (67.5 s), one try
    // of each later write: the checkpoint each later stream makes on its page (the clock moved 2 s past
    // the last one) and its final write, plus the second stream's one retry before the bound. Without the
    // bound: 24 tries (4 a final write) and 3 minutes 46 s; with it, 2 minutes 15.5 s.
    expect(tries).toBe(13);
    expect(now - NOW).toBe(135_500);
  });
});
