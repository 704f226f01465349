import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CloudFormationClient,
  CreateStackCommand,
  waitUntilStackCreateComplete,
} from '@aws-sdk/client-cloudformation';
import { IAMClient, UpdateAssumeRolePolicyCommand } from '@aws-sdk/client-iam';
import { EnableSecurityHubCommand, SecurityHubClient } from '@aws-sdk/client-securityhub';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { createAdaptorServer } from '@hono/node-server';
import type { AwsCredentialIdentity } from '@smithy/types';
import {
  loadOrgTemplate,
  ORG_MEMBER_TEMPLATE_PATH,
  ORG_STACKSET_TEMPLATE_PATH,
  REGISTRATION_HANDLER_SOURCE,
  ROLE_LOGICAL_ID,
} from '@vsh/customer-role';
import { auditLog, awsDestinations, tenants } from '@vsh/db';
import { customerTrustPolicy } from '@vsh/role-contract';
import { type FaultProxy, type MotoServer, startFaultProxy, startMoto, TEST_CREDENTIALS } from '@vsh/testkit';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { useHarness } from '../../testing/harness.ts';
import { orgAccountsSection } from '../../ui/org-accounts.ts';
import { createAwsDestinationVerifier } from '../../verify/aws-verifier.ts';
import type { DestinationVerifier } from '../../verify/checks.ts';
// Through the routes, which load @hono/zod-openapi before the services' schemas are built.
import { ORG_REGISTRATION_PATH, ORG_STACKSET_PARAMETERS } from './shared.ts';

// Three member accounts of one organisation, each a moto account reached through an assumed admin role.
const ACCOUNTS = { good1: '210000000001', good2: '210000000002', noHub: '210000000003' } as const;
const REGION = 'us-east-1';

type Handler = (
  event: Record<string, unknown>,
  context: { getRemainingTimeInMillis(): number },
) => Promise<void>;

let moto: MotoServer;
let proxy: FaultProxy;
let verifier: ReturnType<typeof createAwsDestinationVerifier>;
let apiServer: Server;
let cfnServer: Server;
let apiUrl: string;
let cfnUrl: string;
let handlerDir: string;
let handler: Handler;
const cfnAnswers: Record<string, unknown>[] = [];
const handlerLogs: string[] = [];
let now = Date.parse('2026-06-01T00:00:00Z');

const lateVerifier: DestinationVerifier = { verify: (input) => verifier.verify(input) };
const api = useHarness({ verifier: lateVerifier, clock: () => new Date(now) });

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  moto = await startMoto();
  // The fault proxy evaluates each role's sts:ExternalId condition (in the role's own account), which moto does not.
  proxy = await startFaultProxy({
    upstream: moto.endpoint,
    enforceExternalId: true,
    rules: { throttle: false },
  });
  verifier = createAwsDestinationVerifier({
    endpoint: proxy.endpoint,
    masterCredentials: TEST_CREDENTIALS,
    propagationTimeoutMs: 1_200,
    retryIntervalMs: 200,
  });
  // The API over HTTP, as the custom resource reaches it.
  apiServer = createAdaptorServer({ fetch: api.app.fetch }) as Server;
  apiUrl = await listen(apiServer);
  // CloudFormation's pre-signed response URL: records what the custom resource answers.
  cfnServer = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
    });
    req.on('end', () => {
      cfnAnswers.push(JSON.parse(text) as Record<string, unknown>);
      res.writeHead(200).end();
    });
  });
  cfnUrl = await listen(cfnServer);
  // The member template's inline function, run as Lambda runs it (CommonJS index.js).
  handlerDir = mkdtempSync(join(tmpdir(), 'vsh-org-handler-'));
  writeFileSync(join(handlerDir, 'index.js'), REGISTRATION_HANDLER_SOURCE);
  writeFileSync(join(handlerDir, 'package.json'), '{"type":"commonjs"}');
  handler = (createRequire(import.meta.url)(join(handlerDir, 'index.js')) as { handler: Handler }).handler;
  // What the function would write to its CloudWatch log group.
  vi.spyOn(console, 'log').mockImplementation((line: string) => {
    handlerLogs.push(line);
  });
}, 60_000);

afterAll(async () => {
  verifier?.destroy();
  await new Promise((resolve) => apiServer?.close(resolve));
  await new Promise((resolve) => cfnServer?.close(resolve));
  await proxy?.stop();
  await moto?.stop();
  if (handlerDir !== undefined) rmSync(handlerDir, { recursive: true, force: true });
});

async function adminOf(accountId: string): Promise<AwsCredentialIdentity> {
  const sts = new STSClient({ endpoint: moto.endpoint, region: REGION, credentials: TEST_CREDENTIALS });
  try {
    const out = await sts.send(
      new AssumeRoleCommand({
        RoleArn: `arn:aws:iam::${accountId}:role/OrgAdmin`,
        RoleSessionName: 'org-admin',
      }),
    );
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error('moto returned no credentials');
    return {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      sessionToken: c.SessionToken ?? '',
    };
  } finally {
    sts.destroy();
  }
}

/**
 * What the StackSet does in one member account, as far as moto can: deploys the member template's role
 * (generated from template.yaml) with the StackSet parameters the API returned, and, unless told not to,
 * enables Security Hub. Returns the role ARN.
 */
async function deployMember(accountId: string, parameters: Record<string, string>, enableHub: boolean) {
  const credentials = await adminOf(accountId);
  const member = loadOrgTemplate(ORG_MEMBER_TEMPLATE_PATH) as {
    Parameters: Record<string, unknown>;
    Resources: Record<string, unknown>;
  };
  const roleParameters = ['ExternalIdPrefix', 'Data443AccountId', 'WorkerRoleName', 'RoleName'];
  const cfn = new CloudFormationClient({ endpoint: moto.endpoint, region: REGION, credentials });
  try {
    await cfn.send(
      new CreateStackCommand({
        StackName: 'Data443-VaikoraOrgMember',
        TemplateBody: JSON.stringify({
          AWSTemplateFormatVersion: '2010-09-09',
          Parameters: Object.fromEntries(roleParameters.map((name) => [name, member.Parameters[name]])),
          Resources: { [ROLE_LOGICAL_ID]: member.Resources[ROLE_LOGICAL_ID] },
        }),
        Parameters: roleParameters.map((name) => ({ ParameterKey: name, ParameterValue: parameters[name] })),
        Capabilities: ['CAPABILITY_NAMED_IAM'],
      }),
    );
    await waitUntilStackCreateComplete(
      { client: cfn, maxWaitTime: 60, minDelay: 1, maxDelay: 2 },
      { StackName: 'Data443-VaikoraOrgMember' },
    );
  } finally {
    cfn.destroy();
  }
  if (enableHub) await enableHubIn(accountId);
  return `arn:aws:iam::${accountId}:role/${parameters.RoleName}`;
}

/**
 * What a StackSet update with a new ExternalIdPrefix does to the role: a new trust policy. moto's
 * CloudFormation update of an IAM role ignores AssumeRolePolicyDocument, so it is set through IAM.
 */
async function rotateTrust(accountId: string, parameters: Record<string, string>): Promise<void> {
  const iam = new IAMClient({
    endpoint: moto.endpoint,
    region: REGION,
    credentials: await adminOf(accountId),
  });
  try {
    const trust = customerTrustPolicy({
      partition: 'aws',
      data443AccountId: parameters.Data443AccountId ?? '',
      workerRoleName: parameters.WorkerRoleName ?? '',
      externalId: `${parameters.ExternalIdPrefix}${accountId}`,
    });
    await iam.send(
      new UpdateAssumeRolePolicyCommand({
        RoleName: parameters.RoleName,
        PolicyDocument: JSON.stringify(trust),
      }),
    );
  } finally {
    iam.destroy();
  }
}

async function enableHubIn(accountId: string): Promise<void> {
  const hub = new SecurityHubClient({
    endpoint: moto.endpoint,
    region: REGION,
    credentials: await adminOf(accountId),
  });
  try {
    await hub.send(new EnableSecurityHubCommand({}));
  } finally {
    hub.destroy();
  }
}

/** Runs the member template's custom resource for one account, as CloudFormation would invoke it. */
async function customResource(
  requestType: 'Create' | 'Update' | 'Delete',
  accountId: string,
  parameters: Record<string, string>,
): Promise<Record<string, unknown>> {
  const before = cfnAnswers.length;
  await handler(
    {
      RequestType: requestType,
      ResponseURL: `${cfnUrl}/response`,
      StackId: `arn:aws:cloudformation:${REGION}:${accountId}:stack/StackSet-Data443/1`,
      RequestId: `${requestType}-${accountId}`,
      LogicalResourceId: 'Registration',
      ...(requestType === 'Create' ? {} : { PhysicalResourceId: `vsh-org-${accountId}` }),
      ResourceProperties: {
        AccountId: accountId,
        Regions: parameters.SecurityHubRegions?.split(','),
        RoleArn: `arn:aws:iam::${accountId}:role/${parameters.RoleName}`,
        RegistrationUrl: `${apiUrl}${ORG_REGISTRATION_PATH}`,
        RegistrationToken: parameters.RegistrationToken,
      },
    },
    { getRemainingTimeInMillis: () => 60_000 },
  );
  expect(cfnAnswers.length).toBe(before + 1);
  return cfnAnswers[before] ?? {};
}

async function issue(tenantId: string, key: string, body: Record<string, unknown> = {}) {
  const issued = await api.request('POST', `/v1/tenants/${tenantId}/org-registration`, {
    key,
    body: { name: 'Acme organisation', regions: [REGION], ...body },
  });
  expect(issued.status, issued.text).toBe(201);
  return {
    token: issued.body.token as string,
    parameters: issued.body.stackSetParameters as Record<string, string>,
    registration: issued.body.registration,
  };
}

const status = (tenantId: string, key: string) =>
  api.request('GET', `/v1/tenants/${tenantId}/org-registration`, { key });

const register = (body: Record<string, unknown>) =>
  api.request('POST', ORG_REGISTRATION_PATH, { key: null, body });

const remove = (body: Record<string, unknown>) =>
  api.request('POST', `${ORG_REGISTRATION_PATH}/remove`, { key: null, body });

describe('organisation onboarding: three accounts register through the custom resource against moto', () => {
  it('verifies the two good accounts, shows why the third is not, and keeps the token out of logs', async () => {
    const { tenantId, key } = await api.createTenant('org tenant');
    const { token, parameters, registration } = await issue(tenantId, key);
    const roles: Record<string, string> = {};
    for (const [name, accountId] of Object.entries(ACCOUNTS)) {
      roles[accountId] = await deployMember(accountId, parameters, name !== 'noHub');
    }

    const answers = [];
    for (const accountId of Object.values(ACCOUNTS))
      answers.push(await customResource('Create', accountId, parameters));
    const listed = await status(tenantId, key);

    expect(registration).toMatchObject({ live: true, regions: [REGION] });
    expect(parameters.RegistrationToken).toBe(token);
    expect(answers.map((a) => a.Status)).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS']);
    expect(listed.status).toBe(200);
    const byAccount = Object.fromEntries(
      (listed.body.accounts as { accountId: string; checks: unknown[] }[]).map((a) => [a.accountId, a]),
    );
    expect(byAccount[ACCOUNTS.good1]).toMatchObject({
      state: 'verified',
      reason: null,
      roleArn: roles[ACCOUNTS.good1],
    });
    expect(byAccount[ACCOUNTS.good2]).toMatchObject({ state: 'verified', reason: null });
    expect(byAccount[ACCOUNTS.noHub]).toMatchObject({
      state: 'failed',
      reason: expect.stringMatching(/^SECURITY_HUB_NOT_ENABLED \(us-east-1\)/),
    });
    expect(byAccount[ACCOUNTS.noHub]?.checks).toContainEqual(
      expect.objectContaining({
        name: 'SECURITY_HUB',
        ok: false,
        region: REGION,
        fix: expect.stringContaining('enable-security-hub --region us-east-1'),
      }),
    );
    const destinations = await api.db
      .select()
      .from(awsDestinations)
      .where(eq(awsDestinations.tenantId, tenantId));
    expect(
      Object.fromEntries(
        destinations.map((d) => [d.accountId, { state: d.state, externalId: d.externalId }]),
      ),
    ).toEqual(
      Object.fromEntries(
        Object.values(ACCOUNTS).map((accountId) => [
          accountId,
          {
            state: accountId === ACCOUNTS.noHub ? 'pending' : 'verified',
            externalId: `${parameters.ExternalIdPrefix}${accountId}`,
          },
        ]),
      ),
    );
    const audit = await api.db.select().from(auditLog).where(eq(auditLog.tenantId, tenantId));
    expect(JSON.stringify(audit)).not.toContain(token);
    expect(api.logs.join('\n')).not.toContain(token);
    const [tenantRow] = await api.db.select().from(tenants).where(eq(tenants.id, tenantId));
    if (tenantRow === undefined) throw new Error('no tenant');
    const page = (await orgAccountsSection(api.deps, tenantRow)).toString();
    const rows = [...page.matchAll(/data-org-account="(\d+)" data-state="(\w+)"/g)].map(
      (m) => `${m[1]}:${m[2]}`,
    );
    expect(rows).toEqual([
      `${ACCOUNTS.good1}:verified`,
      `${ACCOUNTS.good2}:verified`,
      `${ACCOUNTS.noHub}:failed`,
    ]);
    expect(page).toContain('SECURITY_HUB_NOT_ENABLED (us-east-1)');
    expect(page).toContain('aws securityhub enable-security-hub --region us-east-1');
    expect(page).not.toContain(token);
    expect(handlerLogs.length).toBeGreaterThanOrEqual(3);
    expect(handlerLogs.join('\n')).not.toContain(token);
  }, 120_000);

  it('is idempotent for a repeated registration, verifies again once fixed, and removes an account on Delete', async () => {
    const { tenantId, key } = await api.createTenant('org tenant 2');
    const { parameters } = await issue(tenantId, key);
    const accountId = '210000000004';
    const removedId = '210000000005';
    await deployMember(accountId, parameters, false);
    await deployMember(removedId, parameters, true);
    await customResource('Create', accountId, parameters);
    await customResource('Create', removedId, parameters);

    const again = await register({
      registrationToken: parameters.RegistrationToken,
      accountId,
      regions: [REGION],
      roleArn: `arn:aws:iam::${accountId}:role/${parameters.RoleName}`,
    });
    await enableHubIn(accountId);
    const update = await customResource('Update', accountId, parameters);
    const deleted = await customResource('Delete', removedId, parameters);
    const listed = await status(tenantId, key);

    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ accountId, state: 'failed' });
    expect(update.Status).toBe('SUCCESS');
    expect(deleted.Status).toBe('SUCCESS');
    expect(listed.body.accounts).toEqual([
      expect.objectContaining({ accountId, state: 'verified', reason: null }),
      expect.objectContaining({ accountId: removedId, state: 'removed', destinationId: null }),
    ]);
    const destinations = await api.db
      .select()
      .from(awsDestinations)
      .where(eq(awsDestinations.tenantId, tenantId));
    expect(destinations.map((d) => [d.accountId, d.state])).toEqual([[accountId, 'verified']]);
  }, 120_000);
});

describe('rotating the registration token', () => {
  it('moves a registered account to the new token’s ExternalId when the StackSet is updated', async () => {
    const { tenantId, key } = await api.createTenant('rotating tenant');
    const first = await issue(tenantId, key);
    const accountId = '210000000007';
    await deployMember(accountId, first.parameters, true);
    await customResource('Create', accountId, first.parameters);
    const second = await issue(tenantId, key);

    const stale = await customResource('Update', accountId, first.parameters);
    await rotateTrust(accountId, second.parameters);
    const updated = await customResource('Update', accountId, second.parameters);
    const listed = await status(tenantId, key);

    expect(stale).toMatchObject({
      Status: 'FAILED',
      Reason: expect.stringMatching(/UNAUTHORIZED: .*revoked/),
    });
    expect(updated.Status).toBe('SUCCESS');
    expect(second.parameters.ExternalIdPrefix).not.toBe(first.parameters.ExternalIdPrefix);
    expect(listed.body.accounts).toEqual([expect.objectContaining({ accountId, state: 'verified' })]);
    const destinations = await api.db
      .select()
      .from(awsDestinations)
      .where(eq(awsDestinations.tenantId, tenantId));
    expect(destinations.map((d) => [d.externalId, d.state])).toEqual([
      [`${second.parameters.ExternalIdPrefix}${accountId}`, 'verified'],
    ]);
  }, 120_000);
});

describe('the registration endpoint refuses precisely', () => {
  const account = '210000000009';
  const body = (token: string, extra: Record<string, unknown> = {}) => ({
    registrationToken: token,
    accountId: account,
    regions: [REGION],
    roleArn: `arn:aws:iam::${account}:role/Data443-VaikoraSecurityHub`,
    ...extra,
  });

  it('refuses an unknown token, a malformed account id, a role of another account and a region not registered', async () => {
    const { tenantId, key } = await api.createTenant();
    const { token } = await issue(tenantId, key);

    const unknown = await register(body(`vsho_0123456789ab_${'A'.repeat(43)}`));
    const garbage = await register(body('not-a-token'));
    const malformed = await register(body(token, { accountId: '12345' }));
    const otherAccount = await register(
      body(token, { roleArn: 'arn:aws:iam::999999999999:role/Data443-VaikoraSecurityHub' }),
    );
    const region = await register(body(token, { regions: ['eu-west-1'] }));

    expect([unknown.status, unknown.body.error.code]).toEqual([401, 'UNAUTHORIZED']);
    expect([garbage.status, garbage.body.error.code]).toEqual([401, 'UNAUTHORIZED']);
    expect([malformed.status, malformed.body.error.code]).toEqual([400, 'VALIDATION_FAILED']);
    expect(malformed.body.error.message).toMatch(/^body\.accountId: must be a 12-digit AWS account id/);
    expect([otherAccount.status, otherAccount.body.error.code]).toEqual([422, 'ACCOUNT_MISMATCH']);
    expect([region.status, region.body.error.code]).toEqual([400, 'VALIDATION_FAILED']);
    const destinations = await api.db
      .select()
      .from(awsDestinations)
      .where(eq(awsDestinations.tenantId, tenantId));
    expect(destinations).toEqual([]);
  });

  it('refuses a token after it expired, and a revoked or replaced one, for registering and for removing', async () => {
    const { tenantId, key } = await api.createTenant();
    const expiring = await issue(tenantId, key, { expiresInDays: 1 });
    const saved = now;
    now += 86_400_000;
    try {
      const expired = await register(body(expiring.token));
      const expiredRemove = await remove({ registrationToken: expiring.token, accountId: account });

      expect([expired.status, expired.body.error.code]).toEqual([401, 'REGISTRATION_TOKEN_EXPIRED']);
      expect([expiredRemove.status, expiredRemove.body.error.code]).toEqual([
        401,
        'REGISTRATION_TOKEN_EXPIRED',
      ]);
    } finally {
      now = saved;
    }
    const replaced = expiring.token;
    const { token: current } = await issue(tenantId, key);
    const revoked = await api.request('DELETE', `/v1/tenants/${tenantId}/org-registration`, { key });
    const afterReplace = await register(body(replaced));
    const afterRevoke = await register(body(current));
    const listed = await status(tenantId, key);

    expect(revoked.body.revoked).toHaveLength(1);
    expect([afterReplace.status, afterReplace.body.error.message]).toEqual([
      401,
      'the registration token was revoked; issue a new one',
    ]);
    expect([afterRevoke.status, afterRevoke.body.error.code]).toEqual([401, 'UNAUTHORIZED']);
    expect(listed.body.registration).toBeNull();
  });

  it('never lets one tenant’s token touch another tenant’s accounts', async () => {
    const owner = await api.createTenant('owner');
    const intruder = await api.createTenant('intruder');
    const { parameters } = await issue(owner.tenantId, owner.key);
    const { token: intruderToken } = await issue(intruder.tenantId, intruder.key);
    const accountId = '210000000006';
    await deployMember(accountId, parameters, true);
    await customResource('Create', accountId, parameters);

    const removal = await remove({ registrationToken: intruderToken, accountId });
    // The intruder can only add the account to its own tenant, where the role (trusting the owner's
    // ExternalId, not the intruder's) cannot be assumed.
    const claim = await register({
      registrationToken: intruderToken,
      accountId,
      regions: [REGION],
      roleArn: `arn:aws:iam::${accountId}:role/${parameters.RoleName}`,
    });
    const ownerView = await status(owner.tenantId, owner.key);
    const intruderView = await status(intruder.tenantId, intruder.key);

    expect([removal.status, removal.body.error.code]).toEqual([404, 'NOT_FOUND']);
    expect(claim.status).toBe(201);
    expect(claim.body).toMatchObject({
      state: 'failed',
      reason: expect.stringMatching(/^ROLE_NOT_ASSUMABLE/),
    });
    expect(ownerView.body.accounts).toEqual([expect.objectContaining({ accountId, state: 'verified' })]);
    expect(intruderView.body.accounts).toEqual([expect.objectContaining({ accountId, state: 'failed' })]);
    const ownerDestinations = await api.db
      .select()
      .from(awsDestinations)
      .where(eq(awsDestinations.tenantId, owner.tenantId));
    expect(ownerDestinations.map((d) => [d.accountId, d.state])).toEqual([[accountId, 'verified']]);
  }, 60_000);

  it('registers an account once when two calls for it race', async () => {
    const { tenantId, key } = await api.createTenant();
    const { token } = await issue(tenantId, key);
    const racing = '210000000008';

    const answers = await Promise.all([
      register(
        body(token, { accountId: racing, roleArn: `arn:aws:iam::${racing}:role/Data443-VaikoraSecurityHub` }),
      ),
      register(
        body(token, { accountId: racing, roleArn: `arn:aws:iam::${racing}:role/Data443-VaikoraSecurityHub` }),
      ),
    ]);

    expect(answers.map((a) => a.status).sort()).toEqual([200, 201]);
    const destinations = await api.db
      .select()
      .from(awsDestinations)
      .where(eq(awsDestinations.tenantId, tenantId));
    expect(destinations.map((d) => d.accountId)).toEqual([racing]);
    expect((await status(tenantId, key)).body.accounts).toEqual([
      expect.objectContaining({ accountId: racing, state: 'failed' }),
    ]);
  });

  it('rate-limits one client address', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 31; i++) {
      const response = await api.app.request(
        ORG_REGISTRATION_PATH,
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body('x')) },
        { clientAddress: '203.0.113.9' },
      );
      statuses.push(response.status);
    }

    expect(statuses.slice(0, 30)).toEqual(Array(30).fill(401));
    expect(statuses[30]).toBe(429);
  });
});

describe('the StackSet template and the API agree', () => {
  it('on every parameter the API fills in', () => {
    const stackSet = loadOrgTemplate(ORG_STACKSET_TEMPLATE_PATH) as { Parameters: Record<string, unknown> };

    const missing = Object.values(ORG_STACKSET_PARAMETERS).filter((name) => !(name in stackSet.Parameters));

    expect(missing).toEqual([]);
  });
});
