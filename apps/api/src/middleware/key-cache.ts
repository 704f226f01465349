import { errorInfo } from '@vsh/core';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { ApiKeyCache, VerifiedApiKey } from '../deps.ts';

/** How long after the database accepted a key this instance accepts it without asking again. */
export const KEY_CACHE_FRESH_MS = 2_000;
/**
 * Past KEY_CACHE_FRESH_MS a cached verification is still answered, while one refresh runs behind it, up to
 * this age; past it a request waits for the database. So a key revoked (or a tenant offboarded) on another
 * instance stops working here within this bound (ADR 0108; the revoking instance forgets it at once).
 */
export const KEY_CACHE_MAX_AGE_MS = 10_000;
/** Keys remembered: ~2 MB at most; more keys in use than this only costs lookups for the least recent. */
const KEY_CACHE_MAX_ENTRIES = 10_000;

export interface ApiKeyCacheOptions {
  clock: () => Date;
  logger: Logger;
  /** Default KEY_CACHE_MAX_ENTRIES. */
  maxEntries?: number;
}

interface Entry {
  verified: VerifiedApiKey;
  /** When the lookup that found it began: its age counts from before the database answered. */
  fetchedAtMs: number;
}

/**
 * Creates an instance's cache of successful API key verifications (ADR 0108). Only successes are kept (a
 * wrong key is looked up every time, so its cost stays one hash, one lookup and one comparison); a lookup
 * that finds nothing forgets the key. lru-cache bounds it; its own `fetch()` (which also deduplicates
 * refreshes) did not serve: it cannot keep a lookup that started before an eviction from storing its
 * answer afterwards, and it rejects the callers waiting on a refresh that an eviction aborts.
 */
export function createApiKeyCache(options: ApiKeyCacheOptions): ApiKeyCache {
  const entries = new LRUCache<string, Entry>({ max: options.maxEntries ?? KEY_CACHE_MAX_ENTRIES });
  const refreshing = new Set<string>();
  // Bumped by every eviction: a lookup that began before one may answer its caller but must not store.
  let generation = 0;

  async function load(
    hash: string,
    lookup: () => Promise<VerifiedApiKey | undefined>,
  ): Promise<VerifiedApiKey | undefined> {
    const startedIn = generation;
    const fetchedAtMs = options.clock().getTime();
    const verified = await lookup();
    if (verified === undefined) {
      entries.delete(hash);
      return undefined;
    }
    const current = entries.peek(hash);
    if (current !== undefined && current.verified.lastUsedAtMs !== null) {
      // A use this instance recorded may not have reached the row the lookup read.
      verified.lastUsedAtMs = Math.max(verified.lastUsedAtMs ?? 0, current.verified.lastUsedAtMs);
    }
    if (startedIn === generation && (current === undefined || current.fetchedAtMs <= fetchedAtMs)) {
      entries.set(hash, { verified, fetchedAtMs });
    }
    return verified;
  }

  function refresh(hash: string, lookup: () => Promise<VerifiedApiKey | undefined>): void {
    if (refreshing.has(hash)) return;
    refreshing.add(hash);
    load(hash, lookup)
      .catch((err: unknown) => {
        options.logger.warn(
          { err: errorInfo(err) },
          'refreshing a cached API key verification failed; it stands until it expires',
        );
      })
      .finally(() => refreshing.delete(hash));
  }

  function evict(matches: (verified: VerifiedApiKey) => boolean): void {
    generation++;
    const doomed: string[] = [];
    for (const [hash, entry] of entries.entries()) if (matches(entry.verified)) doomed.push(hash);
    for (const hash of doomed) entries.delete(hash);
  }

  return {
    async verify(hash, lookup) {
      const entry = entries.get(hash);
      if (entry !== undefined) {
        const age = options.clock().getTime() - entry.fetchedAtMs;
        // A clock that went back proves nothing about the entry's age: look the key up.
        if (age >= 0 && age < KEY_CACHE_FRESH_MS) return entry.verified;
        if (age >= 0 && age < KEY_CACHE_MAX_AGE_MS) {
          refresh(hash, lookup);
          return entry.verified;
        }
      }
      return load(hash, lookup);
    },
    evictKey(keyId) {
      evict((verified) => verified.principal.id === keyId);
    },
    evictTenant(tenantId) {
      evict((verified) => verified.principal.tenantId === tenantId);
    },
  };
}
