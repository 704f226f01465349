import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

// Crockford base32 lower case, as the ids in @vsh/db: no look-alike characters in a key someone copies.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const LOOKUP_CHARS = 12;
const SECRET_BYTES = 32;

/** `vsh_` + 12 lookup characters (60 bits) + `_` + 32 random bytes base64url: what a tenant API key looks like. */
export const API_KEY_PATTERN = /^vsh_[0-9a-hjkmnp-tv-z]{12}_[A-Za-z0-9_-]{43}$/;

/** The stored lookup prefix: `vsh_` and the 12 lookup characters (16 characters, unique in `api_keys`). */
export const API_KEY_PREFIX_LENGTH = 4 + LOOKUP_CHARS;

export interface NewApiKeyMaterial {
  /** The whole key: shown to its owner once, never stored. */
  key: string;
  prefix: string;
  /** Hex SHA-256 of the whole key, as stored. */
  hash: string;
}

/** Hex SHA-256 of a key (keys are 256-bit random strings, so a fast hash is enough; see ADR 0030). */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A new random tenant API key with its lookup prefix and hash. */
export function generateApiKey(): NewApiKeyMaterial {
  const lookupBytes = randomBytes(LOOKUP_CHARS);
  let lookup = '';
  for (const byte of lookupBytes) lookup += ALPHABET[byte & 31];
  const key = `vsh_${lookup}_${randomBytes(SECRET_BYTES).toString('base64url')}`;
  return { key, prefix: key.slice(0, API_KEY_PREFIX_LENGTH), hash: hashApiKey(key) };
}

/** The lookup prefix of a presented key, or undefined when it cannot be one of ours. */
export function apiKeyPrefix(presented: string): string | undefined {
  return API_KEY_PATTERN.test(presented) ? presented.slice(0, API_KEY_PREFIX_LENGTH) : undefined;
}

/** Compares two hex digests in constant time. */
export function hashesEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && left.length > 0 && timingSafeEqual(left, right);
}
