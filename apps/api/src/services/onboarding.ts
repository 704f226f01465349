import type { AwsDestination } from '@vsh/db';
import {
  cloudFormationDeployCommand,
  customerPermissionsPolicy,
  customerRoleParameterValues,
  customerTrustPolicy,
  DEFAULT_STACK_NAME,
  type Partition,
  partitionOfRegion,
  quickCreateUrl,
  roleArn,
} from '@vsh/role-contract';
import type { ApiConfig } from '../deps.ts';

/** The template file name the deploy command refers to (the customer downloads the template first). */
export const TEMPLATE_FILE = 'vaikora-securityhub-role.yaml';

/** Where this API serves the customer-role template (public, no auth). */
export const TEMPLATE_PATH = `/templates/${TEMPLATE_FILE}`;

/** The role of an administrator in each local (moto) customer account, as the local stack creates it. */
const LOCAL_CUSTOMER_ADMIN_ROLE = 'CustomerAdmin';

/** What the customer needs to create a destination's role (the API's `Onboarding` object). */
export interface Onboarding {
  externalId: string;
  roleName: string;
  expectedRoleArn: string;
  trustPolicy: Record<string, unknown>;
  permissionsPolicy: Record<string, unknown>;
  templateUrl: string;
  stackName: string;
  parameters: Record<string, string>;
  quickCreateUrl: string | null;
  quickCreateUnavailableReason: string | null;
  deployCommand: string;
  localDeployAvailable: boolean;
}

/** The partition of a destination: every region of one destination is in the same partition. */
export function partitionOf(destination: Pick<AwsDestination, 'regions'>): Partition {
  const [first] = destination.regions;
  return partitionOfRegion(first ?? 'us-east-1');
}

/**
 * Everything the customer needs to create the role, all from @vsh/role-contract so the policy shown here,
 * the template and the worker's expectations cannot drift apart.
 */
interface PolicyShape extends Record<string, unknown> {
  Statement: unknown[];
}

/**
 * A Security Lake destination's role (ADR 0122) also writes under the custom source's prefix of the
 * lake's bucket, and lists it for verification: the statements the customer adds to the role.
 */
function withSecurityLake(
  policy: PolicyShape,
  partition: string,
  row: Pick<AwsDestination, 'securityLakeBucket' | 'securityLakeSource'>,
): Record<string, unknown> {
  const bucket = row.securityLakeBucket;
  const source = row.securityLakeSource;
  if (bucket === null || source === null) return policy;
  return {
    ...policy,
    Statement: [
      ...policy.Statement,
      {
        Sid: 'WriteTheSecurityLakeCustomSource',
        Effect: 'Allow',
        Action: 's3:PutObject',
        Resource: `arn:${partition}:s3:::${bucket}/ext/${source}/*`,
      },
      {
        Sid: 'ListTheSecurityLakeCustomSource',
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: `arn:${partition}:s3:::${bucket}`,
        Condition: { StringLike: { 's3:prefix': [`ext/${source}/*`] } },
      },
    ],
  };
}

export function onboardingOf(config: ApiConfig, row: AwsDestination, localDeploy = false): Onboarding {
  const partition = partitionOf(row);
  const parameterInput = {
    externalId: row.externalId,
    data443AccountId: config.data443AccountId,
    workerRoleName: config.workerRoleName,
    roleName: row.roleName,
  };
  const [region = 'us-east-1'] = row.regions;
  const cfnDeploy = cloudFormationDeployCommand({ ...parameterInput, templateFile: TEMPLATE_FILE });
  // Quick-create needs the template published over https (S3); a local stack publishes none.
  const published = config.customerTemplateUrl;
  return {
    externalId: row.externalId,
    roleName: row.roleName,
    expectedRoleArn: roleArn({ partition, accountId: row.accountId, roleName: row.roleName }),
    trustPolicy: customerTrustPolicy({
      partition,
      data443AccountId: config.data443AccountId,
      workerRoleName: config.workerRoleName,
      externalId: row.externalId,
    }) as unknown as Record<string, unknown>,
    permissionsPolicy: withSecurityLake(
      customerPermissionsPolicy({ partition, accountId: row.accountId }) as unknown as PolicyShape,
      partition,
      row,
    ),
    templateUrl: templateDownloadUrl(config),
    stackName: DEFAULT_STACK_NAME,
    parameters: { ...customerRoleParameterValues(parameterInput) },
    quickCreateUrl:
      published === undefined ? null : quickCreateUrl({ ...parameterInput, region, templateUrl: published }),
    quickCreateUnavailableReason:
      published !== undefined
        ? null
        : config.mode === 'local'
          ? 'the local stack publishes no template to S3: deploy the role locally or with the command'
          : 'no template is published (CUSTOMER_TEMPLATE_URL is not set)',
    // Only a local stack with an AWS endpoint (moto) has somewhere local to deploy to.
    deployCommand:
      config.mode === 'local' && config.awsEndpointUrl !== undefined
        ? localDeployCommand(config.awsEndpointUrl, row.accountId, region, cfnDeploy)
        : cfnDeploy,
    localDeployAvailable: config.mode === 'local' && localDeploy,
  };
}

/** The URL the customer downloads the template from: this API's own, absolute when the base URL is known. */
function templateDownloadUrl(config: Pick<ApiConfig, 'publicBaseUrl'>): string {
  return `${config.publicBaseUrl ?? ''}${TEMPLATE_PATH}`;
}

/**
 * The deploy command against the local stack: moto holds every local account, and serves one only to
 * credentials of a role in it, so the command first assumes the account's administrator role, then
 * deploys at the local endpoint.
 */
function localDeployCommand(endpoint: string, accountId: string, region: string, cfnDeploy: string): string {
  const adminRole = `arn:aws:iam::${accountId}:role/${LOCAL_CUSTOMER_ADMIN_ROLE}`;
  return [
    `export AWS_ENDPOINT_URL=${endpoint} AWS_REGION=${region} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing`,
    `export $(aws sts assume-role --role-arn ${adminRole} --role-session-name customer-admin --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text | awk '{print "AWS_ACCESS_KEY_ID="$1, "AWS_SECRET_ACCESS_KEY="$2, "AWS_SESSION_TOKEN="$3}')`,
    `${cfnDeploy} --region ${region} --endpoint-url ${endpoint}`,
  ].join('\n');
}
