import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PARTITIONS } from './asff.ts';
import {
  ACCOUNT_ID_PATTERN,
  AWS_REGION_PATTERN,
  accountIdSchema,
  DOTTED_HOST_NAME_PATTERN,
  formatRoleArn,
  HOST_NAME_PATTERN,
  IAM_ROLE_NAME_PATTERN,
  isAccountId,
  isAwsRegion,
  isHostAndPort,
  isIamRoleName,
  isPartition,
  isRfc3339DateTime,
  parseRoleArn,
  partitionOfRegion,
  rfc3339Schema,
  roleArnSchema,
} from './identifiers.ts';

const accountIdArb = fc.stringMatching(ACCOUNT_ID_PATTERN);
const partitionArb = fc.constantFrom(...PARTITIONS);
const roleNameArb = fc.stringMatching(IAM_ROLE_NAME_PATTERN);
const partsArb = fc.record({ partition: partitionArb, accountId: accountIdArb, roleName: roleNameArb });

describe('account IDs', () => {
  it.each(['123456789012', '000000000000'])('accepts %s', (value) => {
    expect(isAccountId(value)).toBe(true);
    expect(accountIdSchema.safeParse(value).success).toBe(true);
  });

  it.each(['12345678901', '1234567890123', '12345678901a', ' 123456789012', '１２３４５６７８９０１２', ''])(
    'refuses %j',
    (value) => {
      expect(isAccountId(value)).toBe(false);
      expect(accountIdSchema.safeParse(value).success).toBe(false);
    },
  );
});

describe('regions and their partitions', () => {
  it.each([
    ['us-east-1', 'aws'],
    ['ap-southeast-2', 'aws'],
    ['il-central-1', 'aws'],
    ['ca-west-1', 'aws'],
    ['cn-north-1', 'aws-cn'],
    ['cn-northwest-1', 'aws-cn'],
    ['us-gov-west-1', 'aws-us-gov'],
    ['us-gov-east-1', 'aws-us-gov'],
  ])('%s is a region of %s', (region, partition) => {
    expect(isAwsRegion(region)).toBe(true);
    expect(partitionOfRegion(region)).toBe(partition);
  });

  it.each([
    'us-iso-east-1',
    'us-isob-east-1',
    'eusc-de-east-1',
    'US-EAST-1',
    'us-east',
    'us-east-100',
    'useast1',
    'us-east-1 ',
    '',
  ])('%j is not a region of a supported partition', (value) => {
    expect(isAwsRegion(value)).toBe(false);
    expect(partitionOfRegion(value)).toBeUndefined();
  });

  it('gives every region name a supported partition (property)', () => {
    fc.assert(
      fc.property(fc.stringMatching(AWS_REGION_PATTERN), (region) => {
        const partition = partitionOfRegion(region);
        expect(partition !== undefined && isPartition(partition)).toBe(true);
      }),
    );
  });

  it('knows exactly the supported partitions', () => {
    expect(PARTITIONS.filter(isPartition)).toEqual(['aws', 'aws-cn', 'aws-us-gov']);
    expect(['aws-iso', 'AWS', 'aws-eusc', ''].some(isPartition)).toBe(false);
  });
});

describe('IAM role names', () => {
  it.each([
    ['r', true],
    ['Data443-VaikoraSecurityHub', true],
    ['a+b=c,d.e@f_g-h', true],
    ['r'.repeat(64), true],
    ['r'.repeat(65), false],
    ['', false],
    ['a/b', false],
    ['a b', false],
    ['a:b', false],
  ])('%j: %s', (name, ok) => {
    expect(isIamRoleName(name)).toBe(ok);
  });
});

describe('role ARNs', () => {
  it('round-trip: parseRoleArn(formatRoleArn(parts)) is parts (property)', () => {
    fc.assert(
      fc.property(partsArb, (parts) => {
        const arn = formatRoleArn(parts);
        expect(parseRoleArn(arn)).toEqual(parts);
        expect(roleArnSchema.safeParse(arn).success).toBe(true);
      }),
    );
  });

  it('splits a role ARN of each partition', () => {
    expect(parseRoleArn('arn:aws-us-gov:iam::123456789012:role/Data443-VaikoraSecurityHub')).toEqual({
      partition: 'aws-us-gov',
      accountId: '123456789012',
      roleName: 'Data443-VaikoraSecurityHub',
    });
  });

  it.each([
    'arn:aws:iam::123456789012:role/path/name',
    'arn:aws:iam::123456789012:user/name',
    'arn:aws-iso:iam::123456789012:role/name',
    'arn:aws:iam::12345678901:role/name',
    'arn:aws:iam:us-east-1:123456789012:role/name',
    `arn:aws:iam::123456789012:role/${'r'.repeat(65)}`,
    'arn:aws:iam::123456789012:role/',
    'arn:aws:sts::123456789012:assumed-role/name/session',
  ])('refuses %s', (arn) => {
    expect(parseRoleArn(arn)).toBeNull();
    expect(roleArnSchema.safeParse(arn).success).toBe(false);
  });

  it('refuses to format parts that are no role ARN, even when the text would parse as another', () => {
    expect(() =>
      formatRoleArn({ partition: 'aws', accountId: '123456789012:role/x', roleName: 'y' }),
    ).toThrow(RangeError);
    expect(() => formatRoleArn({ partition: 'aws', accountId: '123456789012', roleName: 'a/b' })).toThrow(
      RangeError,
    );
  });
});

describe('RFC 3339 date-times', () => {
  it.each([
    '2026-11-01T00:00:00Z',
    '2026-11-01T00:00:00.123Z',
    '2026-11-01T00:00:00.123456789Z',
    '2026-11-01T23:59:59+05:30',
    '2026-11-01T00:00:00-08:00',
    '2024-02-29T12:00:00Z',
  ])('accepts %s', (value) => {
    expect(isRfc3339DateTime(value)).toBe(true);
    expect(rfc3339Schema.safeParse(value).success).toBe(true);
  });

  it.each([
    ['2026-11-01 00:00:00Z', 'a space for T'],
    ['2026-11-01T00:00:00', 'no offset'],
    ['2026-11-01T00:00Z', 'no seconds'],
    ['2026-11-01T00:00:00.1234567890Z', 'ten fraction digits'],
    ['2026-11-01T00:00:00+0530', 'an offset without a colon'],
    ['2026-02-30T00:00:00Z', 'February 30'],
    ['2025-02-29T00:00:00Z', 'February 29 of a common year'],
    ['2026-11-01T24:00:00Z', 'hour 24'],
    ['2026-11-01', 'a date only'],
  ])('refuses %s (%s)', (value) => {
    expect(isRfc3339DateTime(value)).toBe(false);
    expect(rfc3339Schema.safeParse(value).success).toBe(false);
  });

  it('accepts every Date written by toISOString, and Date.parse reads it back (property)', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date(0), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true }),
        (d) => {
          const text = d.toISOString();
          expect(isRfc3339DateTime(text)).toBe(true);
          expect(Date.parse(text)).toBe(d.getTime());
        },
      ),
    );
  });
});

describe('host names', () => {
  it.each(['localhost', 'api.vaikora.com', 'a-b.c0', `${'a'.repeat(63)}.com`])(
    '%s is a host name',
    (host) => {
      expect(HOST_NAME_PATTERN.test(host)).toBe(true);
    },
  );

  it.each(['API.vaikora.com', 'api.vaikora.com.', '-a.com', 'a-.com', 'a..com', `${'a'.repeat(64)}.com`, ''])(
    '%j is not a host name',
    (host) => {
      expect(HOST_NAME_PATTERN.test(host)).toBe(false);
    },
  );

  it('caps a host name at 253 characters', () => {
    const label = 'a'.repeat(63);
    const name253 = [label, label, label, 'a'.repeat(61)].join('.');

    expect(name253).toHaveLength(253);
    expect(HOST_NAME_PATTERN.test(name253)).toBe(true);
    expect(HOST_NAME_PATTERN.test(`a${name253}`)).toBe(false);
  });

  it('a dotted host name has two labels or more', () => {
    expect(DOTTED_HOST_NAME_PATTERN.test('api.example.com')).toBe(true);
    expect(DOTTED_HOST_NAME_PATTERN.test('localhost')).toBe(false);
  });

  it.each([
    ['localhost:8080', true],
    ['api.vaikora.com', true],
    ['127.0.0.1:1', true],
    ['api.vaikora.com:65535', true],
    ['api.vaikora.com:65536', false],
    ['api.vaikora.com:0', false],
    ['api.vaikora.com:', false],
    [':8080', false],
    ['a:b:80', false],
  ])('host and port %s: %s', (value, ok) => {
    expect(isHostAndPort(value)).toBe(ok);
  });
});
