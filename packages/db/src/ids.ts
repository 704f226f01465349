import { randomBytes } from 'node:crypto';

/** Prefixes of the ids this database hands out; the prefix says what an id names, as in Stripe or Unkey. */
export const idPrefixes = {
  tenant: 'ten',
  apiKey: 'key',
  destination: 'dst',
  stream: 'str',
  run: 'run',
  rejectedRecord: 'rej',
  backfill: 'bkf',
  signInLink: 'lnk',
  orgRegistration: 'org',
} as const;

export type IdPrefix = (typeof idPrefixes)[keyof typeof idPrefixes];

// Crockford base32, lower case: no ambiguous letters, and the string order matches the numeric order.
const alphabet = '0123456789abcdefghjkmnpqrstvwxyz';

function encodeBase32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += alphabet[(buffer >>> bits) & 31];
    }
  }
  if (bits > 0) out += alphabet[(buffer << (5 - bits)) & 31];
  return out;
}

/**
 * A new id `<prefix>_<26 chars>`: 48 bits of milliseconds then 80 random bits (the ULID layout), so ids
 * of one kind sort by creation time and keep B-tree inserts at the right edge of the index.
 * Hand-written (15 lines) rather than a `ulid` dependency because we also want the prefix and lower case.
 */
export function newId(prefix: IdPrefix, now: Date = new Date()): string {
  const bytes = new Uint8Array(16);
  let ms = now.getTime();
  for (let i = 5; i >= 0; i--) {
    bytes[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  bytes.set(randomBytes(10), 6);
  return `${prefix}_${encodeBase32(bytes)}`;
}
