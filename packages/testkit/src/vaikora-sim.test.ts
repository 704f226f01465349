import { parseAction } from '@vsh/core';
import { describe, expect, it } from 'vitest';
import {
  createVaikoraSimStore,
  type SimAction,
  tinyRecordsLayout,
  type VaikoraSimKnobs,
  vaikoraSimKnobsSchema,
} from './vaikora-sim.ts';

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

describe('simulator store: pages, rates and hostile knobs', () => {
  const ids = (actions: readonly SimAction[]) => actions.map((a) => a.seq);

  it('serves the same pages as slicing the whole list, in both orders, with a since filter and retention', () => {
    const { store, advanceClock } = storeWith({ retentionMs: HOUR / 2, burstRate: 0.3 });
    store.addTenant(KEY, ['agt-1', 'agt-2'], 700);
    advanceClock(10 * 60_000);
    const since = store.list(KEY, 'agt-1')[100]?.timestampMs ?? 0;

    for (const agentId of ['agt-1', undefined]) {
      for (const order of ['asc', 'desc'] as const) {
        for (const sinceMs of [Number.NEGATIVE_INFINITY, since]) {
          const all = store.list(KEY, agentId).filter((a) => a.timestampMs >= sinceMs);
          const ordered = order === 'desc' ? [...all].reverse() : all;
          for (const offset of [0, 50, Math.max(0, ordered.length - 3), ordered.length + 10]) {
            const page = store.page(KEY, agentId, { order, offset, limit: 40, sinceMs });

            expect(page.total).toBe(ordered.length);
            expect(ids(page.actions)).toEqual(ids(ordered.slice(offset, offset + 40)));
          }
        }
      }
    }
    expect(store.page(KEY, 'agt-unknown', { order: 'desc', offset: 0, limit: 10, sinceMs: 0 })).toEqual({
      total: 0,
      actions: [],
    });
  });

  it('generates 100 actions per second per agent, well over 900 in ten minutes, with bursts in one millisecond', () => {
    const { store, advanceClock } = storeWith({ actionsPerMinute: 6000, burstRate: 0.9 });
    store.addTenant(KEY, ['agt-1'], 0);

    for (let s = 0; s < 600; s++) {
      advanceClock(1000);
      store.advance();
    }
    const list = store.list(KEY, 'agt-1');
    const perMs = new Map<number, number>();
    for (const a of list) perMs.set(a.timestampMs, (perMs.get(a.timestampMs) ?? 0) + 1);
    const lastPage = store.page(KEY, 'agt-1', { order: 'desc', offset: 59_950, limit: 100, sinceMs: 0 });

    expect(list).toHaveLength(60_000);
    expect(list.filter((a) => a.timestampMs >= T0 + 590_000 - 600_000).length).toBeGreaterThan(900);
    expect(Math.max(...perMs.values())).toBeGreaterThan(30);
    expect(ids(lastPage.actions)).toEqual(ids(list.slice(0, 50).reverse()));
  });

  it('lists by arrival, newest first: an upload heads the list ahead of what arrived before it, and an action listed again moves to the head (ADR 0131, 0144)', () => {
    const { store, advanceClock } = storeWith({ retentionMs: 2 * HOUR });
    store.addTenant(KEY, ['agt-1'], 0);
    const punctual = store.append(KEY, 'agt-1', 5);
    advanceClock(60_000);
    const upload = store.upload(KEY, 'agt-1', 30, T0 - 90 * 60_000, T0 - 30 * 60_000);
    const page = (offset: number, limit: number, order: VaikoraSimKnobs['order'] = 'arrival') =>
      store.page(KEY, 'agt-1', { order, offset, limit, sinceMs: Number.NEGATIVE_INFINITY });

    const byArrival = [...upload].reverse().concat([...punctual].reverse());
    const pages = [0, 10, 20, 30].map((offset) => page(offset, 10));
    expect(pages.flatMap((p) => ids(p.actions))).toEqual(ids(byArrival));
    expect(pages.map((p) => p.total)).toEqual([35, 35, 35, 35]);
    // In time order the upload takes its place behind the punctual actions.
    expect(ids(page(0, 5, 'desc').actions)).toEqual(ids([...punctual].reverse()));

    const again = punctual[0];
    if (again === undefined) throw new Error('no action appended');
    const againId = (again.raw as { id: string }).id;
    expect(store.relist(KEY, 'agt-1', againId)).toBe(true);
    expect(store.relist(KEY, 'agt-1', 'no-such-id')).toBe(false);
    expect(ids(page(0, 1).actions)).toEqual(ids([again]));
    expect(page(0, 100).actions).toHaveLength(35);
    expect(page(0, 100).actions[0]?.timestampMs).toBe(again.timestampMs);

    // Retention drops from the arrival order what it drops from the list.
    advanceClock(HOUR);
    store.advance();
    expect(ids(page(0, 100).actions).sort()).toEqual(ids(store.list(KEY, 'agt-1')).sort());
    expect(page(0, 100).total).toBeLessThan(35);
  });

  it('inserts late arrivals behind actions already listed, keeping the list in timestamp order', () => {
    const { store, advanceClock } = storeWith({ actionsPerMinute: 600, lateRate: 0.1, lateByMs: 120_000 });
    store.addTenant(KEY, ['agt-1'], 0);
    advanceClock(5 * 60_000);
    store.advance();
    const newestBefore = store.list(KEY, 'agt-1').at(-1)?.timestampMs ?? 0;
    const seqBefore = Math.max(...store.list(KEY, 'agt-1').map((a) => a.seq));

    advanceClock(60_000);
    store.advance();
    const list = store.list(KEY, 'agt-1');
    const late = list.filter((a) => a.seq > seqBefore && a.timestampMs < newestBefore);

    expect(late.length).toBeGreaterThan(20);
    expect(late.every((a) => a.timestampMs >= T0 + 5 * 60_000 - 120_000)).toBe(true);
    expect(list.every((a, i) => i === 0 || (list[i - 1]?.timestampMs ?? 0) <= a.timestampMs)).toBe(true);
  });

  it('makes extreme records that stay valid, with NUL, every C0 control and a huge string', () => {
    const { store } = storeWith({ extremeRate: 0.1, hugeStringBytes: 4096 });

    store.addTenant(KEY, ['agt-1'], 1000);
    const records = store.list(KEY).map((a) => a.raw as Record<string, unknown>);
    const extreme = records.filter((r) => 'key\u0000with nul' in r);

    expect(extreme.length).toBeGreaterThan(50);
    expect(extreme.every((r) => parseAction(r).ok)).toBe(true);
    expect(
      extreme.every((r) => (r.title as string).length === 32 && (r.description as string).length === 4096),
    ).toBe(true);
  });

  it('makes bad records that carry NUL and cannot become findings', () => {
    const { store } = storeWith({ badNulRate: 0.1 });

    store.addTenant(KEY, ['agt-1'], 1000);
    const records = store.list(KEY).map((a) => a.raw);
    const bad = records.filter((r) => !parseAction(r).ok);

    expect(bad.length).toBeGreaterThan(70);
    expect(bad.every((r) => JSON.stringify(r).includes('\\u0000'))).toBe(true);
  });

  it('keeps deep and invalid-UTF-8 records as wire bytes with a parseable stand-in ordered by its timestamp', () => {
    const { store } = storeWith({ deepRate: 0.1, deepDepth: 5_000_000, invalidUtf8Rate: 0.1 });

    store.addTenant(KEY, ['agt-1'], 300);
    const wired = store.list(KEY).filter((a) => a.wire !== undefined);
    const deep = wired.filter((a) => a.wire?.kind === 'deep-nesting');

    expect(deep.length).toBeGreaterThan(15);
    expect(wired.length - deep.length).toBeGreaterThan(15);
    expect(deep.every((a) => (a.wire?.byteLength ?? 0) > 10_000_000)).toBe(true);
    for (const a of wired) {
      const parsed = parseAction(a.raw);
      expect(parsed.ok && parsed.action.timestampMs).toBe(a.timestampMs);
    }
  });
});

describe('simulator knobs', () => {
  it('validates the hostile knobs and refuses unknown per-key ones', () => {
    expect(vaikoraSimKnobsSchema.parse({ perKey: { k: { slowPageMs: 14_000 } } }).perKey.k?.slowPageMs).toBe(
      14_000,
    );
    expect(vaikoraSimKnobsSchema.parse({ tinyRecordsPage: { bytes: 1024 } }).tinyRecordsPage).toEqual({
      bytes: 1024,
      page: 1,
      contentLength: true,
    });
    expect(() => vaikoraSimKnobsSchema.parse({ perKey: { k: { latencyMs: 5 } } })).toThrow();
    expect(() => vaikoraSimKnobsSchema.parse({ tinyRecordsPage: { bytes: 10 } })).toThrow();
    expect(() => vaikoraSimKnobsSchema.parse({ deepDepth: 0 })).toThrow();
    expect(() => vaikoraSimKnobsSchema.parse({ lateRate: 1.5 })).toThrow();
  });

  it.each([64, 65, 66, 1000, 64 * 1024 * 1024 + 1])(
    'lays out a tiny-records body of exactly %i bytes',
    (bytes) => {
      const { records, head, padding, tail } = tinyRecordsLayout(bytes, 1, 100);

      expect(head.length + (records === 0 ? 0 : 3 * records - 1) + padding + tail.length).toBe(bytes);
      expect(padding).toBeLessThan(3 + (records === 0 ? bytes : 0));
      expect(tail).toContain(`"total":${records}`);
    },
  );
});
