import { ivBytes, tagBytes } from './aes-gcm.ts';
import { SecretsError } from './errors.ts';

/**
 * A sealed secret as stored (e.g. `vaikora_settings.api_key_ciphertext`): one ASCII string,
 * `vsh1.<keyId>.<encryptedDataKey>.<iv>.<ciphertext>.<tag>`, every part base64url. The leading version
 * lets a later format coexist with rows written in this one.
 */
export type SealedSecret = string & { readonly __sealedSecret: unique symbol };

export interface SealedParts {
  keyId: string;
  encryptedDataKey: Uint8Array;
  iv: Uint8Array;
  ciphertext: Uint8Array;
  tag: Uint8Array;
}

const version = 'vsh1';
const base64url = /^[A-Za-z0-9_-]*$/;

/** Serialises the parts of a sealed secret. */
export function formatSealed(parts: SealedParts): SealedSecret {
  const encode = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
  return [
    version,
    Buffer.from(parts.keyId, 'utf8').toString('base64url'),
    encode(parts.encryptedDataKey),
    encode(parts.iv),
    encode(parts.ciphertext),
    encode(parts.tag),
  ].join('.') as SealedSecret;
}

/** Parses a sealed secret; throws `SecretsError('MALFORMED')` without echoing the input (it may be a plaintext pasted by mistake). */
export function parseSealed(value: string): SealedParts {
  const parts = typeof value === 'string' ? value.split('.') : [];
  if (parts.length !== 6 || parts[0] !== version) {
    throw new SecretsError('MALFORMED', `sealed secret is not in the ${version} format`, false);
  }
  const [, keyId, encryptedDataKey, iv, ciphertext, tag] = parts.map((part, index) => {
    if (index > 0 && !base64url.test(part)) {
      throw new SecretsError('MALFORMED', `sealed secret part ${index} is not base64url`, false);
    }
    return Buffer.from(part, 'base64url');
  }) as [Buffer, Buffer, Buffer, Buffer, Buffer, Buffer];
  if (keyId.length === 0 || encryptedDataKey.length === 0) {
    throw new SecretsError('MALFORMED', 'sealed secret has no key id or no data key', false);
  }
  if (iv.length !== ivBytes || tag.length !== tagBytes) {
    throw new SecretsError('MALFORMED', 'sealed secret has an IV or tag of the wrong length', false);
  }
  return { keyId: keyId.toString('utf8'), encryptedDataKey, iv, ciphertext, tag };
}

/** The master key id a sealed secret was made under (for `vaikora_settings.api_key_key_id`, and rotation). */
export function sealedKeyId(sealed: string): string {
  return parseSealed(sealed).keyId;
}

/** Whether `value` has the shape of a sealed secret (it may still fail to open). */
export function isSealedSecret(value: unknown): value is SealedSecret {
  if (typeof value !== 'string') return false;
  try {
    parseSealed(value);
    return true;
  } catch {
    return false;
  }
}
