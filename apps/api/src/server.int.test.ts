import { randomBytes } from 'node:crypto';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { EnableSecurityHubCommand, SecurityHubClient } from '@aws-sdk/client-securityhub';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { vaikoraSettings } from '@vsh/db';
import { createTestDatabase, type TestDatabase } from '@vsh/db/testing';
import {
  type FaultProxy,
  MOTO_DEFAULT_ACCOUNT_ID,
  type MotoServer,
  startFaultProxy,
  startMoto,
  startVaikoraSimulator,
  TEST_CREDENTIALS,
  testAwsConfig,
  type VaikoraSimulator,
} from '@vsh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnv } from './env.ts';
import { createLogger } from './logger.ts';
import { startApiServer } from './server.ts';

const OPERATOR = `op_${randomBytes(32).toString('base64url')}`;
const silent = createLogger({ level: 'silent' });

async function call(url: string, method: string, body?: unknown, key = OPERATOR) {
  const response = await fetch(url, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: read field by field below.
  return { status: response.status, headers: response.headers, body: (await response.json()) as any };
}

/** The central worker role in Data443's account (moto: reached by assuming any role in that account). */
async function createWorkerRole(): Promise<void> {
  const sts = new STSClient(testAwsConfig(moto.endpoint));
  const { Credentials } = await sts.send(
    new AssumeRoleCommand({
      RoleArn: `arn:aws:iam::${DATA443_ACCOUNT}:role/bootstrap`,
      RoleSessionName: 'setup',
    }),
  );
  sts.destroy();
  const iam = new IAMClient({
    ...testAwsConfig(moto.endpoint),
    credentials: {
      accessKeyId: Credentials?.AccessKeyId ?? '',
      secretAccessKey: Credentials?.SecretAccessKey ?? '',
      sessionToken: Credentials?.SessionToken ?? '',
    },
  });
  await iam.send(
    new CreateRoleCommand({
      RoleName: 'vsh-connector-worker',
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' }],
      }),
    }),
  );
  iam.destroy();
}

const DATA443_ACCOUNT = '444455556666';
let moto: MotoServer;

describe('startApiServer on PostgreSQL', () => {
  let proxy: FaultProxy;
  let sim: VaikoraSimulator;
  let database: TestDatabase;
  const vaikoraKey = `vk_test_${randomBytes(12).toString('hex')}`;

  beforeAll(async () => {
    [moto, sim, database] = await Promise.all([
      startMoto(),
      startVaikoraSimulator({ tenants: [{ apiKey: vaikoraKey }], initialActionsPerAgent: 1 }),
      createTestDatabase(),
    ]);
    // moto's STS ignores ExternalIds; the proxy evaluates the trust policy's condition as IAM does.
    proxy = await startFaultProxy({
      upstream: moto.endpoint,
      enforceExternalId: true,
      rules: { throttle: false },
    });
  });
  afterAll(async () => {
    await proxy?.stop();
    await Promise.all([moto?.stop(), sim?.stop(), database?.drop()]);
  });

  it('serves over HTTP with request ids, and stops listening on close', async () => {
    const env = parseEnv({
      APP_ENV: 'local',
      OPERATOR_API_KEY: OPERATOR,
      MASTER_KEY: randomBytes(32).toString('base64'),
      DATABASE_URL: database.url,
      PORT: '0',
    });

    const server = await startApiServer({ env, logger: silent });
    const ready = await call(`${server.url}/ready`, 'GET');
    const created = await call(`${server.url}/v1/tenants`, 'POST', { name: 'Over HTTP' });
    const read = await call(
      `${server.url}/v1/tenants/${created.body.tenant.id}`,
      'GET',
      undefined,
      created.body.apiKey.key,
    );
    await server.close();

    expect(ready.status).toBe(200);
    expect(ready.headers.get('x-request-id')).toMatch(/^req_/);
    expect(read.body.name).toBe('Over HTTP');
    await expect(fetch(`${server.url}/health`)).rejects.toThrow();
  });

  it('seals the Vaikora key under KMS, and verifies a customer role as the worker role (role chaining)', async () => {
    const hub = new SecurityHubClient(testAwsConfig(moto.endpoint, 'us-east-1'));
    await hub.send(new EnableSecurityHubCommand({}));
    hub.destroy();
    const kms = new KMSClient(testAwsConfig(moto.endpoint));
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
    kms.destroy();
    const env = parseEnv({
      APP_ENV: 'local',
      OPERATOR_API_KEY: OPERATOR,
      KMS_KEY_ID: KeyMetadata?.KeyId ?? '',
      DATABASE_URL: database.url,
      AWS_ENDPOINT_URL: proxy.endpoint,
      WORKER_ROLE_ARN: `arn:aws:iam::${DATA443_ACCOUNT}:role/vsh-connector-worker`,
      VERIFY_PROPAGATION_SECONDS: '1',
      PORT: '0',
    });
    const server = await startApiServer({ env, logger: silent, awsCredentials: TEST_CREDENTIALS });

    try {
      const tenant = await call(`${server.url}/v1/tenants`, 'POST', { name: 'KMS tenant' });
      const tenantId = tenant.body.tenant.id;
      const settings = await call(`${server.url}/v1/tenants/${tenantId}/vaikora`, 'PUT', {
        apiKey: vaikoraKey,
        baseUrl: sim.baseUrl,
        agentIds: ['agt-support-bot'],
      });
      const [row] = await database.db.select().from(vaikoraSettings);
      const destination = await call(`${server.url}/v1/tenants/${tenantId}/destinations`, 'POST', {
        accountId: MOTO_DEFAULT_ACCOUNT_ID,
        regions: ['us-east-1'],
      });
      await createWorkerRole();
      const iam = new IAMClient(testAwsConfig(moto.endpoint));
      await iam.send(
        new CreateRoleCommand({
          RoleName: destination.body.onboarding.roleName,
          AssumeRolePolicyDocument: JSON.stringify(destination.body.onboarding.trustPolicy),
        }),
      );
      iam.destroy();
      const verified = await call(
        `${server.url}/v1/tenants/${tenantId}/destinations/${destination.body.destination.id}/verify`,
        'POST',
        { roleArn: destination.body.onboarding.expectedRoleArn },
      );
      const motoState = await (await fetch(`${moto.endpoint}/moto-api/data.json`)).text();

      expect(settings.status).toBe(200);
      expect(verified.body.verified).toBe(true);
      expect(motoState).toContain('vsh-api-verify');
      expect(row?.apiKeyKeyId).toBe(KeyMetadata?.Arn);
      expect(row?.apiKeyCiphertext).not.toContain(vaikoraKey);
    } finally {
      await server.close();
    }
  });
});
