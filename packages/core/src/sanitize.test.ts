import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cleanText, isSpace, safeText, TRUNCATION_MARK, truncate, utf8Length } from './sanitize.ts';

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

  it('takes its fast path exactly when cleaning would change nothing', () => {
    // Whitespace-heavy strings, so that ends, doubled spaces and unicode spaces are all exercised.
    const spacey = fc.string({
      unit: fc.constantFrom(
        ' ',
        '\u00a0',
        '\u2003',
        '\u3000',
        '\ufeff',
        '\t',
        'a',
        'é',
        '🤖',
        '\u0085',
        '\ud800',
      ),
      maxLength: 12,
    });
    fc.assert(
      fc.property(fc.oneof(spacey, fc.string({ unit: 'binary', maxLength: 60 })), (s) => {
        expect(safeText(s, 1000)).toBe(cleanText(s));
      }),
      { numRuns: 5000 },
    );
  });
});

describe('isSpace', () => {
  it('agrees with the \\s of JavaScript regular expressions on every UTF-16 unit', () => {
    for (let c = 0; c <= 0xffff; c++) {
      if (isSpace(c) !== /\s/.test(String.fromCharCode(c)))
        throw new Error(`disagree on U+${c.toString(16)}`);
    }
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
