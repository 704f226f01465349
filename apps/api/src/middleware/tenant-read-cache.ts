import { LRUCache } from 'lru-cache';
import type { TenantReadCache, TenantReadPart } from '../deps.ts';

/**
 * How old a cached tenant row or health may be when a read answers with it. A write through this instance
 * forgets the tenant at once; a write through another instance, or a run the worker records, shows here
 * within this bound (ADR 0113).
 */
export const TENANT_READ_FRESH_MS = 1_000;
/** Tenants remembered: a few MB at most; more only costs the least recent a query. */
const MAX_ENTRIES = 10_000;

interface Entry {
  value: unknown;
  /** When the read that found it began: its age counts from before the database answered. */
  readAtMs: number;
}

export interface TenantReadCacheOptions {
  clock: () => Date;
  /** Default MAX_ENTRIES parts. */
  maxEntries?: number;
}

/**
 * Creates an instance's tenant read cache. One read per tenant and part is in flight at a time (callers
 * arriving meanwhile share it), so a burst of reads of one tenant costs the database one query. lru-cache
 * bounds it; its `ttl` is not used because age here follows the injected clock (tests need no waiting),
 * and its `fetch()` did not serve for the reason the key cache gives (ADR 0108): a read that began before
 * an eviction must not store its answer afterwards.
 */
export function createTenantReadCache(options: TenantReadCacheOptions): TenantReadCache {
  const entries = new LRUCache<string, Entry>({ max: options.maxEntries ?? MAX_ENTRIES });
  const inFlight = new Map<string, Promise<unknown>>();
  // Bumped by every eviction: a read that began before one answers its callers but stores nothing (a
  // global count, not one per tenant, so it takes no memory per tenant; writes are rare).
  let generation = 0;
  const keyOf = (tenantId: string, part: TenantReadPart) => `${part}:${tenantId}`;

  return {
    async read<T>(tenantId: string, part: TenantReadPart, load: () => Promise<T | undefined>) {
      const key = keyOf(tenantId, part);
      const nowMs = options.clock().getTime();
      const cached = entries.get(key);
      if (cached !== undefined && nowMs - cached.readAtMs < TENANT_READ_FRESH_MS) return cached.value as T;
      const pending = inFlight.get(key);
      if (pending !== undefined) return (await pending) as T | undefined;
      const startedIn = generation;
      const reading: Promise<T | undefined> = load().then(
        (value) => {
          if (inFlight.get(key) === reading) inFlight.delete(key);
          if (value === undefined) entries.delete(key);
          else if (startedIn === generation) entries.set(key, { value, readAtMs: nowMs });
          return value;
        },
        (err: unknown) => {
          if (inFlight.get(key) === reading) inFlight.delete(key);
          throw err;
        },
      );
      inFlight.set(key, reading);
      return reading;
    },
    evict(tenantId) {
      generation++;
      // Listings show many tenants: a write to any of them forgets them all (a few entries).
      const listings = [...entries.keys(), ...inFlight.keys()].filter((key) => key.startsWith('listing:'));
      const own = (['tenant', 'health', 'status'] as const).map((part) => keyOf(tenantId, part));
      for (const key of [...own, ...listings]) {
        entries.delete(key);
        // A read under way keeps answering its callers; later callers start their own.
        inFlight.delete(key);
      }
    },
  };
}
