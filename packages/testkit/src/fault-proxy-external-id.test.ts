import { describe, expect, it } from 'vitest';
import { trustPolicyAllowsExternalId } from './fault-proxy.ts';

const policyWith = (
  condition?: Record<string, Record<string, string | string[]>>,
  action: unknown = 'sts:AssumeRole',
) => ({
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Principal: { AWS: 'arn:aws:iam::444455556666:root' },
      Action: action,
      ...(condition === undefined ? {} : { Condition: condition }),
    },
  ],
});

describe('trustPolicyAllowsExternalId', () => {
  it('allows the ExternalId a StringEquals condition names, and refuses another or none', () => {
    const policy = policyWith({ StringEquals: { 'sts:ExternalId': 'abc' } });

    expect(trustPolicyAllowsExternalId(policy, 'abc')).toBe(true);
    expect(trustPolicyAllowsExternalId(policy, 'abd')).toBe(false);
    expect(trustPolicyAllowsExternalId(policy, undefined)).toBe(false);
  });

  it('allows any ExternalId, or none, when no statement conditions on it', () => {
    const policy = policyWith({ ArnEquals: { 'aws:PrincipalArn': 'arn:aws:iam::444455556666:role/w' } });

    expect(trustPolicyAllowsExternalId(policy, undefined)).toBe(true);
    expect(trustPolicyAllowsExternalId(policy, 'anything')).toBe(true);
  });

  it('reads condition keys case-insensitively and lists of values as alternatives', () => {
    const policy = policyWith({ StringEquals: { 'STS:EXTERNALID': ['one', 'two'] } });

    expect(trustPolicyAllowsExternalId(policy, 'two')).toBe(true);
    expect(trustPolicyAllowsExternalId(policy, 'three')).toBe(false);
  });

  it('evaluates StringLike patterns and IfExists', () => {
    expect(trustPolicyAllowsExternalId(policyWith({ StringLike: { 'sts:ExternalId': 'ab*' } }), 'abc')).toBe(
      true,
    );
    expect(
      trustPolicyAllowsExternalId(policyWith({ StringEqualsIfExists: { 'sts:ExternalId': 'x' } }), undefined),
    ).toBe(true);
  });

  it('ignores statements that do not allow sts:AssumeRole, and refuses what is not a policy', () => {
    expect(trustPolicyAllowsExternalId(policyWith(undefined, 'sts:TagSession'), 'x')).toBe(false);
    expect(trustPolicyAllowsExternalId(policyWith(undefined, ['sts:*']), undefined)).toBe(true);
    expect(trustPolicyAllowsExternalId('not a policy', 'x')).toBe(false);
  });
});
