import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import {
  EnableImportFindingsForProductCommand,
  EnableSecurityHubCommand,
  SecurityHubClient,
} from '@aws-sdk/client-securityhub';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import {
  type FaultProxy,
  MOTO_DEFAULT_ACCOUNT_ID,
  type MotoServer,
  startFaultProxy,
  startMoto,
  TEST_CREDENTIALS,
  testAwsConfig,
} from '@vsh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useHarness } from '../testing/harness.ts';
import { createAwsDestinationVerifier } from './aws-verifier.ts';
import type { DestinationVerifier } from './checks.ts';

// Partner-product mode (ADR 0121) through the API: registering an account without a role, and
// verifying it by the delivery check, against the fault proxy's memory Security Hub, which allow-lists
// moto's default account (the connector's own credentials) for Data443's product.

const PARTNER_ACCOUNT = MOTO_DEFAULT_ACCOUNT_ID;
const PRODUCT = { accountId: PARTNER_ACCOUNT, name: 'data443/vaikora' };
const CUSTOMER = '210987654321';
const productArnIn = (region: string) =>
  `arn:aws:securityhub:${region}:${PARTNER_ACCOUNT}:product/data443/vaikora`;

let moto: MotoServer;
let proxy: FaultProxy;
let verifier: ReturnType<typeof createAwsDestinationVerifier>;
let customerCredentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string };

/** A Security Hub client acting as the customer's own account in a region. */
const customerHub = (region: string) =>
  new SecurityHubClient({ endpoint: proxy.endpoint, region, credentials: customerCredentials });

beforeAll(async () => {
  moto = await startMoto();
  proxy = await startFaultProxy({
    upstream: moto.endpoint,
    securityHub: 'memory',
    partners: { [PARTNER_ACCOUNT]: PRODUCT.name },
    rules: { throttle: false },
  });
  // The customer's own identity: a role in its account (moto's x-moto-account-id), assumed.
  const iam = new IAMClient(testAwsConfig(moto.endpoint));
  const create = new CreateRoleCommand({
    RoleName: 'customer-admin',
    AssumeRolePolicyDocument: JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' }],
    }),
  });
  create.middlewareStack.add(
    (next) => (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers !== undefined) request.headers['x-moto-account-id'] = CUSTOMER;
      return next(args);
    },
    { step: 'build', name: 'motoAccount' },
  );
  await iam.send(create);
  iam.destroy();
  const sts = new STSClient(testAwsConfig(moto.endpoint));
  const { Credentials } = await sts.send(
    new AssumeRoleCommand({
      RoleArn: `arn:aws:iam::${CUSTOMER}:role/customer-admin`,
      RoleSessionName: 'admin',
    }),
  );
  sts.destroy();
  customerCredentials = {
    accessKeyId: Credentials?.AccessKeyId ?? '',
    secretAccessKey: Credentials?.SecretAccessKey ?? '',
    sessionToken: Credentials?.SessionToken ?? '',
  };
  for (const region of ['eu-west-1', 'us-east-1']) {
    const hub = customerHub(region);
    await hub.send(new EnableSecurityHubCommand({}));
    hub.destroy();
  }
  // Accepted in one of the two regions only.
  const hub = customerHub('eu-west-1');
  await hub.send(new EnableImportFindingsForProductCommand({ ProductArn: productArnIn('eu-west-1') }));
  hub.destroy();
  verifier = createAwsDestinationVerifier({ endpoint: proxy.endpoint, masterCredentials: TEST_CREDENTIALS });
});

afterAll(async () => {
  verifier?.destroy();
  await proxy?.stop();
  await moto?.stop();
});

const lateVerifier: DestinationVerifier = {
  verify: (input) => verifier.verify(input),
  verifyPartner: (input) => verifier.verifyPartner(input),
};

describe('partner-product mode through the API (a deployment that offers it)', () => {
  const api = useHarness({ verifier: lateVerifier, config: { partnerProduct: PRODUCT } });

  it('registers an account without a role and verifies, region by region, that its hubs accept the product', async () => {
    const { tenantId, key } = await api.createTenant();
    const created = await api.request('POST', `/v1/tenants/${tenantId}/destinations`, {
      key,
      body: { accountId: CUSTOMER, regions: ['eu-west-1', 'us-east-1'], delivery: 'partner' },
    });
    expect(created.status).toBe(201);
    expect(created.body.destination.delivery).toBe('partner');
    const destinationId = created.body.destination.id;
    const verifyPath = `/v1/tenants/${tenantId}/destinations/${destinationId}/verify`;

    const withRole = await api.request('POST', verifyPath, {
      key,
      body: { roleArn: `arn:aws:iam::${CUSTOMER}:role/Data443-VaikoraSecurityHub` },
    });
    const first = await api.request('POST', verifyPath, { key, body: {} });

    expect(withRole.status).toBe(400);
    expect(withRole.body.error.message).toContain('partner-product mode');
    expect(first.status).toBe(200);
    expect(first.body.verified).toBe(false);
    expect(first.body.checks).toEqual([
      expect.objectContaining({ name: 'PARTNER_PRODUCT', ok: true, code: 'OK', region: 'eu-west-1' }),
      expect.objectContaining({
        name: 'PARTNER_PRODUCT',
        ok: false,
        code: 'PRODUCT_NOT_ENABLED',
        region: 'us-east-1',
        fix: expect.stringContaining(
          `enable-import-findings-for-product --product-arn ${productArnIn('us-east-1')}`,
        ),
      }),
    ]);
    expect(first.body.destination.state).toBe('pending');
    expect(first.body.destination.lastError).toMatch(/^PRODUCT_NOT_ENABLED \(us-east-1\)/);
    // The delivery check is in the customer's accepting hub, archived, under the product.
    const [check] = proxy.memoryFindings(CUSTOMER, 'eu-west-1');
    expect(check).toMatchObject({
      Id: `vaikora-health ${tenantId}/${destinationId}/delivery_check`,
      ProductArn: productArnIn('eu-west-1'),
      AwsAccountId: CUSTOMER,
      RecordState: 'ARCHIVED',
    });
    expect(proxy.memoryFindings(CUSTOMER, 'us-east-1')).toEqual([]);

    const hub = customerHub('us-east-1');
    await hub.send(new EnableImportFindingsForProductCommand({ ProductArn: productArnIn('us-east-1') }));
    hub.destroy();
    const second = await api.request('POST', verifyPath, { key, body: {} });

    expect(second.status).toBe(200);
    expect(second.body.verified).toBe(true);
    expect(second.body.destination.state).toBe('verified');
    expect(second.body.destination.roleArn).toBeNull();
  });

  it('still asks a role-mode destination for its role', async () => {
    const { tenantId, key } = await api.createTenant();
    const created = await api.request('POST', `/v1/tenants/${tenantId}/destinations`, {
      key,
      body: { accountId: CUSTOMER, regions: ['eu-west-1'] },
    });

    const verified = await api.request(
      'POST',
      `/v1/tenants/${tenantId}/destinations/${created.body.destination.id}/verify`,
      { key, body: {} },
    );

    expect(created.body.destination.delivery).toBe('role');
    expect(verified.status).toBe(400);
    expect(verified.body.error.message).toContain('body.roleArn');
  });
});

describe('partner-product mode in a deployment that does not offer it', () => {
  const api = useHarness({ verifier: lateVerifier });

  it('refuses to register a partner-product account, saying why', async () => {
    const { tenantId, key } = await api.createTenant();

    const created = await api.request('POST', `/v1/tenants/${tenantId}/destinations`, {
      key,
      body: { accountId: CUSTOMER, regions: ['eu-west-1'], delivery: 'partner' },
    });

    expect(created.status).toBeGreaterThanOrEqual(400);
    expect(created.status).toBeLessThan(500);
    expect(created.body.error.code).toBe('NOT_AVAILABLE');
    expect(created.body.error.message).toContain('does not offer partner-product mode');
  });
});
