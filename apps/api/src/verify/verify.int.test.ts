import { CreateRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { EnableSecurityHubCommand, SecurityHubClient } from '@aws-sdk/client-securityhub';
import { streams } from '@vsh/db';
import {
  type FaultProxy,
  MOTO_DEFAULT_ACCOUNT_ID,
  type MotoServer,
  startFaultProxy,
  startMoto,
  TEST_CREDENTIALS,
  testAwsConfig,
} from '@vsh/testkit';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useHarness } from '../testing/harness.ts';
import { createAwsDestinationVerifier } from './aws-verifier.ts';
import type { DestinationVerifier } from './checks.ts';

// moto's default account plays the customer: every IAM and Security Hub call below is made as it.
const CUSTOMER_ACCOUNT = MOTO_DEFAULT_ACCOUNT_ID;

let moto: MotoServer;
let proxy: FaultProxy;
let iam: IAMClient;
let verifier: ReturnType<typeof createAwsDestinationVerifier>;

beforeAll(async () => {
  moto = await startMoto();
  // The fault proxy evaluates the trust policy's sts:ExternalId condition, which moto's STS does not.
  proxy = await startFaultProxy({
    upstream: moto.endpoint,
    enforceExternalId: true,
    rules: { throttle: false },
  });
  iam = new IAMClient(testAwsConfig(moto.endpoint));
  const hub = new SecurityHubClient(testAwsConfig(moto.endpoint, 'us-east-1'));
  await hub.send(new EnableSecurityHubCommand({}));
  hub.destroy();
  verifier = createAwsDestinationVerifier({
    endpoint: proxy.endpoint,
    masterCredentials: TEST_CREDENTIALS,
    propagationTimeoutMs: 1_200,
    retryIntervalMs: 200,
  });
});

afterAll(async () => {
  verifier?.destroy();
  iam?.destroy();
  await proxy?.stop();
  await moto?.stop();
});

// Built before moto is up; the real verifier exists by the time a test calls it.
const lateVerifier: DestinationVerifier = { verify: (input) => verifier.verify(input) };
const api = useHarness({ verifier: lateVerifier });

interface Onboarded {
  tenantId: string;
  key: string;
  destinationId: string;
  roleArn: string;
  trustPolicy: object;
  permissionsPolicy: object;
}

/** A tenant with Vaikora settings and one destination, onboarded the way a customer does it. */
async function onboard(roleName: string, regions: string[]): Promise<Onboarded> {
  const { tenantId, key } = await api.createTenant();
  const settings = await api.request('PUT', `/v1/tenants/${tenantId}/vaikora`, {
    key,
    body: { apiKey: `vk_test_${roleName}`, agentIds: ['agt-a', 'agt-b'] },
  });
  expect(settings.status).toBe(200);
  const created = await api.request('POST', `/v1/tenants/${tenantId}/destinations`, {
    key,
    body: { accountId: CUSTOMER_ACCOUNT, regions, roleName },
  });
  expect(created.status).toBe(201);
  return {
    tenantId,
    key,
    destinationId: created.body.destination.id,
    roleArn: created.body.onboarding.expectedRoleArn,
    trustPolicy: created.body.onboarding.trustPolicy,
    permissionsPolicy: created.body.onboarding.permissionsPolicy,
  };
}

async function createRole(roleName: string, trustPolicy: object, permissionsPolicy: object): Promise<void> {
  await iam.send(
    new CreateRoleCommand({ RoleName: roleName, AssumeRolePolicyDocument: JSON.stringify(trustPolicy) }),
  );
  await iam.send(
    new PutRolePolicyCommand({
      RoleName: roleName,
      PolicyName: 'Data443VaikoraSecurityHubImport',
      PolicyDocument: JSON.stringify(permissionsPolicy),
    }),
  );
}

function verify(onboarded: Onboarded, roleArn = onboarded.roleArn) {
  return api.request(
    'POST',
    `/v1/tenants/${onboarded.tenantId}/destinations/${onboarded.destinationId}/verify`,
    {
      key: onboarded.key,
      body: { roleArn },
    },
  );
}

describe('destination verification against moto (through the fault proxy enforcing ExternalId)', () => {
  it('verifies a role deployed with the given trust policy, and creates a stream per agent and region', async () => {
    const onboarded = await onboard('Data443-VaikoraGood', ['us-east-1']);
    await createRole('Data443-VaikoraGood', onboarded.trustPolicy, onboarded.permissionsPolicy);

    const response = await verify(onboarded);

    expect(response.status).toBe(200);
    expect(response.body.checks.map((check: { code: string }) => check.code)).toEqual(['OK', 'OK', 'OK']);
    expect(response.body.verified).toBe(true);
    expect(response.body.destination).toMatchObject({
      state: 'verified',
      roleArn: onboarded.roleArn,
      lastError: null,
    });
    const rows = await api.db
      .select()
      .from(streams)
      .where(eq(streams.destinationId, onboarded.destinationId));
    expect(rows.map((row) => `${row.agentId}@${row.region}`).sort()).toEqual([
      'agt-a@us-east-1',
      'agt-b@us-east-1',
    ]);
  });

  it('refuses a role ARN of another account with ACCOUNT_MISMATCH, without calling AWS', async () => {
    const onboarded = await onboard('Data443-VaikoraOtherAccount', ['us-east-1']);
    const before = proxy.operationStats('sts', 'AssumeRole').requests;

    const response = await verify(onboarded, 'arn:aws:iam::999988887777:role/Data443-VaikoraOtherAccount');

    expect(response.status).toBe(422);
    expect(response.body.error.code).toBe('ACCOUNT_MISMATCH');
    expect(proxy.operationStats('sts', 'AssumeRole').requests).toBe(before);
    const destination = await api.request(
      'GET',
      `/v1/tenants/${onboarded.tenantId}/destinations/${onboarded.destinationId}`,
    );
    expect(destination.body.destination.state).toBe('pending');
  });

  it('reports SECURITY_HUB_NOT_ENABLED with the command that fixes it, for the region where it is off', async () => {
    const onboarded = await onboard('Data443-VaikoraHubOff', ['us-east-1', 'eu-west-1']);
    await createRole('Data443-VaikoraHubOff', onboarded.trustPolicy, onboarded.permissionsPolicy);

    const response = await verify(onboarded);

    expect(response.status).toBe(200);
    expect(response.body.verified).toBe(false);
    const hubChecks = response.body.checks.filter((check: { name: string }) => check.name === 'SECURITY_HUB');
    expect(hubChecks).toEqual([
      expect.objectContaining({ region: 'us-east-1', code: 'OK' }),
      expect.objectContaining({
        region: 'eu-west-1',
        code: 'SECURITY_HUB_NOT_ENABLED',
        fix: 'enable Security Hub in eu-west-1: aws securityhub enable-security-hub --region eu-west-1',
      }),
    ]);
    expect(response.body.destination.state).toBe('pending');
    expect(response.body.destination.lastError).toMatch(/^SECURITY_HUB_NOT_ENABLED \(eu-west-1\)/);
  });

  it('answers, with the hub check failed, when Security Hub never answers: a verification does not hang (ADR 0125)', async () => {
    const onboarded = await onboard('Data443-VaikoraHubHung', ['us-east-1']);
    await createRole('Data443-VaikoraHubHung', onboarded.trustPolicy, onboarded.permissionsPolicy);
    const patient = verifier;
    verifier = createAwsDestinationVerifier({
      endpoint: proxy.endpoint,
      masterCredentials: TEST_CREDENTIALS,
      propagationTimeoutMs: 1_200,
      retryIntervalMs: 200,
      requestTimeoutMs: 300,
    });
    proxy.setRules({ throttle: false, timeouts: [{ match: { operation: 'DescribeHub' }, rate: 1 }] });
    try {
      const response = await verify(onboarded);

      expect(response.status).toBe(200);
      expect(response.body.verified).toBe(false);
      const hub = response.body.checks.find((check: { name: string }) => check.name === 'SECURITY_HUB');
      expect(hub).toMatchObject({ region: 'us-east-1', ok: false });
      expect(proxy.operationStats('securityhub', 'DescribeHub').timeouts).toBeGreaterThan(0);
    } finally {
      proxy.setRules({ throttle: false });
      verifier.destroy();
      verifier = patient;
    }
  });

  it('catches a trust policy that does not enforce the ExternalId: EXTERNAL_ID_NOT_ENFORCED', async () => {
    const onboarded = await onboard('Data443-VaikoraNoExternalId', ['us-east-1']);
    const { Condition: _dropped, ...openStatement } = (
      onboarded.trustPolicy as { Statement: Record<string, unknown>[] }
    ).Statement[0] as Record<string, unknown>;
    await createRole(
      'Data443-VaikoraNoExternalId',
      { Version: '2012-10-17', Statement: [openStatement] },
      onboarded.permissionsPolicy,
    );

    const response = await verify(onboarded);

    expect(response.body.verified).toBe(false);
    expect(response.body.checks).toContainEqual(
      expect.objectContaining({ name: 'EXTERNAL_ID_REQUIRED', ok: false, code: 'EXTERNAL_ID_NOT_ENFORCED' }),
    );
    expect(response.body.destination.state).toBe('pending');
    expect(response.body.destination.roleArn).toBeNull();
  });

  it('reports ROLE_NOT_ASSUMABLE after retrying when the trust policy names another ExternalId', async () => {
    const onboarded = await onboard('Data443-VaikoraWrongId', ['us-east-1']);
    const other = structuredClone(onboarded.trustPolicy) as {
      Statement: { Condition: { StringEquals: Record<string, string> } }[];
    };
    const statement = other.Statement[0];
    if (statement !== undefined) statement.Condition.StringEquals['sts:ExternalId'] = 'A'.repeat(43);
    await createRole('Data443-VaikoraWrongId', other, onboarded.permissionsPolicy);

    const started = performance.now();
    const response = await verify(onboarded);

    expect(response.body.verified).toBe(false);
    expect(response.body.checks[0]).toMatchObject({ name: 'ASSUME_ROLE', code: 'ROLE_NOT_ASSUMABLE' });
    expect(response.body.checks.slice(1).every((check: { code: string }) => check.code === 'SKIPPED')).toBe(
      true,
    );
    expect(performance.now() - started).toBeGreaterThanOrEqual(1_000);
  });

  it('keeps retrying AssumeRole while IAM propagates a role created during the verification', async () => {
    const onboarded = await onboard('Data443-VaikoraLate', ['us-east-1']);

    const triedBefore = proxy.operationStats('sts', 'AssumeRole').requests;

    const pending = verify(onboarded);
    // The role appears only once the verification has tried to assume it and failed.
    await expect.poll(() => proxy.operationStats('sts', 'AssumeRole').requests).toBeGreaterThan(triedBefore);
    await createRole('Data443-VaikoraLate', onboarded.trustPolicy, onboarded.permissionsPolicy);
    const response = await pending;

    expect(response.body.verified).toBe(true);
    expect(response.body.destination.state).toBe('verified');
  });

  it('refuses a role whose name the worker may not assume', async () => {
    const onboarded = await onboard('Data443-VaikoraNamed', ['us-east-1']);

    const response = await verify(onboarded, `arn:aws:iam::${CUSTOMER_ACCOUNT}:role/AdminRole`);

    expect(response.status).toBe(422);
    expect(response.body.error.code).toBe('ROLE_NAME_NOT_ALLOWED');
  });
});

describe('a Security Lake destination (ADR 0122): the role, then its reach into the custom source prefix', () => {
  async function onboardLake(roleName: string, bucket: string) {
    const { tenantId, key } = await api.createTenant();
    const created = await api.request('POST', `/v1/tenants/${tenantId}/destinations`, {
      key,
      body: {
        accountId: CUSTOMER_ACCOUNT,
        regions: ['us-east-1'],
        roleName,
        delivery: 'security_lake',
        securityLake: { bucket, sourceName: 'vaikora' },
      },
    });
    expect(created.status).toBe(201);
    expect(created.body.destination).toMatchObject({
      delivery: 'security_lake',
      securityLake: { bucket, sourceName: 'vaikora' },
    });
    // The role the customer deploys also writes (and lists) the custom source's prefix.
    expect(created.body.onboarding.permissionsPolicy.Statement).toContainEqual(
      expect.objectContaining({
        Action: 's3:PutObject',
        Resource: `arn:aws:s3:::${bucket}/ext/vaikora/*`,
      }),
    );
    await createRole(
      roleName,
      created.body.onboarding.trustPolicy,
      created.body.onboarding.permissionsPolicy,
    );
    return {
      tenantId,
      key,
      destinationId: created.body.destination.id,
      roleArn: created.body.onboarding.expectedRoleArn,
      trustPolicy: created.body.onboarding.trustPolicy,
      permissionsPolicy: created.body.onboarding.permissionsPolicy,
    } satisfies Onboarded;
  }

  it('verifies the role and that it reaches ext/<source>/ of an existing lake bucket, writing nothing there', async () => {
    const s3 = new S3Client({ ...testAwsConfig(moto.endpoint, 'us-east-1'), forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: 'aws-security-data-lake-us-east-1-vsh1' }));
    const onboarded = await onboardLake('Data443-VaikoraLake', 'aws-security-data-lake-us-east-1-vsh1');

    const response = await verify(onboarded);

    expect(response.status).toBe(200);
    expect(response.body.checks.map((c: { name: string; code: string }) => `${c.name} ${c.code}`)).toEqual([
      'ASSUME_ROLE OK',
      'EXTERNAL_ID_REQUIRED OK',
      'SECURITY_LAKE OK',
    ]);
    expect(response.body.destination.state).toBe('verified');
    const listed = await s3.send(
      new ListObjectsV2Command({ Bucket: 'aws-security-data-lake-us-east-1-vsh1' }),
    );
    expect(listed.KeyCount ?? 0).toBe(0);
    s3.destroy();
  });

  it('reports SECURITY_LAKE_BUCKET_MISSING with where to find the bucket name', async () => {
    const onboarded = await onboardLake(
      'Data443-VaikoraLakeMissing',
      'aws-security-data-lake-us-east-1-none',
    );

    const response = await verify(onboarded);

    expect(response.body.verified).toBe(false);
    expect(response.body.checks.at(-1)).toMatchObject({
      name: 'SECURITY_LAKE',
      code: 'SECURITY_LAKE_BUCKET_MISSING',
      fix: expect.stringContaining('Security Lake console'),
    });
    expect(response.body.destination.lastError).toMatch(/^SECURITY_LAKE_BUCKET_MISSING \(us-east-1\)/);
  });

  it('refuses a Security Lake destination without its lake, or over two regions, with a precise 400', async () => {
    const { tenantId, key } = await api.createTenant();
    const post = (body: object) => api.request('POST', `/v1/tenants/${tenantId}/destinations`, { key, body });

    const noLake = await post({
      accountId: CUSTOMER_ACCOUNT,
      regions: ['us-east-1'],
      delivery: 'security_lake',
    });
    const twoRegions = await post({
      accountId: CUSTOMER_ACCOUNT,
      regions: ['us-east-1', 'eu-west-1'],
      delivery: 'security_lake',
      securityLake: { bucket: 'aws-security-data-lake-us-east-1-vsh1', sourceName: 'vaikora' },
    });
    const lakeWithoutDelivery = await post({
      accountId: CUSTOMER_ACCOUNT,
      regions: ['us-east-1'],
      securityLake: { bucket: 'aws-security-data-lake-us-east-1-vsh1', sourceName: 'vaikora' },
    });
    const badBucket = await post({
      accountId: CUSTOMER_ACCOUNT,
      regions: ['us-east-1'],
      delivery: 'security_lake',
      securityLake: { bucket: 'Not A Bucket', sourceName: 'vaikora' },
    });

    expect([noLake.status, twoRegions.status, lakeWithoutDelivery.status, badBucket.status]).toEqual([
      400, 400, 400, 400,
    ]);
    expect(noLake.body.error.message).toContain('body.securityLake: required');
    expect(twoRegions.body.error.message).toContain('exactly the one region');
    expect(lakeWithoutDelivery.body.error.message).toContain('only with delivery');
    expect(JSON.stringify(badBucket.body.error)).toContain('must be an S3 bucket name');
  });
});
