import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStacksCommand,
  waitUntilStackCreateComplete,
} from '@aws-sdk/client-cloudformation';
import {
  DescribeHubCommand,
  EnableSecurityHubCommand,
  GetFindingsCommand,
  SecurityHubClient,
} from '@aws-sdk/client-securityhub';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity } from '@smithy/types';
import type { LocalAwsPort } from '@vsh/api';
import { renderTemplateBody } from '@vsh/role-contract';

const STATIC = { accessKeyId: 'testing', secretAccessKey: 'testing' };

/**
 * Credentials of an administrator in the customer's (local, moto) account. moto maps an assumed role
 * to the account in its ARN, which is how one local moto holds Data443's and the customer's accounts.
 */
export async function customerAdmin(
  motoEndpoint: string,
  accountId: string,
  region: string,
): Promise<AwsCredentialIdentity> {
  const sts = new STSClient({ endpoint: motoEndpoint, region, credentials: STATIC });
  try {
    const out = await sts.send(
      new AssumeRoleCommand({
        RoleArn: `arn:aws:iam::${accountId}:role/CustomerAdmin`,
        RoleSessionName: 'customer-admin',
      }),
    );
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error('moto returned no credentials');
    return {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      ...(c.SessionToken ? { sessionToken: c.SessionToken } : {}),
    };
  } finally {
    sts.destroy();
  }
}

/** What the customer does in their account: deploy our template with the parameters the API gave, turn Security Hub on. */
export async function deployCustomerRole(options: {
  motoEndpoint: string;
  accountId: string;
  region: string;
  data443AccountId: string;
  stackName: string;
  parameters: Readonly<Record<string, string>>;
}): Promise<string> {
  const credentials = await customerAdmin(options.motoEndpoint, options.accountId, options.region);
  const cfn = new CloudFormationClient({
    endpoint: options.motoEndpoint,
    region: options.region,
    credentials,
  });
  const hub = new SecurityHubClient({ endpoint: options.motoEndpoint, region: options.region, credentials });
  try {
    const existing = await cfn
      .send(new DescribeStacksCommand({ StackName: options.stackName }))
      .then((out) => out.Stacks?.[0])
      .catch(() => undefined);
    if (existing === undefined) {
      await cfn.send(
        new CreateStackCommand({
          StackName: options.stackName,
          TemplateBody: renderTemplateBody({ data443AccountId: options.data443AccountId }),
          Parameters: Object.entries(options.parameters).map(([ParameterKey, ParameterValue]) => ({
            ParameterKey,
            ParameterValue,
          })),
          Capabilities: ['CAPABILITY_NAMED_IAM'],
        }),
      );
      await waitUntilStackCreateComplete(
        { client: cfn, maxWaitTime: 60, minDelay: 1, maxDelay: 2 },
        { StackName: options.stackName },
      );
    }
    const stack = (await cfn.send(new DescribeStacksCommand({ StackName: options.stackName }))).Stacks?.[0];
    const arn = stack?.Outputs?.find((o) => o.OutputKey === 'RoleArn')?.OutputValue;
    if (arn === undefined) throw new Error('the customer stack has no RoleArn output');
    const enabled = await hub
      .send(new DescribeHubCommand({}))
      .then(() => true)
      .catch(() => false);
    if (!enabled) await hub.send(new EnableSecurityHubCommand({}));
    return arn;
  } finally {
    cfn.destroy();
    hub.destroy();
  }
}

/** The findings in the customer's local Security Hub (as the customer sees them), newest first. */
export async function customerFindings(options: {
  endpoint: string;
  motoEndpoint: string;
  accountId: string;
  region: string;
}): Promise<Array<{ Id: string; Title: string; Severity: string; CreatedAt: string }>> {
  const credentials = await customerAdmin(options.motoEndpoint, options.accountId, options.region);
  const hub = new SecurityHubClient({ endpoint: options.endpoint, region: options.region, credentials });
  try {
    const out: Array<{ Id: string; Title: string; Severity: string; CreatedAt: string }> = [];
    let NextToken: string | undefined;
    do {
      const page = await hub.send(
        new GetFindingsCommand({ MaxResults: 100, ...(NextToken ? { NextToken } : {}) }),
      );
      for (const f of page.Findings ?? []) {
        out.push({
          Id: f.Id ?? '',
          Title: f.Title ?? '',
          Severity: f.Severity?.Label ?? '',
          CreatedAt: f.CreatedAt ?? '',
        });
      }
      NextToken = page.NextToken;
    } while (NextToken);
    return out.sort((a, b) => b.CreatedAt.localeCompare(a.CreatedAt));
  } finally {
    hub.destroy();
  }
}

/**
 * Implements the API's local role-deploy port with deployCustomerRole (which also turns Security Hub on
 * in that account), so the web pages can do the customer's AWS step against the local moto.
 */
export function localAwsDeployer(options: { motoEndpoint: string; data443AccountId: string }): LocalAwsPort {
  return {
    async deployRole(input) {
      const roleArn = await deployCustomerRole({
        motoEndpoint: options.motoEndpoint,
        data443AccountId: options.data443AccountId,
        accountId: input.accountId,
        region: input.region,
        stackName: input.stackName,
        parameters: input.parameters,
      });
      return { roleArn };
    },
  };
}
