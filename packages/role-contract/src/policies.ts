import {
  assertAccountId,
  assertExternalId,
  assertPartition,
  assertWorkerRoleName,
  type Partition,
} from './constants.ts';

/** An IAM policy statement, in the shape this package writes (only the elements it uses). */
export interface PolicyStatement {
  readonly Sid: string;
  readonly Effect: 'Allow';
  readonly Principal?: { readonly AWS: string };
  readonly Action: string | readonly string[];
  readonly Resource?: string;
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

/** An IAM policy document. */
export interface PolicyDocument {
  readonly Version: '2012-10-17';
  readonly Statement: readonly PolicyStatement[];
}

export interface TrustPolicyInput {
  readonly partition: Partition;
  readonly data443AccountId: string;
  readonly workerRoleName: string;
  readonly externalId: string;
}

export interface PermissionsPolicyInput {
  readonly partition: Partition;
  /** The customer's account, where the role lives and findings are imported. */
  readonly accountId: string;
}

/** The trust policy the template gives the role once its parameters are substituted (see ADR 0040). */
export function customerTrustPolicy(input: TrustPolicyInput): PolicyDocument {
  const { partition, data443AccountId, workerRoleName, externalId } = input;
  assertPartition(partition);
  assertAccountId(data443AccountId, 'data443AccountId');
  assertWorkerRoleName(workerRoleName);
  assertExternalId(externalId);
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'Data443ConnectorWorkerOnly',
        Effect: 'Allow',
        Principal: { AWS: `arn:${partition}:iam::${data443AccountId}:root` },
        Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'],
        Condition: {
          StringEquals: { 'sts:ExternalId': externalId },
          ArnEquals: {
            'aws:PrincipalArn': `arn:${partition}:iam::${data443AccountId}:role/${workerRoleName}`,
          },
        },
      },
    ],
  };
}

/** The role's inline permissions policy: import findings as this account, check the hub; nothing else. */
export function customerPermissionsPolicy(input: PermissionsPolicyInput): PolicyDocument {
  const { partition, accountId } = input;
  assertPartition(partition);
  assertAccountId(accountId, 'accountId');
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'ImportFindingsAsThisAccount',
        Effect: 'Allow',
        Action: 'securityhub:BatchImportFindings',
        Resource: `arn:${partition}:securityhub:*:${accountId}:product/${accountId}/default`,
      },
      {
        Sid: 'CheckSecurityHubIsEnabled',
        Effect: 'Allow',
        Action: 'securityhub:DescribeHub',
        Resource: `arn:${partition}:securityhub:*:${accountId}:hub/default`,
      },
    ],
  };
}
