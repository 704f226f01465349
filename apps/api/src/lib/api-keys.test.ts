import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  API_KEY_PATTERN,
  apiKeyPrefix,
  estimateEntropyBits,
  generateApiKey,
  hashApiKey,
  hashesEqual,
  MIN_OPERATOR_KEY_BITS,
} from './api-keys.ts';

describe('tenant API keys', () => {
  it('are vsh_ + 12 lookup characters + 43 random characters, stored as prefix and SHA-256', () => {
    const material = generateApiKey();

    expect(material.key).toMatch(API_KEY_PATTERN);
    expect(material.prefix).toBe(material.key.slice(0, 16));
    expect(material.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(material.hash).toBe(hashApiKey(material.key));
  });

  it('never repeat a lookup prefix in practice', () => {
    const prefixes = new Set(Array.from({ length: 5_000 }, () => generateApiKey().prefix));

    expect(prefixes.size).toBe(5_000);
  });

  it('give a lookup prefix only for strings that can be keys', () => {
    const { key, prefix } = generateApiKey();

    expect(apiKeyPrefix(key)).toBe(prefix);
    fc.assert(
      fc.property(fc.string(), (text) => {
        const result = apiKeyPrefix(text);
        expect(result === undefined || API_KEY_PATTERN.test(text)).toBe(true);
      }),
    );
  });

  it('compare hashes exactly', () => {
    const a = hashApiKey('a');

    expect(hashesEqual(a, hashApiKey('a'))).toBe(true);
    expect(hashesEqual(a, hashApiKey('b'))).toBe(false);
    expect(hashesEqual(a, '')).toBe(false);
    expect(hashesEqual('', '')).toBe(false);
  });
});

describe('estimateEntropyBits', () => {
  it.each([
    ['', 0],
    ['a', 0],
    ['a'.repeat(512), 0],
  ])('gives nothing for a key of one character (%#)', (key, bits) => {
    expect(estimateEntropyBits(key)).toBe(bits);
  });

  it('counts a repeated pattern about once, however often it repeats', () => {
    const once = estimateEntropyBits('k3Qz9');

    expect(estimateEntropyBits('k3Qz9'.repeat(4))).toBeLessThan(3 * once);
    expect(estimateEntropyBits('k3Qz9'.repeat(40))).toBeLessThan(3 * once);
  });

  it('counts little for sequences with a small step', () => {
    for (const key of [
      'abcdefghijklmnopqrstuvwxyz',
      'zyxwvutsrqponmlkjihgfedcba',
      'acegikmoqsuwy',
      '0246813579',
    ]) {
      expect(estimateEntropyBits(key)).toBeLessThan(40);
    }
  });

  it('counts at most the bits of the characters its classes allow', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 1, maxLength: 200 }),
        (key) => {
          expect(estimateEntropyBits(key)).toBeLessThanOrEqual(key.length * Math.log2(10) + 1e-9);
        },
      ),
    );
  });

  it('is a finite, non-negative number for any string', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 600 }), (key) => {
        const bits = estimateEntropyBits(key);
        expect(Number.isFinite(bits) && bits >= 0).toBe(true);
      }),
    );
  });

  it('counts generated keys of 24 random bytes and more above the operator minimum', () => {
    const generators = [
      () => `vsh_op_${randomBytes(24).toString('base64url')}`,
      () => `op_${randomBytes(24).toString('base64url')}`,
      () => randomBytes(32).toString('base64'),
      () => randomBytes(32).toString('hex'),
      () => generateApiKey().key,
    ];
    for (const generate of generators) {
      let lowest = Number.POSITIVE_INFINITY;
      for (let i = 0; i < 1_000; i++) lowest = Math.min(lowest, estimateEntropyBits(generate()));
      expect(lowest).toBeGreaterThan(MIN_OPERATOR_KEY_BITS);
    }
  });
});
