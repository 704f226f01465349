import { createHash, randomBytes } from 'node:crypto';
import { decrypt, encrypt, ivBytes, keyBytes, tagBytes } from './aes-gcm.ts';
import { SecretsError } from './errors.ts';
import type { DataKey, EncryptionContext, MasterKeyProvider } from './provider.ts';

export interface LocalMasterKeyOptions {
  /** The key new data keys are wrapped under: 32 random bytes, base64 (`openssl rand -base64 32`). */
  primaryKey: string;
  /** Keys rotated out: still accepted to unwrap what they wrapped, never used to wrap. */
  previousKeys?: readonly string[];
}

const wrappedBytes = ivBytes + keyBytes + tagBytes;

function decodeMasterKey(base64: string, position: string): Uint8Array {
  const bytes = Buffer.from(base64.trim(), 'base64');
  // Buffer.from ignores characters outside the alphabet, so also check it re-encodes to the input.
  if (bytes.length !== keyBytes || bytes.toString('base64') !== base64.trim()) {
    throw new SecretsError(
      'MALFORMED',
      `${position} master key must be exactly 32 bytes, base64-encoded`,
      false,
    );
  }
  return bytes;
}

/** `local:` and the first 8 hex digits of SHA-256 of the key: stable, and says nothing usable about the key. */
export function localKeyId(key: Uint8Array): string {
  return `local:${createHash('sha256').update(key).digest('hex').slice(0, 8)}`;
}

function wrapAad(keyId: string, context: EncryptionContext): Uint8Array {
  return Buffer.from(`vsh.local-wrap.v1|${keyId}|${context.tenantId}`, 'utf8');
}

/**
 * Master keys from configuration, for the embedded default and tests. A data key is wrapped with
 * AES-256-GCM under the primary key, authenticated together with the key id and the tenant, so a
 * wrapped key copied to another tenant's row does not unwrap. Several keys may be configured so
 * that secrets sealed before a rotation still open.
 */
export class LocalMasterKeyProvider implements MasterKeyProvider {
  readonly keyId: string;
  readonly #keys = new Map<string, Uint8Array>();

  constructor(options: LocalMasterKeyOptions) {
    const primary = decodeMasterKey(options.primaryKey, 'primary');
    this.keyId = localKeyId(primary);
    this.#keys.set(this.keyId, primary);
    for (const [index, encoded] of (options.previousKeys ?? []).entries()) {
      const key = decodeMasterKey(encoded, `previous[${index}]`);
      const id = localKeyId(key);
      if (!this.#keys.has(id)) this.#keys.set(id, key);
    }
  }

  /** Ids of every configured key, primary first. */
  get keyIds(): string[] {
    return [...this.#keys.keys()];
  }

  async generateDataKey(context: EncryptionContext): Promise<DataKey> {
    const master = this.#keys.get(this.keyId);
    if (!master) throw new SecretsError('KEY_NOT_FOUND', `master key ${this.keyId} is not configured`, false);
    const plaintext = randomBytes(keyBytes);
    const { iv, ciphertext, tag } = encrypt(master, plaintext, wrapAad(this.keyId, context));
    return { plaintext, encrypted: Buffer.concat([iv, ciphertext, tag]), keyId: this.keyId };
  }

  async decryptDataKey(
    encrypted: Uint8Array,
    keyId: string,
    context: EncryptionContext,
  ): Promise<Uint8Array> {
    const master = this.#keys.get(keyId);
    if (!master) throw new SecretsError('KEY_NOT_FOUND', `master key ${keyId} is not configured`, false);
    if (encrypted.length !== wrappedBytes) {
      throw new SecretsError('MALFORMED', `wrapped data key must be ${wrappedBytes} bytes`, false);
    }
    const sealed = {
      iv: encrypted.subarray(0, ivBytes),
      ciphertext: encrypted.subarray(ivBytes, ivBytes + keyBytes),
      tag: encrypted.subarray(ivBytes + keyBytes),
    };
    try {
      return decrypt(master, sealed, wrapAad(keyId, context));
    } catch (cause) {
      throw new SecretsError(
        'DECRYPT_FAILED',
        `data key did not unwrap under ${keyId} for tenant ${context.tenantId}`,
        false,
        { cause },
      );
    }
  }
}
