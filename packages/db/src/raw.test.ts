import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeControlCharacters, fingerprintOf, safeText, storableRaw } from './raw.ts';

/** Any value JSON.parse or a careless reader could hand over, with strings of arbitrary UTF-16 code units. */
const anyRecord = fc.anything({
  stringUnit: 'binary',
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withSparseArray: true,
  withTypedArray: true,
});

/** A string of arbitrary UTF-16 code units: NUL, every control character and lone surrogates included. */
const anyCodeUnits = fc.string({ unit: 'binary' });
const anyUnits = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((u) => String.fromCharCode(u)) });

/** Whether PostgreSQL's `text` (UTF-8) takes `text` as it is, and a page or a log line shows no raw control. */
function isSafeText(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x20 || (unit >= 0x7f && unit <= 0x9f) || unit === 0x2028 || unit === 0x2029) return false;
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
      i++;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) return false;
  }
  return true;
}

function nested(depth: number): unknown {
  let value: unknown = { leaf: '\u0000' };
  for (let i = 0; i < depth; i++) value = { child: value };
  return value;
}

describe('storableRaw', () => {
  it('never throws, and keeps only safe text within the budget with its full size, or the reason why not', () => {
    fc.assert(
      fc.property(
        fc.oneof(anyRecord, anyCodeUnits, anyUnits),
        fc.integer({ min: 0, max: 300 }),
        (value, budget) => {
          const kept = storableRaw(value, budget);

          expect(kept.fingerprint).toMatch(/^[A-Za-z0-9_-]{43}$/);
          if (kept.text === null) {
            expect(kept.bytes).toBeNull();
            if (value !== undefined) expect(kept.unstoredReason).toEqual(expect.any(String));
            return;
          }
          expect(isSafeText(kept.text)).toBe(true);
          expect(Buffer.byteLength(kept.text, 'utf8')).toBeLessThanOrEqual(budget);
          expect(kept.bytes).toBeGreaterThanOrEqual(Buffer.byteLength(kept.text, 'utf8'));
          expect(kept.unstoredReason).toBeNull();
          expect(isSafeText(kept.unstoredReason ?? '')).toBe(true);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('keeps a JSON value (not a string) whole and faithful when it fits: its text parses back to the same value', () => {
    const nonString = fc.jsonValue({ stringUnit: 'binary' }).filter((value) => typeof value !== 'string');
    fc.assert(
      fc.property(nonString, (value) => {
        const whole = JSON.stringify(value);

        const kept = storableRaw(value, 1_000_000);

        expect(kept.text).not.toBeNull();
        expect(JSON.parse(kept.text ?? '')).toEqual(JSON.parse(whole));
        expect(kept.bytes).toBe(Buffer.byteLength(kept.text ?? '', 'utf8'));
      }),
    );
  });

  it('keeps the reader text of a record with NUL, other controls and lone surrogates escaped', () => {
    const kept = storableRaw('{"id":"a\u0000b\u0007\udfff\ud800\u0085\ud83d\ude00"}');

    expect(kept.text).toBe('{"id":"a\\u0000b\\u0007\\udfff\\ud800\\u0085\ud83d\ude00"}');
    expect(kept.bytes).toBe(Buffer.byteLength(kept.text ?? '', 'utf8'));
  });

  it('cuts a record over the budget on a character boundary and gives its full size', () => {
    const record = { blob: '😀é'.repeat(10_000) };
    const whole = JSON.stringify(record);

    const kept = storableRaw(record, 1_001);

    expect(kept.bytes).toBe(Buffer.byteLength(whole, 'utf8'));
    expect(Buffer.byteLength(kept.text ?? '', 'utf8')).toBeLessThanOrEqual(1_001);
    expect(Buffer.byteLength(kept.text ?? '', 'utf8')).toBeGreaterThan(1_001 - 4);
    expect(whole.startsWith(kept.text ?? 'none')).toBe(true);
  });

  it('keeps no text but the reason for what JSON cannot write, and a fingerprint for each', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const throwing = {
      toJSON() {
        throw new Error('no\u0000pe\nsecond line');
      },
    };

    const deep = storableRaw(nested(100_000));
    const cycle = storableRaw(cyclic);
    const bigint = storableRaw({ n: 1n });
    const thrower = storableRaw(throwing);
    const fn = storableRaw(() => 1);

    expect(deep).toMatchObject({
      text: null,
      bytes: null,
      unstoredReason: expect.stringMatching(/RangeError/),
    });
    expect(cycle.unstoredReason).toMatch(/^JSON cannot write it: TypeError: Converting circular/);
    expect(bigint.unstoredReason).toMatch(/TypeError/);
    expect(thrower.unstoredReason).toBe('JSON cannot write it: Error: no\\u0000pe');
    expect(fn.unstoredReason).toBe('JSON cannot write a function');
    expect(new Set([deep, cycle, bigint, thrower, fn].map((k) => k.fingerprint)).size).toBe(5);
  });

  it('keeps nothing, and no reason, when there is no record', () => {
    expect(storableRaw(undefined)).toMatchObject({ text: null, bytes: null, unstoredReason: null });
  });
});

describe('fingerprintOf', () => {
  it('is the same for the same content whatever the order of keys, and differs for different content', () => {
    expect(fingerprintOf({ a: 1, b: [1, 'x'] })).toBe(fingerprintOf({ b: [1, 'x'], a: 1 }));
    expect(fingerprintOf({ a: 1 })).not.toBe(fingerprintOf({ a: '1' }));
    expect(fingerprintOf('a\ud800')).not.toBe(fingerprintOf('a\udc00'));
    expect(fingerprintOf(nested(50_000))).toBe(fingerprintOf(nested(50_000)));
  });

  it('never throws and is deterministic, even for a value that throws while being read', () => {
    const hostile = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error('boom');
        },
      },
    );

    expect(fingerprintOf(hostile)).toBe(fingerprintOf(hostile));
    fc.assert(
      fc.property(anyRecord, (value) => {
        expect(fingerprintOf(value)).toBe(fingerprintOf(value));
      }),
    );
  });
});

describe('escapeControlCharacters and safeText', () => {
  it('leave only safe text, change nothing safe, and stay within the byte bound', () => {
    fc.assert(
      fc.property(fc.oneof(anyCodeUnits, anyUnits), fc.integer({ min: 0, max: 64 }), (text, max) => {
        const escaped = escapeControlCharacters(text);

        expect(isSafeText(escaped)).toBe(true);
        if (isSafeText(text)) expect(escaped).toBe(text);
        expect(isSafeText(safeText(text, max))).toBe(true);
        expect(Buffer.byteLength(safeText(text, max), 'utf8')).toBeLessThanOrEqual(max);
      }),
      { numRuns: 2_000 },
    );
  });

  it('escape inside JSON strings without changing the JSON value', () => {
    fc.assert(
      fc.property(anyCodeUnits, (text) => {
        expect(JSON.parse(escapeControlCharacters(JSON.stringify(text)))).toBe(text);
      }),
    );
  });
});
