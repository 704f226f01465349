import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cacheDataKeys } from './data-key-cache.ts';
import { SecretsError } from './errors.ts';
import { LocalMasterKeyProvider } from './local-provider.ts';
import type { DataKey, EncryptionContext, MasterKeyProvider } from './provider.ts';
import { createSecretBox } from './secret-box.ts';

const acme = { tenantId: 'ten_acme' };
const globex = { tenantId: 'ten_globex' };
const vaikoraKey = 'vk_live_0123456789abcdef0123456789abcdef';

/** A local provider that counts its unwraps and keeps every key it handed out (to see them zeroed). */
function countingProvider(): MasterKeyProvider & { decrypts: number; handedOut: Uint8Array[] } {
  const inner = new LocalMasterKeyProvider({ primaryKey: randomBytes(32).toString('base64') });
  const provider = {
    keyId: inner.keyId,
    decrypts: 0,
    handedOut: [] as Uint8Array[],
    generateDataKey: (context: EncryptionContext): Promise<DataKey> => inner.generateDataKey(context),
    async decryptDataKey(encrypted: Uint8Array, keyId: string, context: EncryptionContext) {
      provider.decrypts++;
      const key = await inner.decryptDataKey(encrypted, keyId, context);
      provider.handedOut.push(key);
      return key;
    },
  };
  return provider;
}

function setup(options: { maxAgeMs?: number; maxEntries?: number; maxUses?: number } = {}) {
  const inner = countingProvider();
  let now = 1_000_000;
  const cached = cacheDataKeys(inner, {
    maxAgeMs: options.maxAgeMs ?? 60_000,
    maxEntries: options.maxEntries ?? 10,
    maxUses: options.maxUses ?? 100,
    clock: () => now,
  });
  return {
    inner,
    box: createSecretBox(cached),
    sealer: createSecretBox(inner),
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('cacheDataKeys', () => {
  it('opens the same sealed secret again without a second unwrap while the key is young', async () => {
    const { inner, box, sealer, advance } = setup({ maxAgeMs: 60_000 });
    const sealed = await sealer.seal(vaikoraKey, acme);

    const first = await box.open(sealed, acme);
    advance(59_000);
    const second = await box.open(sealed, acme);

    expect([first, second]).toEqual([vaikoraKey, vaikoraKey]);
    expect(inner.decrypts).toBe(1);
  });

  it('unwraps again once the cached key is older than its max age, and zeroes the old one', async () => {
    const { inner, box, sealer, advance } = setup({ maxAgeMs: 60_000 });
    const sealed = await sealer.seal(vaikoraKey, acme);
    await box.open(sealed, acme);

    advance(60_001);
    await expect(box.open(sealed, acme)).resolves.toBe(vaikoraKey);

    expect(inner.decrypts).toBe(2);
    expect(inner.handedOut[0]?.every((b) => b === 0)).toBe(true);
  });

  it('unwraps again after a cached key served its max uses', async () => {
    const { inner, box, sealer } = setup({ maxUses: 3 });
    const sealed = await sealer.seal(vaikoraKey, acme);

    for (let i = 0; i < 5; i++) await box.open(sealed, acme);

    // The unwrap's own use, then 3 from the cache; the fifth open needs a fresh unwrap.
    expect(inner.decrypts).toBe(2);
  });

  it("never opens one tenant's copy of another tenant's sealed secret from the cache", async () => {
    const { inner, box, sealer } = setup();
    const sealed = await sealer.seal(vaikoraKey, acme);
    await box.open(sealed, acme);

    const error = await box.open(sealed, globex).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(SecretsError);
    expect((error as SecretsError).code).toBe('DECRYPT_FAILED');
    expect(inner.decrypts).toBe(2);
  });

  it('keys on the sealed blob: a re-sealed (rotated) secret is unwrapped afresh', async () => {
    const { inner, box, sealer } = setup();
    await box.open(await sealer.seal(vaikoraKey, acme), acme);

    await expect(box.open(await sealer.seal('vk_live_rotated', acme), acme)).resolves.toBe('vk_live_rotated');

    expect(inner.decrypts).toBe(2);
  });

  it('holds at most maxEntries keys, evicting and zeroing the least recently used', async () => {
    const { inner, box, sealer } = setup({ maxEntries: 2 });
    const tenants = [{ tenantId: 't1' }, { tenantId: 't2' }, { tenantId: 't3' }];
    const sealed = await Promise.all(tenants.map((t) => sealer.seal(`key-${t.tenantId}`, t)));
    const [s1, s2, s3] = sealed;
    const [t1, t2, t3] = tenants;
    if (!s1 || !s2 || !s3 || !t1 || !t2 || !t3) throw new Error('setup');

    await box.open(s1, t1);
    await box.open(s2, t2);
    await box.open(s1, t1); // t1 is now the most recently used
    await box.open(s3, t3); // evicts t2

    expect(inner.handedOut[1]?.every((b) => b === 0)).toBe(true);
    expect(inner.handedOut[0]?.some((b) => b !== 0)).toBe(true);
    await box.open(s1, t1);
    expect(inner.decrypts).toBe(3);
    await box.open(s2, t2);
    expect(inner.decrypts).toBe(4);
  });

  it('does not cache a failed unwrap', async () => {
    const inner = countingProvider();
    let fail = true;
    const flaky: MasterKeyProvider = {
      keyId: inner.keyId,
      generateDataKey: (c) => inner.generateDataKey(c),
      decryptDataKey: (e, k, c) =>
        fail
          ? Promise.reject(new SecretsError('KMS_UNAVAILABLE', 'throttled', true))
          : inner.decryptDataKey(e, k, c),
    };
    const box = createSecretBox(cacheDataKeys(flaky, { maxAgeMs: 60_000, maxEntries: 10, maxUses: 10 }));
    const sealed = await createSecretBox(inner).seal(vaikoraKey, acme);

    await expect(box.open(sealed, acme)).rejects.toThrow('throttled');
    fail = false;

    await expect(box.open(sealed, acme)).resolves.toBe(vaikoraKey);
    expect(inner.decrypts).toBe(1);
  });

  it('shares one unwrap among concurrent opens of the same secret', async () => {
    const { inner, box, sealer } = setup();
    const sealed = await sealer.seal(vaikoraKey, acme);

    const opened = await Promise.all([
      box.open(sealed, acme),
      box.open(sealed, acme),
      box.open(sealed, acme),
    ]);

    expect(opened).toEqual([vaikoraKey, vaikoraKey, vaikoraKey]);
    expect(inner.decrypts).toBe(1);
  });

  it('clear() zeroes and forgets every cached key', async () => {
    const { inner, sealer } = setup();
    const cached = cacheDataKeys(inner, { maxAgeMs: 60_000, maxEntries: 10, maxUses: 10 });
    const box = createSecretBox(cached);
    const sealed = await sealer.seal(vaikoraKey, acme);
    await box.open(sealed, acme);

    cached.clear();

    expect(inner.handedOut[0]?.every((b) => b === 0)).toBe(true);
    await box.open(sealed, acme);
    expect(inner.decrypts).toBe(2);
  });

  it('refuses bounds that would make it unbounded or useless', () => {
    const inner = countingProvider();
    for (const bad of [
      { maxAgeMs: 0, maxEntries: 1, maxUses: 1 },
      { maxAgeMs: 1, maxEntries: 0, maxUses: 1 },
      { maxAgeMs: 1, maxEntries: 1, maxUses: Number.POSITIVE_INFINITY },
    ])
      expect(() => cacheDataKeys(inner, bad)).toThrow(RangeError);
  });
});
