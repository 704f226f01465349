import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SecretsError, type SecretsErrorCode } from './errors.ts';
import { LocalMasterKeyProvider, localKeyId } from './local-provider.ts';
import { formatSealed, parseSealed, type SealedSecret, sealedKeyId } from './sealed.ts';
import { createSecretBox } from './secret-box.ts';

const newMasterKey = () => randomBytes(32).toString('base64');
const acme = { tenantId: 'ten_acme' };
const globex = { tenantId: 'ten_globex' };
const vaikoraKey = 'vk_live_0123456789abcdef0123456789abcdef';

async function failureOf(promise: Promise<unknown>): Promise<SecretsError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof SecretsError) return error;
    throw error;
  }
  throw new Error('expected a SecretsError');
}

describe('createSecretBox with local master keys', () => {
  const box = createSecretBox(new LocalMasterKeyProvider({ primaryKey: newMasterKey() }));

  it('opens what it sealed for the same tenant', async () => {
    const sealed = await box.seal(vaikoraKey, acme);

    expect(await box.open(sealed, acme)).toBe(vaikoraKey);
  });

  it('seals the same plaintext differently each time (a fresh data key and IV per seal)', async () => {
    const [first, second] = [await box.seal(vaikoraKey, acme), await box.seal(vaikoraKey, acme)];

    expect(first).not.toBe(second);
  });

  it('refuses to open a secret with another tenant context', async () => {
    const sealed = await box.seal(vaikoraKey, acme);

    const error = await failureOf(box.open(sealed, globex));

    expect(error.code).toBe<SecretsErrorCode>('DECRYPT_FAILED');
  });

  it.each([
    ['encrypted data key', 'encryptedDataKey'],
    ['iv', 'iv'],
    ['ciphertext', 'ciphertext'],
    ['tag', 'tag'],
  ] as const)('refuses to open a secret whose %s was altered', async (_label, part) => {
    const parts = parseSealed(await box.seal(vaikoraKey, acme));
    const altered = Buffer.from(parts[part]);
    altered[0] = (altered[0] ?? 0) ^ 0x01;

    const error = await failureOf(box.open(formatSealed({ ...parts, [part]: altered }), acme));

    expect(error.code).toBe<SecretsErrorCode>('DECRYPT_FAILED');
  });

  it.each([
    ['an empty string', ''],
    ['a plaintext key', vaikoraKey],
    ['another version', 'vsh2.a.b.c.d.e'],
    ['a part that is not base64url', 'vsh1.a.b+/.c.d.e'],
    ['a short IV', 'vsh1.bG9jYWw.AAAA.AAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA'],
  ])('reports %s as MALFORMED', async (_label, value) => {
    const error = await failureOf(box.open(value, acme));

    expect(error.code).toBe<SecretsErrorCode>('MALFORMED');
  });

  it('refuses an empty tenant id, so a missing context cannot silently bind to ""', async () => {
    const error = await failureOf(box.seal(vaikoraKey, { tenantId: '' }));

    expect(error.code).toBe<SecretsErrorCode>('MALFORMED');
  });

  it('round-trips text that is not ASCII', async () => {
    const text = 'clé-🔑-ключ';

    expect(await box.open(await box.seal(text, acme), acme)).toBe(text);
  });
});

describe('master key rotation', () => {
  it('keeps opening secrets sealed under a previous key after a new primary is configured', async () => {
    const [keyA, keyB] = [newMasterKey(), newMasterKey()];
    const sealedUnderA = await createSecretBox(new LocalMasterKeyProvider({ primaryKey: keyA })).seal(
      vaikoraKey,
      acme,
    );
    const rotated = new LocalMasterKeyProvider({ primaryKey: keyB, previousKeys: [keyA] });
    const box = createSecretBox(rotated);

    const opened = await box.open(sealedUnderA, acme);
    const sealedUnderB = await box.seal(opened, acme);

    expect(opened).toBe(vaikoraKey);
    expect(sealedKeyId(sealedUnderA)).toBe(localKeyId(Buffer.from(keyA, 'base64')));
    expect(sealedKeyId(sealedUnderB)).toBe(rotated.keyId);
    expect(rotated.keyIds).toEqual([rotated.keyId, sealedKeyId(sealedUnderA)]);
  });

  it('reports KEY_NOT_FOUND once the old key is no longer configured', async () => {
    const sealed = await createSecretBox(new LocalMasterKeyProvider({ primaryKey: newMasterKey() })).seal(
      vaikoraKey,
      acme,
    );

    const error = await failureOf(
      createSecretBox(new LocalMasterKeyProvider({ primaryKey: newMasterKey() })).open(sealed, acme),
    );

    expect(error.code).toBe<SecretsErrorCode>('KEY_NOT_FOUND');
  });
});

describe('LocalMasterKeyProvider', () => {
  it.each([
    ['16 bytes', randomBytes(16).toString('base64')],
    ['33 bytes', randomBytes(33).toString('base64')],
    ['not base64', '!'.repeat(44)],
  ])('refuses a master key of %s without echoing it', (_label, key) => {
    const attempt = () => new LocalMasterKeyProvider({ primaryKey: key });

    expect(attempt).toThrow(SecretsError);
    expect(() => attempt()).toThrow(expect.objectContaining({ code: 'MALFORMED' }));
    try {
      attempt();
    } catch (error) {
      expect(inspect(error)).not.toContain(key);
    }
  });

  it('names a key local:<first 8 hex digits of its SHA-256>', () => {
    const key = Buffer.alloc(32, 7);

    expect(new LocalMasterKeyProvider({ primaryKey: key.toString('base64') }).keyId).toMatch(
      /^local:[0-9a-f]{8}$/,
    );
  });
});

describe('the plaintext never shows', () => {
  const box = createSecretBox(new LocalMasterKeyProvider({ primaryKey: newMasterKey() }));
  // Long enough that finding it in base64 text by chance is out of the question.
  const plaintexts = fc.string({ minLength: 12, maxLength: 120, unit: 'grapheme' });
  const tenantIds = fc.stringMatching(/^ten_[0-9a-z]{1,26}$/);

  function leaks(text: string, plaintext: string): boolean {
    return text.includes(plaintext) || text.includes(Buffer.from(plaintext).toString('base64url'));
  }

  it('in the sealed form', async () => {
    await fc.assert(
      fc.asyncProperty(plaintexts, tenantIds, async (plaintext, tenantId) => {
        const sealed = await box.seal(plaintext, { tenantId });

        expect(leaks(sealed, plaintext)).toBe(false);
        expect(await box.open(sealed, { tenantId })).toBe(plaintext);
      }),
      { numRuns: 200 },
    );
  });

  it('in any error, including one where the plaintext was passed as the sealed value', async () => {
    await fc.assert(
      fc.asyncProperty(plaintexts, tenantIds, async (plaintext, tenantId) => {
        const sealed = await box.seal(plaintext, { tenantId });
        const parts = parseSealed(sealed);
        const tampered = formatSealed({ ...parts, tag: Buffer.alloc(16) });

        const errors = [
          await failureOf(box.open(sealed, { tenantId: `${tenantId}x` })),
          await failureOf(box.open(tampered, { tenantId })),
          await failureOf(box.open(plaintext as SealedSecret, { tenantId })),
          await failureOf(box.open(`vsh1.${plaintext}`, { tenantId })),
        ];

        for (const error of errors) {
          expect(leaks(error.message, plaintext)).toBe(false);
          expect(leaks(inspect(error, { depth: 10 }), plaintext)).toBe(false);
        }
      }),
      { numRuns: 100 },
    );
  });
});
