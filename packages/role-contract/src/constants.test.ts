import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_ROLE_NAME,
  EXTERNAL_ID_PATTERN,
  IAM_ROLE_NAME_PATTERN,
  ROLE_NAME_PATTERN,
  ROLE_NAME_PREFIX,
} from './constants.ts';
import { externalIdArb } from './testing/arbitraries.ts';

describe('EXTERNAL_ID_PATTERN', () => {
  it('accepts every 32-byte buffer encoded as base64url without padding', () => {
    fc.assert(fc.property(externalIdArb, (externalId) => EXTERNAL_ID_PATTERN.test(externalId)));
  });

  it('rejects other lengths, padding and the standard base64 alphabet', () => {
    const bytes = Buffer.alloc(32, 0xfb);

    const rejected = [
      Buffer.alloc(31, 1).toString('base64url'),
      Buffer.alloc(33, 1).toString('base64url'),
      `${bytes.toString('base64url')}=`,
      bytes.toString('base64'),
      `${Buffer.alloc(32, 1).toString('base64url')}\n`,
    ];

    expect(bytes.toString('base64')).toMatch(/[+/]/);
    for (const value of rejected) expect(EXTERNAL_ID_PATTERN.test(value), value).toBe(false);
  });
});

describe('role names', () => {
  it('every customer role name is an IAM role name that starts with the prefix', () => {
    fc.assert(
      fc.property(fc.stringMatching(ROLE_NAME_PATTERN), (name) => {
        expect(name.startsWith(ROLE_NAME_PREFIX)).toBe(true);
        expect(IAM_ROLE_NAME_PATTERN.test(name)).toBe(true);
      }),
    );
  });

  it('the default role name is a customer role name', () => {
    expect(ROLE_NAME_PATTERN.test(DEFAULT_ROLE_NAME)).toBe(true);
  });

  it('accepts a 64-character name and rejects a 65-character one', () => {
    const name64 = ROLE_NAME_PREFIX + 'x'.repeat(64 - ROLE_NAME_PREFIX.length);

    expect(ROLE_NAME_PATTERN.test(name64)).toBe(true);
    expect(ROLE_NAME_PATTERN.test(`${name64}x`)).toBe(false);
    expect(ROLE_NAME_PATTERN.test('data443-vaikora-lowercase')).toBe(false);
  });
});
