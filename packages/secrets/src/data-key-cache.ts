import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { EncryptionContext, MasterKeyProvider } from './provider.ts';

/** Bounds of a data key cache (ADR 0114): every one is required, so none is unbounded by omission. */
export interface DataKeyCacheOptions {
  /** How long an unwrapped data key may be served from memory after its unwrap. */
  readonly maxAgeMs: number;
  /** Most keys held; the least recently used is dropped (and zeroed) first. */
  readonly maxEntries: number;
  /** Most opens one cached key serves after the unwrap that cached it. */
  readonly maxUses: number;
  /** Milliseconds since the epoch; default `Date.now`. */
  readonly clock?: (() => number) | undefined;
}

/** A provider whose unwrapped data keys are kept for a bounded time and use; `clear` zeroes them all. */
export interface CachingMasterKeyProvider extends MasterKeyProvider {
  clear(): void;
}

interface Entry {
  readonly key: Uint8Array;
  readonly tenantId: string;
  readonly expiresAt: number;
  uses: number;
}

/**
 * Wraps `inner` so that opening the same sealed secret for the same tenant again within the bounds
 * does not unwrap its data key again (each unwrap is a KMS Decrypt). An entry is found only by the
 * tenant id together with the hash of the master key id and the wrapped key, so a blob copied into
 * another tenant's row misses and goes to `inner`, which refuses it (KMS encryption context). Callers
 * get a copy, which they zero; the cached bytes are zeroed when they leave the cache. Failures are
 * not cached. Nothing here logs.
 */
export function cacheDataKeys(
  inner: MasterKeyProvider,
  options: DataKeyCacheOptions,
): CachingMasterKeyProvider {
  const { maxAgeMs, maxEntries, maxUses } = options;
  for (const [name, value] of Object.entries({ maxAgeMs, maxEntries, maxUses })) {
    if (!Number.isFinite(value) || value < 1) throw new RangeError(`${name} must be a finite number >= 1`);
  }
  const clock = options.clock ?? Date.now;
  // lru-cache bounds the entries and zeroes a key whenever it leaves (evicted, replaced, deleted,
  // cleared); its own `ttl` is not used so that age follows the injected clock (tests need no waiting).
  const entries = new LRUCache<string, Entry>({
    max: maxEntries,
    dispose: (entry) => {
      entry.key.fill(0);
    },
  });
  // Only the caller that started an unwrap uses its result: the others copy from the cache.
  const inFlight = new Map<string, Promise<Uint8Array>>();

  const idOf = (encrypted: Uint8Array, keyId: string, context: EncryptionContext) =>
    createHash('sha256')
      .update(`${context.tenantId}\0${keyId}\0`, 'utf8')
      .update(encrypted)
      .digest('base64url');

  const hit = (id: string, tenantId: string): Uint8Array | undefined => {
    const entry = entries.get(id);
    if (entry === undefined) return undefined;
    if (entry.tenantId !== tenantId || clock() >= entry.expiresAt || entry.uses >= maxUses) {
      entries.delete(id);
      return undefined;
    }
    entry.uses++;
    return Uint8Array.from(entry.key);
  };

  return {
    get keyId() {
      return inner.keyId;
    },
    generateDataKey: (context) => inner.generateDataKey(context),
    async decryptDataKey(encrypted, keyId, context) {
      const id = idOf(encrypted, keyId, context);
      const cached = hit(id, context.tenantId);
      if (cached !== undefined) return cached;
      let pending = inFlight.get(id);
      if (pending === undefined) {
        pending = inner.decryptDataKey(encrypted, keyId, context).then((key) => {
          entries.set(id, { key, tenantId: context.tenantId, expiresAt: clock() + maxAgeMs, uses: 0 });
          // The copy is made before anything else can evict (and zero) the cached bytes.
          return Uint8Array.from(key);
        });
        inFlight.set(id, pending);
        // Settled either way, the next open looks in the cache (or unwraps again after a failure).
        pending.then(
          () => inFlight.delete(id),
          () => inFlight.delete(id),
        );
        return await pending;
      }
      // A concurrent open of the same secret shares the unwrap; each use counts against maxUses.
      await pending;
      return hit(id, context.tenantId) ?? inner.decryptDataKey(encrypted, keyId, context);
    },
    clear() {
      entries.clear();
    },
  };
}
