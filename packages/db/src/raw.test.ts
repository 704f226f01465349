import { describe, expect, it } from 'vitest';
import { boundRaw } from './raw.ts';

describe('boundRaw', () => {
  it('keeps a record whose JSON fits the budget as it is', () => {
    const record = { id: 'a1', risk_level: 'high', nested: { n: 1 } };

    expect(boundRaw(record, 1024)).toEqual(record);
  });

  it('replaces a record over the budget by its size and a preview that fits the budget', () => {
    const record = { blob: 'é'.repeat(10_000) };

    const bounded = boundRaw(record, 1000);

    expect(bounded).toMatchObject({ truncated: true, bytes: Buffer.byteLength(JSON.stringify(record)) });
    const preview = (bounded as { preview: string }).preview;
    expect(Buffer.byteLength(preview, 'utf8')).toBeLessThanOrEqual(1000);
    expect(preview.startsWith('{"blob":"éé')).toBe(true);
  });

  it('returns a marker instead of throwing for values JSON cannot carry', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;

    expect(boundRaw(cyclic)).toEqual({ truncated: true, bytes: 0, preview: '' });
    expect(boundRaw(undefined)).toEqual({ truncated: true, bytes: 0, preview: '' });
  });
});
