import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AsffFinding } from './asff.ts';
import { batchFindings } from './batch.ts';
import type { ValidFinding } from './validate.ts';

const item = (i: number, bytes: number): ValidFinding => ({
  finding: { Id: `vaikora-${i}` } as AsffFinding,
  bytes,
});

describe('batchFindings', () => {
  it('cuts at 100 findings', () => {
    const batches = batchFindings(Array.from({ length: 250 }, (_, i) => item(i, 1000)));

    expect(batches.map((b) => b.length)).toEqual([100, 100, 50]);
  });

  it('cuts at the request byte limit', () => {
    const batches = batchFindings(Array.from({ length: 60 }, (_, i) => item(i, 200 * 1024)));

    for (const batch of batches) {
      const size = 15 + batch.reduce((sum, f) => sum + f.bytes, 0) + batch.length - 1;
      expect(size).toBeLessThanOrEqual(6 * 1024 * 1024);
    }
    expect(batches[0]).toHaveLength(30);
  });

  it('returns no batch for no findings', () => {
    expect(batchFindings([])).toEqual([]);
  });

  it('keeps order, loses nothing and respects both limits for any input', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 100, max: 240 * 1024 }), { maxLength: 400 }),
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 240 * 1024 + 16, max: 6 * 1024 * 1024 }),
        (sizes, maxFindings, maxBytes) => {
          const items = sizes.map((s, i) => item(i, s));

          const batches = batchFindings(items, { maxFindings, maxBytes });

          expect(batches.flat()).toEqual(items);
          for (const b of batches) {
            expect(b.length).toBeGreaterThan(0);
            expect(b.length).toBeLessThanOrEqual(maxFindings);
            expect(15 + b.reduce((s, f) => s + f.bytes, 0) + b.length - 1).toBeLessThanOrEqual(maxBytes);
          }
        },
      ),
    );
  });
});
