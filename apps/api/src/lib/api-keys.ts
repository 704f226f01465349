import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

// Crockford base32 lower case, as the ids in @vsh/db: no look-alike characters in a key someone copies.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const LOOKUP_CHARS = 12;
const SECRET_BYTES = 32;

/** `vsh_` + 12 lookup characters (60 bits) + `_` + 32 random bytes base64url: what a tenant API key looks like. */
export const API_KEY_PATTERN = /^vsh_[0-9a-hjkmnp-tv-z]{12}_[A-Za-z0-9_-]{43}$/;

/** The stored lookup prefix: `vsh_` and the 12 lookup characters (16 characters, unique in `api_keys`). */
const API_KEY_PREFIX_LENGTH = 4 + LOOKUP_CHARS;

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

/** Estimated entropy, in bits, the configured operator key must at least have. */
export const MIN_OPERATOR_KEY_BITS = 128;

// Sequences people type step by one to three (abcd, 2468, adgj); larger steps in a random key are chance.
const MAX_STEP = 3;

/**
 * A conservative estimate of a secret's entropy in bits, to refuse hand-made keys: the characters that
 * cannot be predicted from the ones before them, times the Shannon entropy of those characters. A
 * character is predictable when it repeats the previous one (`aaaa`), keeps a small constant step (`abcd`,
 * `9753`), or completes three characters seen earlier (`abcabc`: a repeated pattern counts about once);
 * few distinct characters make the entropy per character small. It knows no dictionary, so it
 * over-states passphrases. Random keys score below their true entropy: 32 random bytes (base64, base64url,
 * hex) about 230 bits, never under 185 in our runs; `op_` + 24 bytes base64url about 180, under 128 about
 * once in five million (ADR 0062).
 */
export function estimateEntropyBits(secret: string): number {
  const chars = Array.from(secret);
  const codes = chars.map((char) => char.codePointAt(0) ?? 0);
  const seenTrigrams = new Set<string>();
  const unpredictable: string[] = [];
  for (let i = 0; i < codes.length; i++) {
    const code = codes[i] ?? 0;
    const previous = codes[i - 1];
    const beforePrevious = codes[i - 2];
    const run = code === previous;
    const step =
      previous !== undefined &&
      beforePrevious !== undefined &&
      code - previous === previous - beforePrevious &&
      Math.abs(code - previous) <= MAX_STEP;
    let repeat = false;
    if (i >= 2) {
      const trigram = chars.slice(i - 2, i + 1).join('');
      repeat = seenTrigrams.has(trigram);
      seenTrigrams.add(trigram);
    }
    if (!run && !step && !repeat) unpredictable.push(chars[i] ?? '');
  }
  if (unpredictable.length === 0) return 0;

  const counts = new Map<string, number>();
  for (const char of unpredictable) counts.set(char, (counts.get(char) ?? 0) + 1);
  let shannon = 0;
  for (const n of counts.values())
    shannon -= (n / unpredictable.length) * Math.log2(n / unpredictable.length);
  // A short sample under-states its source's entropy; Miller-Madow corrects most of that bias, and no
  // character carries more than the classes it is drawn from (digits, lower, upper, other) allow.
  const corrected = shannon + (counts.size - 1) / (2 * unpredictable.length * Math.LN2);
  const perChar = Math.min(corrected, Math.log2(characterPool(chars)));
  return unpredictable.length * perChar;
}

function characterPool(chars: readonly string[]): number {
  let digits = 0;
  let lower = 0;
  let upper = 0;
  let other = 0;
  for (const char of chars) {
    if (char >= '0' && char <= '9') digits = 10;
    else if (char >= 'a' && char <= 'z') lower = 26;
    else if (char >= 'A' && char <= 'Z') upper = 26;
    else other = 33;
  }
  return digits + lower + upper + other;
}
