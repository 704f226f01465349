import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelay, classifyStatus, parseRetryAfter } from './retry.ts';

describe('parseRetryAfter', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);

  it.each([
    ['0', 0],
    ['3', 3000],
    [' 120 ', 120_000],
    ['1.5', 1500],
  ])('reads delta-seconds %j as %i ms', (header, expected) => {
    expect(parseRetryAfter(header, now)).toBe(expected);
  });

  it('reads an HTTP date as the time left until it', () => {
    const header = new Date(now + 7000).toUTCString();

    expect(parseRetryAfter(header, now)).toBe(7000);
  });

  it('reads an HTTP date in the past as no wait', () => {
    expect(parseRetryAfter(new Date(now - 60_000).toUTCString(), now)).toBe(0);
  });

  it.each([null, undefined, '', 'soon', '-5', '12abc', '1e3'])(
    'ignores an unreadable header %j',
    (header) => {
      expect(parseRetryAfter(header, now)).toBeUndefined();
    },
  );

  it('caps absurd values at one day', () => {
    expect(parseRetryAfter('99999999999', now)).toBe(86_400_000);
  });
});

describe('backoffDelay', () => {
  it('stays within [0, min(max, base * 2^retry)] for any random draw', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (retry, base, max, draw) => {
          const delay = backoffDelay(retry, base, max, () => draw);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThanOrEqual(Math.min(max, base * 2 ** retry));
          expect(Number.isInteger(delay)).toBe(true);
        },
      ),
    );
  });

  it('grows its ceiling exponentially until the cap', () => {
    const top = () => 0.999_999;

    expect([0, 1, 2, 3, 4, 5].map((retry) => backoffDelay(retry, 100, 1000, top))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
  });
});

describe('classifyStatus', () => {
  it.each([
    [401, 'UNAUTHORIZED', false],
    [403, 'FORBIDDEN', false],
    [429, 'RATE_LIMITED', true],
    [408, 'TIMEOUT', true],
    [500, 'UNAVAILABLE', true],
    [502, 'UNAVAILABLE', true],
    [503, 'UNAVAILABLE', true],
    [504, 'UNAVAILABLE', true],
    [400, 'INVALID_CONFIG', false],
    [404, 'INVALID_CONFIG', false],
    [422, 'INVALID_CONFIG', false],
    [301, 'BAD_RESPONSE', false],
    [304, 'BAD_RESPONSE', false],
  ] as const)('maps HTTP %i to %s (retryable: %s)', (status, code, retryable) => {
    expect(classifyStatus(status)).toEqual({ code, retryable });
  });
});
