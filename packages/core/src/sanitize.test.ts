import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cleanText, safeText, TRUNCATION_MARK, truncate, utf8Length } from './sanitize.ts';

describe('cleanText', () => {
  it.each([
    ['a\nb\r\nc\td', 'a b c d'],
    ['nul\u0000byte', 'nul byte'],
    ['\u202eevil\u202c', 'evil'],
    ['lone \ud800 surrogate', 'lone \ufffd surrogate'],
    ['  spaced   out  ', 'spaced out'],
    ['emoji 🤖 ok', 'emoji 🤖 ok'],
  ])('%j → %j', (input, expected) => {
    expect(cleanText(input)).toBe(expected);
  });
});

describe('truncate', () => {
  it('marks the cut and respects the limit', () => {
    const out = truncate('x'.repeat(300), 256);

    expect(out).toHaveLength(256);
    expect(out.endsWith(TRUNCATION_MARK)).toBe(true);
  });

  it('never splits a surrogate pair', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 300 }),
        fc.integer({ min: 1, max: 300 }),
        (s, max) => {
          const out = truncate(s, max);
          expect(out.length).toBeLessThanOrEqual(max);
          expect(out.isWellFormed()).toBe(s.isWellFormed());
        },
      ),
    );
  });
});

describe('safeText', () => {
  it('always yields a well-formed string with no control characters within the limit', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 500 }),
        fc.integer({ min: 1, max: 400 }),
        (s, max) => {
          const out = safeText(s, max);
          expect(out.length).toBeLessThanOrEqual(max);
          expect(out.isWellFormed()).toBe(true);
          // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting their absence
          expect(/[\u0000-\u001f\u007f-\u009f]/.test(out)).toBe(false);
        },
      ),
    );
  });
});

describe('utf8Length', () => {
  it('equals the encoder for well-formed strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (s) => {
        expect(utf8Length(s)).toBe(new TextEncoder().encode(s).length);
      }),
    );
  });
});
