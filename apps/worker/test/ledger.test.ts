import type { AsffFinding, FaultProxyStats, SimAction } from '@vsh/testkit';
import { describe, expect, it } from 'vitest';
import { type LedgerSource, type LedgerTenant, ledger, startLedgerPhase } from './ledger.ts';

const A: LedgerTenant = {
  tenantId: 'ten_a',
  accountId: '111111111111',
  region: 'us-east-1',
  vaikoraKey: 'vk_a',
  agents: ['agt-a'],
};
const B: LedgerTenant = {
  tenantId: 'ten_b',
  accountId: '222222222222',
  region: 'us-east-1',
  vaikoraKey: 'vk_b',
  agents: ['agt-b'],
};
const hubOf = (t: LedgerTenant) => `${t.accountId}/${t.region}`;

const action = (id: string, seq: number): SimAction => ({
  seq,
  agentId: 'agt',
  timestampMs: seq,
  raw: { id, timestamp: new Date(seq).toISOString(), risk_level: 'high' },
});
const finding = (actionId: string, id = `vaikora-${actionId}`): AsffFinding => ({
  Id: id,
  ProductFields: { 'vaikora/action_id': actionId },
});

/** A proxy state and simulator data, as the ledger reads them from a harness. */
function source(state: {
  entries: FaultProxyStats['findingEntries'];
  hubs: Record<string, AsffFinding[]>;
  actions: Record<string, SimAction[]>;
  expected: Record<string, string[]>;
}) {
  let stats: FaultProxyStats = { operations: {}, securityHub: {}, findingEntries: state.entries };
  const h: LedgerSource<LedgerTenant> = {
    proxy: {
      stats: () => structuredClone(stats),
      memoryFindings: (accountId, region) => state.hubs[`${accountId}/${region}`] ?? [],
    },
    sim: { store: { list: (apiKey) => state.actions[apiKey] ?? [] } },
    expectedFindingIds: (t) => new Set(state.expected[t.vaikoraKey] ?? []),
  };
  return {
    h,
    send: (entries: FaultProxyStats['findingEntries']) => {
      stats = { ...stats, findingEntries: entries };
    },
  };
}

describe('ledger', () => {
  it('sees a re-sent id: extra 1 and more than one entry per id', () => {
    const { h } = source({
      entries: {
        [hubOf(A)]: {
          'vaikora-a1': { sent: 2, afterAccepted: 1 },
          'vaikora-a2': { sent: 1, afterAccepted: 0 },
        },
      },
      hubs: { [hubOf(A)]: [finding('a1'), finding('a2')] },
      actions: { vk_a: [action('a1', 1), action('a2', 2)] },
      expected: { vk_a: ['vaikora-a1', 'vaikora-a2'] },
    });

    const figures = ledger(h, [A]);

    expect(figures).toMatchObject({
      expected: 2,
      stored: 2,
      lost: 0,
      entriesSent: 3,
      distinctIdsSent: 2,
      entriesPerId: 1.5,
      extra: 1,
      duplicateIds: 0,
      misdelivered: 0,
      unexpected: 0,
    });
  });

  it('counts only what a phase sent once the phase has started', () => {
    const { h, send } = source({
      entries: { [hubOf(A)]: { 'vaikora-a1': { sent: 4, afterAccepted: 3 } } },
      hubs: { [hubOf(A)]: [finding('a1'), finding('a2')] },
      actions: { vk_a: [action('a1', 1), action('a2', 2)] },
      expected: { vk_a: ['vaikora-a1', 'vaikora-a2'] },
    });

    const phase = startLedgerPhase(h);
    send({
      [hubOf(A)]: {
        'vaikora-a1': { sent: 4, afterAccepted: 3 },
        'vaikora-a2': { sent: 1, afterAccepted: 0 },
      },
    });
    const inPhase = ledger(h, [A], phase);
    const overall = ledger(h, [A]);

    expect(inPhase).toMatchObject({ entriesSent: 1, distinctIdsSent: 1, entriesPerId: 1, extra: 0 });
    expect(overall).toMatchObject({ entriesSent: 5, distinctIdsSent: 2, entriesPerId: 2.5, extra: 3 });
  });

  it('flags another tenant’s action in a hub as misdelivered, and an action held under two ids', () => {
    const { h } = source({
      entries: {},
      hubs: {
        [hubOf(A)]: [finding('a1'), finding('a1', 'vaikora-a1-copy'), finding('b1')],
        [hubOf(B)]: [finding('b1')],
      },
      actions: { vk_a: [action('a1', 1), action('a2', 2)], vk_b: [action('b1', 3)] },
      expected: { vk_a: ['vaikora-a1', 'vaikora-a2'], vk_b: ['vaikora-b1'] },
    });

    const figures = ledger(h, [A, B]);

    expect(figures).toMatchObject({
      expected: 3,
      stored: 4,
      lost: 1,
      unexpected: 2,
      misdelivered: 1,
      duplicateIds: 1,
      entriesSent: 0,
      entriesPerId: 0,
    });
  });

  it('keeps a connector health finding out of the action figures, and flags one naming another tenant as misdelivered', () => {
    const health = (tenantId: string): AsffFinding => ({
      Id: `vaikora-health ${tenantId}/dst_1/rejected_above_threshold`,
    });
    const { h } = source({
      entries: {
        [hubOf(A)]: {
          'vaikora-a1': { sent: 1, afterAccepted: 0 },
          // Opened, then archived: the same health finding sent twice.
          'vaikora-health ten_a/dst_1/rejected_above_threshold': { sent: 2, afterAccepted: 1 },
        },
      },
      hubs: { [hubOf(A)]: [finding('a1'), health('ten_a'), health('ten_b')] },
      actions: { vk_a: [action('a1', 1)] },
      expected: { vk_a: ['vaikora-a1'] },
    });

    const figures = ledger(h, [A]);

    expect(figures).toMatchObject({
      expected: 1,
      stored: 1,
      lost: 0,
      unexpected: 0,
      misdelivered: 1,
      healthFindings: 1,
      entriesSent: 1,
      entriesPerId: 1,
      extra: 0,
    });
  });
});
