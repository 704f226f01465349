import { parseAction } from '@vsh/core';
import { describe, expect, it } from 'vitest';
import { createVaikoraSimStore, type VaikoraSimKnobs, vaikoraSimKnobsSchema } from './vaikora-sim.ts';

const KEY = 'vk_test_store';
const T0 = Date.UTC(2026, 5, 1);
const HOUR = 3_600_000;

function storeWith(knobs: Partial<VaikoraSimKnobs> = {}, seed = 7) {
  let now = T0;
  const current = vaikoraSimKnobsSchema.parse(knobs);
  const store = createVaikoraSimStore(
    seed,
    () => now,
    () => current,
    HOUR,
  );
  return {
    store,
    advanceClock: (ms: number) => {
      now += ms;
    },
  };
}

describe('simulator store', () => {
  it('seeds the same history from the same seed', () => {
    const a = storeWith({ badRate: 0.1, hostileRate: 0.1, aliasRate: 0.2 }).store;
    const b = storeWith({ badRate: 0.1, hostileRate: 0.1, aliasRate: 0.2 }).store;

    a.addTenant(KEY, ['agt-1', 'agt-2'], 300);
    b.addTenant(KEY, ['agt-1', 'agt-2'], 300);

    expect(JSON.stringify(a.list(KEY))).toBe(JSON.stringify(b.list(KEY)));
  });

  it('seeds different histories for different seeds', () => {
    const a = storeWith({}, 1).store;
    const b = storeWith({}, 2).store;

    a.addTenant(KEY, ['agt-1'], 50);
    b.addTenant(KEY, ['agt-1'], 50);

    expect(JSON.stringify(a.list(KEY))).not.toBe(JSON.stringify(b.list(KEY)));
  });

  it('spreads the seeded history over the hour before the clock, oldest first, with unique ids', () => {
    const { store } = storeWith();

    store.addTenant(KEY, ['agt-1'], 500);
    const list = store.list(KEY, 'agt-1');

    expect(list).toHaveLength(500);
    expect(list[0]?.timestampMs).toBeGreaterThanOrEqual(T0 - HOUR);
    expect(list.at(-1)?.timestampMs).toBeLessThanOrEqual(T0);
    expect(list.every((a, i) => i === 0 || (list[i - 1]?.timestampMs ?? 0) <= a.timestampMs)).toBe(true);
    expect(new Set(list.map((a) => (a.raw as { id: string }).id)).size).toBe(500);
  });

  it('keeps each agent apart and merges them when no agent is named', () => {
    const { store } = storeWith();

    store.addTenant(KEY, ['agt-1', 'agt-2'], 20);

    expect(store.list(KEY, 'agt-1').every((a) => a.agentId === 'agt-1')).toBe(true);
    expect(store.list(KEY)).toHaveLength(40);
    expect(store.list(KEY, 'agt-unknown')).toEqual([]);
    expect(store.list('vk_test_nobody')).toEqual([]);
  });

  it('appends new actions at the newest end', () => {
    const { store, advanceClock } = storeWith();
    store.addTenant(KEY, ['agt-1'], 10);
    const newestBefore = store.list(KEY, 'agt-1').at(-1)?.timestampMs ?? 0;
    advanceClock(60_000);

    const added = store.append(KEY, 'agt-1', 5);

    expect(added).toHaveLength(5);
    expect(added.every((a) => a.timestampMs >= newestBefore)).toBe(true);
    expect(store.list(KEY, 'agt-1').slice(-5)).toEqual(added);
  });

  it('generates actionsPerMinute per agent as the clock moves, and nothing while it stands still', () => {
    const { store, advanceClock } = storeWith({ actionsPerMinute: 30 });
    store.addTenant(KEY, ['agt-1', 'agt-2'], 0);

    store.advance();
    const atStart = store.list(KEY).length;
    advanceClock(2 * 60_000);
    store.advance();

    expect(atStart).toBe(0);
    expect(store.list(KEY, 'agt-1')).toHaveLength(60);
    expect(store.list(KEY, 'agt-2')).toHaveLength(60);
  });

  it('forgets actions older than the retention', () => {
    const { store, advanceClock } = storeWith({ retentionMs: HOUR });
    store.addTenant(KEY, ['agt-1'], 200);
    advanceClock(HOUR / 2);

    store.advance();
    const remaining = store.list(KEY, 'agt-1');

    expect(remaining.length).toBeGreaterThan(0);
    expect(remaining.length).toBeLessThan(200);
    expect(remaining.every((a) => a.timestampMs >= T0 - HOUR / 2)).toBe(true);
  });

  it('produces unparseable records at about the bad rate, and aliases at about the alias rate', () => {
    const { store } = storeWith({ badRate: 0.1, aliasRate: 0.3 });

    store.addTenant(KEY, ['agt-1'], 2000);
    const parsed = store.list(KEY).map((a) => parseAction(a.raw));
    const bad = parsed.filter((p) => !p.ok).length;
    const aliased = parsed.filter((p) => p.ok && p.action.riskLevelSource === 'severity').length;

    expect(bad / 2000).toBeGreaterThan(0.07);
    expect(bad / 2000).toBeLessThan(0.13);
    expect(aliased / 2000).toBeGreaterThan(0.22);
    expect(aliased / 2000).toBeLessThan(0.33);
  });
});
