import { describe, expect, it } from 'vitest';
import { customerPermissionsPolicy, customerTrustPolicy } from './policies.ts';

const input = {
  partition: 'aws',
  data443AccountId: '444455556666',
  workerRoleName: 'vsh-connector-worker',
  externalId: 'AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde',
} as const;

describe('customerTrustPolicy', () => {
  it('admits only the worker role of the Data443 account, with the External ID, to assume and set a source identity', () => {
    const policy = customerTrustPolicy(input);

    expect(policy).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'Data443ConnectorWorkerOnly',
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::444455556666:root' },
          Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'],
          Condition: {
            StringEquals: { 'sts:ExternalId': input.externalId },
            ArnEquals: { 'aws:PrincipalArn': 'arn:aws:iam::444455556666:role/vsh-connector-worker' },
          },
        },
      ],
    });
  });

  it('refuses values the template would refuse, without echoing the External ID', () => {
    const badExternalId = `${input.externalId}=`;

    expect(() => customerTrustPolicy({ ...input, externalId: badExternalId })).toThrow(
      expect.objectContaining({
        code: 'invalid_external_id',
        message: expect.not.stringContaining(badExternalId),
      }),
    );
    expect(() => customerTrustPolicy({ ...input, data443AccountId: '4444' })).toThrow(
      expect.objectContaining({ code: 'invalid_account_id' }),
    );
    expect(() => customerTrustPolicy({ ...input, workerRoleName: 'a/b' })).toThrow(
      expect.objectContaining({ code: 'invalid_worker_role_name' }),
    );
  });
});

describe('customerPermissionsPolicy', () => {
  it('scopes both statements to the customer account in the given partition', () => {
    const policy = customerPermissionsPolicy({ partition: 'aws-cn', accountId: '123456789012' });

    expect(policy.Statement.map((s) => s.Resource)).toEqual([
      'arn:aws-cn:securityhub:*:123456789012:product/123456789012/default',
      'arn:aws-cn:securityhub:*:123456789012:hub/default',
    ]);
  });

  it('refuses an unsupported partition', () => {
    // @ts-expect-error: the partition type already refuses it; this checks the runtime guard
    expect(() => customerPermissionsPolicy({ partition: 'aws-iso', accountId: '123456789012' })).toThrow(
      expect.objectContaining({ code: 'invalid_partition' }),
    );
  });
});
