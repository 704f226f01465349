import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { redact, Secret } from './secret.ts';

const key = 'vk_live_4f9a8b7c6d5e4f3a2b1c';

describe('Secret', () => {
  it('prints [redacted] through String, template literals, concatenation, JSON and util.inspect', () => {
    const secret = redact(key);
    const logged = { tenantId: 'ten_1', apiKey: secret };

    const outputs = [
      String(secret),
      `${secret}`,
      `key=${secret}`,
      // biome-ignore lint/style/useTemplate: concatenation goes through Symbol.toPrimitive, which is under test.
      'key=' + secret,
      JSON.stringify(logged),
      inspect(logged, { depth: 10, showHidden: true }),
      inspect(secret),
    ];

    for (const output of outputs) {
      expect(output).not.toContain(key);
      expect(output).toContain('[redacted]');
    }
  });

  it('does not carry the value into spreads, Object.entries or structured clones', () => {
    const secret = new Secret(key);

    const copies = [
      JSON.stringify({ ...secret }),
      JSON.stringify(Object.entries(secret)),
      inspect(structuredClone(secret)),
    ];

    for (const copy of copies) expect(copy).not.toContain(key);
  });

  it('gives the value back only through reveal()', () => {
    expect(redact(key).reveal()).toBe(key);
  });
});
