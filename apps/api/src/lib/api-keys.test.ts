import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { API_KEY_PATTERN, apiKeyPrefix, generateApiKey, hashApiKey, hashesEqual } from './api-keys.ts';

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
