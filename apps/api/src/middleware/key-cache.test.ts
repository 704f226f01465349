import { describe, expect, it, vi } from 'vitest';
import type { VerifiedApiKey } from '../deps.ts';
import { createLogger } from '../logger.ts';
import { createApiKeyCache, KEY_CACHE_FRESH_MS, KEY_CACHE_MAX_AGE_MS } from './key-cache.ts';

function verifiedKey(id: string, tenantId = 'ten_a'): VerifiedApiKey {
  return { principal: { kind: 'tenant', id, tenantId }, lastUsedAtMs: null };
}

/** A cache on a clock the test moves, with a logger that keeps its lines. */
function testCache(maxEntries?: number) {
  let nowMs = Date.parse('2026-12-04T00:00:00Z');
  const logs: string[] = [];
  const logger = createLogger({ level: 'warn', destination: { write: (line: string) => logs.push(line) } });
  const cache = createApiKeyCache({
    clock: () => new Date(nowMs),
    logger,
    ...(maxEntries === undefined ? {} : { maxEntries }),
  });
  return {
    cache,
    logs,
    advance(ms: number) {
      nowMs += ms;
    },
  };
}

/** A lookup whose answers the test releases one by one. */
function heldLookup() {
  const pending: Array<(value: VerifiedApiKey | undefined) => void> = [];
  const lookup = vi.fn(
    () =>
      new Promise<VerifiedApiKey | undefined>((resolve) => {
        pending.push(resolve);
      }),
  );
  return {
    lookup,
    release(value: VerifiedApiKey | undefined) {
      const next = pending.shift();
      if (next === undefined) throw new Error('no lookup is waiting');
      next(value);
    },
  };
}

describe('createApiKeyCache', () => {
  it('answers a fresh verification without looking the key up again', async () => {
    const { cache, advance } = testCache();
    const lookup = vi.fn(async () => verifiedKey('key_1'));
    await cache.verify('h1', lookup);

    advance(KEY_CACHE_FRESH_MS - 1);
    const again = await cache.verify('h1', lookup);

    expect(again?.principal.id).toBe('key_1');
    expect(lookup).toHaveBeenCalledTimes(1);
  });

  it('serves a stale verification within the bound while exactly one refresh runs', async () => {
    const { cache, advance } = testCache();
    const held = heldLookup();
    const first = cache.verify('h1', held.lookup);
    held.release(verifiedKey('key_1'));
    await first;
    advance(KEY_CACHE_FRESH_MS);

    const answers = await Promise.all([1, 2, 3].map(() => cache.verify('h1', held.lookup)));

    expect(answers.map((answer) => answer?.principal.id)).toEqual(['key_1', 'key_1', 'key_1']);
    expect(held.lookup).toHaveBeenCalledTimes(2);
    held.release(verifiedKey('key_1'));
  });

  it('renews a verification when its refresh succeeds, so the bound counts from the refresh', async () => {
    const { cache, advance } = testCache();
    const lookup = vi.fn<() => Promise<VerifiedApiKey | undefined>>(async () => verifiedKey('key_1'));
    await cache.verify('h1', lookup);
    lookup.mockResolvedValue(verifiedKey('key_1', 'ten_renewed'));
    advance(KEY_CACHE_FRESH_MS);

    await expect.poll(async () => (await cache.verify('h1', lookup))?.principal.tenantId).toBe('ten_renewed');
    lookup.mockRejectedValue(new Error('the database is down'));
    advance(KEY_CACHE_MAX_AGE_MS - KEY_CACHE_FRESH_MS);

    expect((await cache.verify('h1', lookup))?.principal.tenantId).toBe('ten_renewed');
  });

  it('forgets a key whose refresh finds it no longer valid', async () => {
    const { cache, advance } = testCache();
    const lookup = vi.fn<() => Promise<VerifiedApiKey | undefined>>(async () => verifiedKey('key_1'));
    await cache.verify('h1', lookup);
    lookup.mockResolvedValue(undefined);
    advance(KEY_CACHE_FRESH_MS);

    expect(await cache.verify('h1', lookup)).toBeDefined();

    await expect.poll(() => cache.verify('h1', lookup)).toBeUndefined();
  });

  it('waits for the database once a verification reaches the bound', async () => {
    const { cache, advance } = testCache();
    const lookup = vi.fn<() => Promise<VerifiedApiKey | undefined>>(async () => verifiedKey('key_1'));
    await cache.verify('h1', lookup);
    lookup.mockResolvedValue(undefined);

    advance(KEY_CACHE_MAX_AGE_MS);

    expect(await cache.verify('h1', lookup)).toBeUndefined();
    expect(lookup).toHaveBeenCalledTimes(2);
  });

  it('keeps a verification whose refresh failed until the bound, and logs the failure', async () => {
    const { cache, advance, logs } = testCache();
    const lookup = vi.fn<() => Promise<VerifiedApiKey | undefined>>(async () => verifiedKey('key_1'));
    await cache.verify('h1', lookup);
    lookup.mockRejectedValue(new Error('connection refused'));
    advance(KEY_CACHE_FRESH_MS);

    expect(await cache.verify('h1', lookup)).toBeDefined();
    await vi.waitFor(() =>
      expect(logs.join('')).toContain('refreshing a cached API key verification failed'),
    );
    expect(await cache.verify('h1', lookup)).toBeDefined();

    advance(KEY_CACHE_MAX_AGE_MS - KEY_CACHE_FRESH_MS);
    await expect(cache.verify('h1', lookup)).rejects.toThrow('connection refused');
  });

  it('never keeps a failed verification', async () => {
    const { cache } = testCache();
    const lookup = vi.fn(async () => undefined);

    expect(await cache.verify('h1', lookup)).toBeUndefined();
    expect(await cache.verify('h1', lookup)).toBeUndefined();

    expect(lookup).toHaveBeenCalledTimes(2);
  });

  it('looks a key up again when the clock went back', async () => {
    const { cache, advance } = testCache();
    const lookup = vi.fn(async () => verifiedKey('key_1'));
    await cache.verify('h1', lookup);

    advance(-1);
    await cache.verify('h1', lookup);

    expect(lookup).toHaveBeenCalledTimes(2);
  });

  it('forgets a revoked key at once, and only that key', async () => {
    const { cache } = testCache();
    const lookup1 = vi.fn(async () => verifiedKey('key_1'));
    const lookup2 = vi.fn(async () => verifiedKey('key_2'));
    await cache.verify('h1', lookup1);
    await cache.verify('h2', lookup2);

    cache.evictKey('key_1');
    await cache.verify('h1', lookup1);
    await cache.verify('h2', lookup2);

    expect(lookup1).toHaveBeenCalledTimes(2);
    expect(lookup2).toHaveBeenCalledTimes(1);
  });

  it("forgets every key of an offboarded tenant at once, and no other tenant's", async () => {
    const { cache } = testCache();
    const lookups = {
      h1: vi.fn(async () => verifiedKey('key_1', 'ten_a')),
      h2: vi.fn(async () => verifiedKey('key_2', 'ten_a')),
      h3: vi.fn(async () => verifiedKey('key_3', 'ten_b')),
    };
    for (const [hash, lookup] of Object.entries(lookups)) await cache.verify(hash, lookup);

    cache.evictTenant('ten_a');
    for (const [hash, lookup] of Object.entries(lookups)) await cache.verify(hash, lookup);

    expect([lookups.h1, lookups.h2, lookups.h3].map((lookup) => lookup.mock.calls.length)).toEqual([2, 2, 1]);
  });

  it('does not keep what a lookup begun before an eviction found', async () => {
    const { cache } = testCache();
    const held = heldLookup();
    const racing = cache.verify('h1', held.lookup);

    cache.evictTenant('ten_a');
    held.release(verifiedKey('key_1', 'ten_a'));

    expect((await racing)?.principal.id).toBe('key_1');
    const next = cache.verify('h1', held.lookup);
    held.release(undefined);
    expect(await next).toBeUndefined();
  });

  it('holds at most its maximum of keys, forgetting the least recently used', async () => {
    const { cache } = testCache(2);
    const lookups = [1, 2, 3].map((n) => vi.fn(async () => verifiedKey(`key_${n}`)));
    for (const [n, lookup] of lookups.entries()) await cache.verify(`h${n}`, lookup);

    for (const [n, lookup] of [...lookups.entries()].reverse()) await cache.verify(`h${n}`, lookup);

    expect(lookups.map((lookup) => lookup.mock.calls.length)).toEqual([2, 1, 1]);
  });
});
