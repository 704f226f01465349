import { describe, expect, it } from 'vitest';
import { externalIdDenial, trustPolicyAllowsExternalId } from './iam.ts';

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

describe('externalIdDenial', () => {
  const roleArn = 'arn:aws:iam::111122223333:role/path/Data443-Vaikora-Importer';
  const form = (externalId?: string) =>
    new URLSearchParams({
      Action: 'AssumeRole',
      RoleArn: roleArn,
      ...(externalId ? { ExternalId: externalId } : {}),
    });
  const getRoleAnswering = (policy: string, status = 200) => {
    const calls: string[][] = [];
    const getRole = async (account: string, roleName: string) => {
      calls.push([account, roleName]);
      return {
        status,
        body: `<GetRoleResult><Role><AssumeRolePolicyDocument>${policy}</AssumeRolePolicyDocument></Role></GetRoleResult>`,
      };
    };
    return { getRole, calls };
  };
  const policy = JSON.stringify(policyWith({ StringEquals: { 'sts:ExternalId': 'abc' } }));

  it("reads the role in its own account and lets the trust policy's ExternalId through", async () => {
    const { getRole, calls } = getRoleAnswering(encodeURIComponent(policy));

    const denial = await externalIdDenial(form('abc'), 'AKID', getRole);

    expect(denial).toBeUndefined();
    expect(calls).toEqual([['111122223333', 'Data443-Vaikora-Importer']]);
  });

  it('denies another ExternalId the way IAM words it', async () => {
    const { getRole } = getRoleAnswering(policy.replaceAll('"', '&quot;'));

    const denial = await externalIdDenial(form('abd'), 'AKID', getRole);

    expect(denial).toBe(`User: AKID is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`);
  });

  it('denies a role it cannot read, a missing role, an unreadable policy and a malformed ARN', async () => {
    const unreachable = async () => undefined;
    const { getRole: missing } = getRoleAnswering('', 404);
    const { getRole: garbled } = getRoleAnswering('%7Bnot json');
    const badArn = new URLSearchParams({ RoleArn: 'arn:aws:iam::1:user/x', ExternalId: 'abc' });

    const denials = await Promise.all([
      externalIdDenial(form('abc'), undefined, unreachable),
      externalIdDenial(form('abc'), 'AKID', missing),
      externalIdDenial(form('abc'), 'AKID', garbled),
      externalIdDenial(badArn, 'AKID', unreachable),
    ]);

    expect(denials.every((d) => typeof d === 'string' && d.includes('is not authorized'))).toBe(true);
    expect(denials[0]).toMatch(/^User: unknown /);
  });
});
