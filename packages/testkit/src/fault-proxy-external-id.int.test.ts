import { randomBytes } from 'node:crypto';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testAwsConfig } from './aws-config.ts';
import { type FaultProxy, startFaultProxy } from './fault-proxy.ts';
import { MOTO_DEFAULT_ACCOUNT_ID, type MotoServer, startMoto } from './moto.ts';

const EXTERNAL_ID = randomBytes(32).toString('base64url');

let moto: MotoServer;
let enforcing: FaultProxy;
let plain: FaultProxy;
let iam: IAMClient;

const trustPolicy = (condition?: object) =>
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { AWS: 'arn:aws:iam::444455556666:root' },
        Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'],
        ...(condition === undefined ? {} : { Condition: condition }),
      },
    ],
  });

function assume(proxy: FaultProxy, roleName: string, externalId?: string) {
  const sts = new STSClient({ ...testAwsConfig(proxy.endpoint), maxAttempts: 1 });
  return sts
    .send(
      new AssumeRoleCommand({
        RoleArn: `arn:aws:iam::${MOTO_DEFAULT_ACCOUNT_ID}:role/${roleName}`,
        RoleSessionName: 'fault-proxy-test',
        ...(externalId === undefined ? {} : { ExternalId: externalId }),
      }),
    )
    .finally(() => sts.destroy());
}

beforeAll(async () => {
  moto = await startMoto();
  enforcing = await startFaultProxy({ upstream: moto.endpoint, enforceExternalId: true });
  plain = await startFaultProxy({ upstream: moto.endpoint });
  iam = new IAMClient(testAwsConfig(moto.endpoint));
  await iam.send(
    new CreateRoleCommand({
      RoleName: 'Enforced',
      AssumeRolePolicyDocument: trustPolicy({ StringEquals: { 'sts:ExternalId': EXTERNAL_ID } }),
    }),
  );
  await iam.send(new CreateRoleCommand({ RoleName: 'Open', AssumeRolePolicyDocument: trustPolicy() }));
});

afterAll(async () => {
  iam?.destroy();
  await enforcing?.stop();
  await plain?.stop();
  await moto?.stop();
});

describe('fault proxy: enforceExternalId', () => {
  it('lets AssumeRole through with the ExternalId the trust policy requires', async () => {
    const answer = await assume(enforcing, 'Enforced', EXTERNAL_ID);

    expect(answer.Credentials?.AccessKeyId).toBeTruthy();
  });

  it('answers AccessDenied, as IAM does, without the ExternalId or with another one', async () => {
    await expect(assume(enforcing, 'Enforced')).rejects.toMatchObject({
      name: 'AccessDenied',
      $metadata: { httpStatusCode: 403 },
    });
    await expect(assume(enforcing, 'Enforced', 'x'.repeat(43))).rejects.toMatchObject({
      name: 'AccessDenied',
    });
    expect(enforcing.operationStats('sts', 'AssumeRole').answeredLocally).toBeGreaterThanOrEqual(2);
  });

  it('lets anything through when the trust policy has no ExternalId condition', async () => {
    const answer = await assume(enforcing, 'Open');

    expect(answer.Credentials?.AccessKeyId).toBeTruthy();
  });

  it('answers AccessDenied for a role that does not exist', async () => {
    await expect(assume(enforcing, 'Missing', EXTERNAL_ID)).rejects.toMatchObject({ name: 'AccessDenied' });
  });

  it('changes nothing unless asked: moto itself lets AssumeRole through without the ExternalId', async () => {
    const answer = await assume(plain, 'Enforced');

    expect(answer.Credentials?.AccessKeyId).toBeTruthy();
  });
});
