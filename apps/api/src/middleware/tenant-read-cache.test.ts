import { describe, expect, it } from 'vitest';
import { createTenantReadCache, TENANT_READ_FRESH_MS } from './tenant-read-cache.ts';

function setup() {
  let nowMs = Date.parse('2026-12-04T00:00:00Z');
  const cache = createTenantReadCache({ clock: () => new Date(nowMs) });
  let reads = 0;
  let value = 'v1';
  const load = async () => {
    reads++;
    return value;
  };
  return {
    cache,
    load,
    reads: () => reads,
    set: (next: string) => {
      value = next;
    },
    advance: (ms: number) => {
      nowMs += ms;
    },
  };
}

/** A promise and the functions that settle it. */
function deferred<T>() {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('tenant read cache', () => {
  it('answers from the cache for less than the bound, then reads again', async () => {
    const t = setup();
    expect(await t.cache.read('ten_a', 'tenant', t.load)).toBe('v1');
    t.set('v2');
    t.advance(TENANT_READ_FRESH_MS - 1);
    expect(await t.cache.read('ten_a', 'tenant', t.load)).toBe('v1');
    t.advance(1);
    expect(await t.cache.read('ten_a', 'tenant', t.load)).toBe('v2');
    expect(t.reads()).toBe(2);
  });

  it('keeps parts and tenants apart', async () => {
    const t = setup();
    await t.cache.read('ten_a', 'tenant', async () => 'row of a');
    await t.cache.read('ten_b', 'tenant', async () => 'row of b');

    expect(await t.cache.read('ten_a', 'health', async () => 'health of a')).toBe('health of a');
    expect(await t.cache.read('ten_a', 'tenant', t.load)).toBe('row of a');
    expect(await t.cache.read('ten_b', 'tenant', t.load)).toBe('row of b');
    expect(t.reads()).toBe(0);
  });

  it('shares one read among the callers that arrive while it runs', async () => {
    const t = setup();
    const gate = deferred<string>();
    let reads = 0;
    const slow = () => {
      reads++;
      return gate.promise;
    };
    const answers = Promise.all([1, 2, 3].map(() => t.cache.read('ten_a', 'health', slow)));
    gate.resolve('once');

    expect(await answers).toEqual(['once', 'once', 'once']);
    expect(reads).toBe(1);
  });

  it('forgets a tenant at once, and a read that began before the eviction stores nothing', async () => {
    const t = setup();
    await t.cache.read('ten_a', 'tenant', t.load);
    const gate = deferred<string>();
    const before = t.cache.read('ten_a', 'health', () => gate.promise);

    t.cache.evict('ten_a');
    t.set('after the write');
    gate.resolve('read before the write');

    expect(await before).toBe('read before the write');
    expect(await t.cache.read('ten_a', 'tenant', t.load)).toBe('after the write');
    expect(await t.cache.read('ten_a', 'health', async () => 'fresh health')).toBe('fresh health');
  });

  it('keeps neither a tenant that was not found nor a failed read', async () => {
    const t = setup();
    expect(await t.cache.read('ten_gone', 'tenant', async () => undefined)).toBeUndefined();
    await expect(
      t.cache.read('ten_a', 'tenant', async () => {
        throw new Error('database down');
      }),
    ).rejects.toThrow('database down');

    expect(await t.cache.read('ten_gone', 'tenant', async () => 'created since')).toBe('created since');
    expect(await t.cache.read('ten_a', 'tenant', t.load)).toBe('v1');
  });

  it('forgets every listing when any tenant is written, and only that tenant of the others', async () => {
    const t = setup();
    await t.cache.read('position', 'listing', async () => 'first page');
    await t.cache.read('position&after=x', 'listing', async () => 'second page');
    await t.cache.read('ten_b', 'tenant', async () => 'row of b');

    t.cache.evict('ten_a');

    expect(await t.cache.read('position', 'listing', async () => 'first page again')).toBe(
      'first page again',
    );
    expect(await t.cache.read('position&after=x', 'listing', async () => 'second again')).toBe(
      'second again',
    );
    expect(await t.cache.read('ten_b', 'tenant', t.load)).toBe('row of b');
  });
});
