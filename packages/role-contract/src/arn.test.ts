import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isCustomerRoleName, parseRoleArn, roleArn } from './arn.ts';
import { accountIdArb, partitionArb, roleNameArb, workerRoleNameArb } from './testing/arbitraries.ts';

describe('roleArn', () => {
  it('builds the ARN of a role at the root path', () => {
    const arn = roleArn({
      partition: 'aws-us-gov',
      accountId: '123456789012',
      roleName: 'Data443-VaikoraSecurityHub',
    });

    expect(arn).toBe('arn:aws-us-gov:iam::123456789012:role/Data443-VaikoraSecurityHub');
  });

  it('refuses an account that is not 12 digits and a name IAM would refuse', () => {
    const base = { partition: 'aws', accountId: '123456789012', roleName: 'r' } as const;

    expect(() => roleArn({ ...base, accountId: '12345678901' })).toThrow(
      expect.objectContaining({ code: 'invalid_account_id' }),
    );
    expect(() => roleArn({ ...base, roleName: 'a/b' })).toThrow(
      expect.objectContaining({ code: 'invalid_role_name' }),
    );
  });
});

describe('parseRoleArn', () => {
  it('is the inverse of roleArn', () => {
    fc.assert(
      fc.property(
        partitionArb,
        accountIdArb,
        fc.oneof(roleNameArb, workerRoleNameArb),
        (partition, accountId, name) => {
          const parts = { partition, accountId, roleName: name };

          expect(parseRoleArn(roleArn(parts))).toEqual(parts);
        },
      ),
    );
  });

  it.each([
    ['an unsupported partition', 'arn:aws-iso:iam::123456789012:role/Data443-Vaikora'],
    ['an 11-digit account', 'arn:aws:iam::12345678901:role/Data443-Vaikora'],
    ['a 13-digit account', 'arn:aws:iam::1234567890123:role/Data443-Vaikora'],
    ['a region', 'arn:aws:iam:us-east-1:123456789012:role/Data443-Vaikora'],
    ['a path', 'arn:aws:iam::123456789012:role/team/Data443-Vaikora'],
    ['a user', 'arn:aws:iam::123456789012:user/Data443-Vaikora'],
    ['an assumed-role session', 'arn:aws:sts::123456789012:assumed-role/Data443-Vaikora/s'],
    ['a 65-character name', `arn:aws:iam::123456789012:role/${'a'.repeat(65)}`],
    ['an empty name', 'arn:aws:iam::123456789012:role/'],
    ['a space', 'arn:aws:iam::123456789012:role/Data443 Vaikora'],
    ['a trailing newline', 'arn:aws:iam::123456789012:role/Data443-Vaikora\n'],
    ['full-width digits', 'arn:aws:iam::１２３４５６７８９０１２:role/Data443-Vaikora'],
    ['an empty string', ''],
  ])('returns null for %s', (_what, arn) => {
    expect(parseRoleArn(arn)).toBeNull();
  });

  it('never throws, whatever the string', () => {
    // Any code point, lone surrogates included; cheaper to build than fast-check's 'binary' unit.
    const anyString = fc.string({ unit: fc.nat(0x10ffff).map((cp) => String.fromCodePoint(cp)) });
    const nearMiss = fc
      .tuple(
        fc.constantFrom('arn:', 'arn:aws:', 'arn:aws-cn:iam::', ''),
        anyString,
        fc.constantFrom(':role/', ':root', '/', ''),
        fc.string(),
      )
      .map((parts) => parts.join(''));

    fc.assert(
      fc.property(fc.oneof(anyString, nearMiss), (arn) => {
        const parsed = parseRoleArn(arn);
        return parsed === null || roleArn(parsed) === arn;
      }),
    );
  });
});

describe('isCustomerRoleName', () => {
  it('accepts only names the worker is allowed to assume', () => {
    expect(isCustomerRoleName('Data443-VaikoraSecurityHub')).toBe(true);
    expect(isCustomerRoleName('Data443-Vaikora')).toBe(true);
    expect(isCustomerRoleName('SecurityHubImporter')).toBe(false);
  });
});
