import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export const ivBytes = 12;
export const tagBytes = 16;
export const keyBytes = 32;

export interface Sealed {
  iv: Uint8Array;
  ciphertext: Uint8Array;
  tag: Uint8Array;
}

/** AES-256-GCM with a fresh random 96-bit IV (safe: each data key encrypts exactly one message). */
export function encrypt(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Sealed {
  const iv = randomBytes(ivBytes);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: tagBytes });
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, ciphertext, tag: cipher.getAuthTag() };
}

/** Decrypts and authenticates; throws (node's own error, which carries no data) when anything was altered. */
export function decrypt(key: Uint8Array, sealed: Sealed, aad: Uint8Array): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.iv, { authTagLength: tagBytes });
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.tag);
  return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]);
}
