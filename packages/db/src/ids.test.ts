import { describe, expect, it } from 'vitest';
import { newId } from './ids.ts';

describe('newId', () => {
  it('is the prefix, an underscore and 26 lower-case Crockford base32 characters', () => {
    const id = newId('ten');

    expect(id).toMatch(/^ten_[0-9a-hjkmnp-tv-z]{26}$/);
  });

  it('sorts ids made at later milliseconds after earlier ones', () => {
    const earlier = newId('run', new Date('2026-01-01T00:00:00.000Z'));
    const later = newId('run', new Date('2026-01-01T00:00:00.001Z'));

    expect(earlier < later).toBe(true);
  });

  it('does not repeat within the same millisecond', () => {
    const now = new Date('2026-01-01T00:00:00.000Z');

    const ids = new Set(Array.from({ length: 10_000 }, () => newId('rej', now)));

    expect(ids.size).toBe(10_000);
  });
});
