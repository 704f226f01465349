import {
  CloudFormationClient,
  CreateStackCommand,
  DeleteStackCommand,
  DescribeStacksCommand,
  waitUntilStackCreateComplete,
  waitUntilStackDeleteComplete,
} from '@aws-sdk/client-cloudformation';
import {
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  NoSuchEntityException,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import {
  CUSTOMER_ROLE_OUTPUTS,
  customerPermissionsPolicy,
  customerRoleParameterValues,
  customerTrustPolicy,
  DEFAULT_ROLE_NAME,
  DEFAULT_WORKER_ROLE_NAME,
  INLINE_POLICY_NAME,
  MAX_SESSION_DURATION_SECONDS,
  roleArn,
} from '@vsh/role-contract';
import { MOTO_DEFAULT_ACCOUNT_ID, type MotoServer, startMoto, testAwsConfig } from '@vsh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderTemplateBody } from './template.ts';

// moto's default account: every call below acts as the customer's account.
const CUSTOMER_ACCOUNT = MOTO_DEFAULT_ACCOUNT_ID;
const DATA443_ACCOUNT = '444455556666';
const REGION = 'us-east-1';
const EXTERNAL_ID = Buffer.alloc(32, 7).toString('base64url');

let moto: MotoServer;
let cfn: CloudFormationClient;
let iam: IAMClient;
let sts: STSClient;

async function deploy(stackName: string, roleName: string): Promise<void> {
  const values = customerRoleParameterValues({
    externalId: EXTERNAL_ID,
    data443AccountId: DATA443_ACCOUNT,
    roleName,
  });
  await cfn.send(
    new CreateStackCommand({
      StackName: stackName,
      TemplateBody: renderTemplateBody({ data443AccountId: DATA443_ACCOUNT }),
      Parameters: Object.entries(values).map(([ParameterKey, ParameterValue]) => ({
        ParameterKey,
        ParameterValue,
      })),
      Capabilities: ['CAPABILITY_NAMED_IAM'],
    }),
  );
  await waitUntilStackCreateComplete(
    { client: cfn, maxWaitTime: 60, minDelay: 1, maxDelay: 2 },
    { StackName: stackName },
  );
}

// IAM returns policy documents URL-encoded.
function policyJson(document: string | undefined): unknown {
  return JSON.parse(decodeURIComponent(document ?? ''));
}

// moto 5.2 keeps an inline policy created through CloudFormation as a Python dict and returns its
// repr ({'Version': ...}) from GetRolePolicy. Our documents hold only strings without quotes or
// backslashes, so swapping the quotes gives back the JSON; anything else is refused, not guessed.
function motoInlinePolicyJson(document: string | undefined): unknown {
  const text = decodeURIComponent(document ?? '');
  if (!text.startsWith("{'")) return JSON.parse(text);
  if (/["\\]|True|False|None/.test(text)) throw new Error(`cannot read moto's policy repr: ${text}`);
  return JSON.parse(text.replaceAll("'", '"'));
}

beforeAll(async () => {
  moto = await startMoto();
  cfn = new CloudFormationClient(testAwsConfig(moto.endpoint, REGION));
  iam = new IAMClient(testAwsConfig(moto.endpoint, REGION));
  sts = new STSClient(testAwsConfig(moto.endpoint, REGION));
  await deploy('vsh-customer-role', DEFAULT_ROLE_NAME);
});

afterAll(async () => {
  cfn?.destroy();
  iam?.destroy();
  sts?.destroy();
  await moto?.stop();
});

describe('the customer-role template deployed to CloudFormation (moto)', () => {
  it('completes and outputs the role ARN and the External ID', async () => {
    const { Stacks } = await cfn.send(new DescribeStacksCommand({ StackName: 'vsh-customer-role' }));

    const stack = Stacks?.[0];
    const outputs = Object.fromEntries((stack?.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]));

    expect(stack?.StackStatus).toBe('CREATE_COMPLETE');
    expect(outputs).toEqual({
      [CUSTOMER_ROLE_OUTPUTS.roleArn]: roleArn({
        partition: 'aws',
        accountId: CUSTOMER_ACCOUNT,
        roleName: DEFAULT_ROLE_NAME,
      }),
      [CUSTOMER_ROLE_OUTPUTS.externalId]: EXTERNAL_ID,
    });
  });

  it('creates the role with the trust policy customerTrustPolicy describes', async () => {
    const { Role } = await iam.send(new GetRoleCommand({ RoleName: DEFAULT_ROLE_NAME }));

    expect(Role?.Arn).toBe(`arn:aws:iam::${CUSTOMER_ACCOUNT}:role/${DEFAULT_ROLE_NAME}`);
    expect(Role?.MaxSessionDuration).toBe(MAX_SESSION_DURATION_SECONDS);
    expect(policyJson(Role?.AssumeRolePolicyDocument)).toEqual(
      customerTrustPolicy({
        partition: 'aws',
        data443AccountId: DATA443_ACCOUNT,
        workerRoleName: DEFAULT_WORKER_ROLE_NAME,
        externalId: EXTERNAL_ID,
      }),
    );
  });

  it('gives the role exactly one inline policy, customerPermissionsPolicy, and no managed policy', async () => {
    const inline = await iam.send(new ListRolePoliciesCommand({ RoleName: DEFAULT_ROLE_NAME }));
    const attached = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: DEFAULT_ROLE_NAME }));
    const policy = await iam.send(
      new GetRolePolicyCommand({ RoleName: DEFAULT_ROLE_NAME, PolicyName: INLINE_POLICY_NAME }),
    );

    expect(inline.PolicyNames).toEqual([INLINE_POLICY_NAME]);
    expect(attached.AttachedPolicies ?? []).toEqual([]);
    expect(motoInlinePolicyJson(policy.PolicyDocument)).toEqual(
      customerPermissionsPolicy({ partition: 'aws', accountId: CUSTOMER_ACCOUNT }),
    );
  });

  // moto accepts AssumeRole without evaluating the trust policy: this shows the ARN and the call
  // shape the worker uses are right, not that a wrong ExternalId would be refused (ADR 0040).
  it('lets STS assume the role by its output ARN with the External ID and a source identity', async () => {
    const arn = roleArn({ partition: 'aws', accountId: CUSTOMER_ACCOUNT, roleName: DEFAULT_ROLE_NAME });

    const assumed = await sts.send(
      new AssumeRoleCommand({
        RoleArn: arn,
        RoleSessionName: 'vsh-tenant-1',
        ExternalId: EXTERNAL_ID,
        SourceIdentity: 'vsh-tenant-1',
        DurationSeconds: MAX_SESSION_DURATION_SECONDS,
      }),
    );
    const credentials = assumed.Credentials;
    const asRole = new STSClient({
      ...testAwsConfig(moto.endpoint, REGION),
      credentials: {
        accessKeyId: credentials?.AccessKeyId ?? '',
        secretAccessKey: credentials?.SecretAccessKey ?? '',
        sessionToken: credentials?.SessionToken ?? '',
      },
    });
    const identity = await asRole.send(new GetCallerIdentityCommand({}));
    asRole.destroy();

    expect(assumed.AssumedRoleUser?.Arn).toBe(
      `arn:aws:sts::${CUSTOMER_ACCOUNT}:assumed-role/${DEFAULT_ROLE_NAME}/vsh-tenant-1`,
    );
    expect(identity.Account).toBe(CUSTOMER_ACCOUNT);
    expect(identity.Arn).toBe(assumed.AssumedRoleUser?.Arn);
  });

  it('removes the role when the stack is deleted', async () => {
    const roleName = 'Data443-VaikoraRemovalCheck';
    await deploy('vsh-customer-role-removal', roleName);
    await iam.send(new GetRoleCommand({ RoleName: roleName }));

    await cfn.send(new DeleteStackCommand({ StackName: 'vsh-customer-role-removal' }));
    await waitUntilStackDeleteComplete(
      { client: cfn, maxWaitTime: 60, minDelay: 1, maxDelay: 2 },
      { StackName: 'vsh-customer-role-removal' },
    );

    await expect(iam.send(new GetRoleCommand({ RoleName: roleName }))).rejects.toBeInstanceOf(
      NoSuchEntityException,
    );
  });
});
