import { createConnection } from 'node:net';
import {
  type AwsSecurityFinding,
  BatchImportFindingsCommand,
  DescribeHubCommand,
  EnableSecurityHubCommand,
  GetFindingsCommand,
  LimitExceededException,
  SecurityHubClient,
  type SecurityHubClientConfig,
} from '@aws-sdk/client-securityhub';
import {
  AssumeRoleCommand,
  GetCallerIdentityCommand,
  STSClient,
  type STSClientConfig,
} from '@aws-sdk/client-sts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { testAwsConfig } from './aws-config.ts';
import { type FaultProxy, FaultProxyError, type FaultProxyOptions, startFaultProxy } from './fault-proxy.ts';
import { type MotoServer, startMoto } from './moto.ts';

const REGION = 'us-east-1';

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

let moto: MotoServer;
const running: FaultProxy[] = [];
let nextAccount = 200000000000;

beforeAll(async () => {
  moto = await startMoto();
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((proxy) => proxy.stop()));
});
afterAll(async () => {
  await moto?.stop();
});

async function proxyFor(options: Partial<FaultProxyOptions> = {}): Promise<FaultProxy> {
  const proxy = await startFaultProxy({ upstream: moto.endpoint, ...options });
  running.push(proxy);
  return proxy;
}

/** A fresh account per test: tests share one moto and must not see each other's findings. */
function newAccount(): string {
  nextAccount += 1;
  return String(nextAccount);
}

async function assumeRole(endpoint: string, account: string): Promise<Credentials> {
  const sts = new STSClient(testAwsConfig(endpoint));
  const { Credentials: c } = await sts.send(
    new AssumeRoleCommand({
      RoleArn: `arn:aws:iam::${account}:role/VaikoraSecurityHubImporter`,
      RoleSessionName: 'fault-proxy-test',
      ExternalId: 'ext-123456',
    }),
  );
  sts.destroy();
  return {
    accessKeyId: c?.AccessKeyId ?? '',
    secretAccessKey: c?.SecretAccessKey ?? '',
    sessionToken: c?.SessionToken ?? '',
  };
}

function finding(account: string, id: string, region = REGION): AwsSecurityFinding {
  return {
    SchemaVersion: '2018-10-08',
    Id: id,
    ProductArn: `arn:aws:securityhub:${region}:${account}:product/${account}/default`,
    GeneratorId: 'vaikora/tool_call',
    AwsAccountId: account,
    Types: ['Software and Configuration Checks/AI Agent Security'],
    CreatedAt: '2026-01-01T00:00:00Z',
    UpdatedAt: '2026-01-01T00:00:00Z',
    Severity: { Label: 'HIGH', Normalized: 75 },
    Title: `Risky action ${id}`,
    Description: 'agent a1 ran a risky tool call',
    Resources: [{ Type: 'Other', Id: 'vaikora-agent/a1', Partition: 'aws', Region: region }],
  };
}

function securityHub(
  endpoint: string,
  credentials: Credentials,
  extra: SecurityHubClientConfig = {},
): SecurityHubClient {
  return new SecurityHubClient({ ...testAwsConfig(endpoint), credentials, ...extra });
}

/**
 * A retry strategy that never retries but records how the SDK classified each failure: the same
 * `errorType` its standard and adaptive strategies act on (THROTTLING, TRANSIENT, ...).
 */
function recordingRetryStrategy() {
  const errorTypes: string[] = [];
  const strategy = {
    acquireInitialRetryToken: async () => ({ getRetryCount: () => 0, getRetryDelay: () => 0 }),
    refreshRetryTokenForRetry: async (_token: unknown, info: { errorType: string }): Promise<never> => {
      errorTypes.push(info.errorType);
      throw new Error('no retries in this test');
    },
    recordSuccess: () => {},
  };
  return { strategy, errorTypes };
}

async function settle<T>(promises: Promise<T>[]): Promise<{ ok: T[]; failed: unknown[] }> {
  const results = await Promise.allSettled(promises);
  return {
    ok: results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])),
    failed: results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : [])),
  };
}

describe('fault proxy in front of moto', () => {
  it('forwards STS AssumeRole, Security Hub imports and GetFindings, keyed by the assumed account', async () => {
    const proxy = await proxyFor();
    const account = newAccount();
    const credentials = await assumeRole(proxy.endpoint, account);
    const hub = securityHub(proxy.endpoint, credentials);

    await hub.send(new EnableSecurityHubCommand({}));
    const described = await hub.send(new DescribeHubCommand({}));
    const imported = await hub.send(
      new BatchImportFindingsCommand({ Findings: [finding(account, 'fwd-1'), finding(account, 'fwd-2')] }),
    );
    const found = await hub.send(new GetFindingsCommand({}));

    expect(described.HubArn).toBe(`arn:aws:securityhub:${REGION}:${account}:hub/default`);
    expect(imported).toMatchObject({ FailedCount: 0, SuccessCount: 2 });
    expect(found.Findings?.map((f) => f.Id).sort()).toEqual(['fwd-1', 'fwd-2']);
    expect(proxy.operationStats('sts', 'AssumeRole').forwarded).toBe(1);
    expect(proxy.operationStats('securityhub', 'BatchImportFindings')).toMatchObject({
      requests: 1,
      forwarded: 1,
    });
    expect(proxy.stats().securityHub[`${account}/${REGION}`]).toEqual({
      importRequests: 1,
      findingsReceived: 2,
      distinctIds: 2,
      reimports: 0,
      failedFindings: 0,
    });
  });

  it('throttles BatchImportFindings above the burst with an error the SDK classifies as throttling', async () => {
    const proxy = await proxyFor();
    const account = newAccount();
    const credentials = await assumeRole(proxy.endpoint, account);
    await securityHub(proxy.endpoint, credentials).send(new EnableSecurityHubCommand({}));
    const { strategy, errorTypes } = recordingRetryStrategy();
    const hub = securityHub(proxy.endpoint, credentials, { retryStrategy: strategy });

    const started = performance.now();
    const { ok, failed } = await settle(
      Array.from({ length: 40 }, (_, i) =>
        hub.send(new BatchImportFindingsCommand({ Findings: [finding(account, `burst-${i}`)] })),
      ),
    );
    const refilled = Math.ceil(((performance.now() - started) / 1000) * 10);

    expect(ok.length).toBeGreaterThanOrEqual(30);
    expect(ok.length).toBeLessThanOrEqual(30 + refilled);
    expect(failed.length).toBeGreaterThan(0);
    for (const error of failed) {
      expect(error).toMatchObject({
        name: 'TooManyRequestsException',
        message: 'Too Many Requests',
        $metadata: { httpStatusCode: 429 },
      });
    }
    expect(errorTypes).toEqual(failed.map(() => 'THROTTLING'));
    expect(proxy.operationStats('securityhub', 'BatchImportFindings').throttled).toBe(failed.length);
  });

  it('lets traffic at or below the rate through untouched, even after the burst is spent', async () => {
    // The buckets read this clock: time moves only when the test says so.
    let now = 0;
    const proxy = await proxyFor({ clock: () => now });
    const account = newAccount();
    const credentials = await assumeRole(proxy.endpoint, account);
    const hub = securityHub(proxy.endpoint, credentials, { maxAttempts: 1 });
    await hub.send(new EnableSecurityHubCommand({}));

    const burst = await settle(
      Array.from({ length: 30 }, (_, i) =>
        hub.send(new BatchImportFindingsCommand({ Findings: [finding(account, `spent-${i}`)] })),
      ),
    );
    const paced: unknown[] = [];
    for (let i = 0; i < 12; i++) {
      now += 125;
      await hub
        .send(new BatchImportFindingsCommand({ Findings: [finding(account, `paced-${i}`)] }))
        .catch((error: unknown) => paced.push(error));
    }

    expect(burst.failed).toEqual([]);
    expect(paced).toEqual([]);
    expect(proxy.operationStats('securityhub', 'BatchImportFindings').throttled).toBe(0);
  });

  it('keeps a separate bucket per account and region', async () => {
    const proxy = await proxyFor({
      rules: { throttle: [{ operations: ['BatchImportFindings'], ratePerSecond: 0.01, burst: 1 }] },
    });
    const [a, b] = [newAccount(), newAccount()];
    const [credentialsA, credentialsB] = await Promise.all([
      assumeRole(proxy.endpoint, a),
      assumeRole(proxy.endpoint, b),
    ]);
    const hubA = securityHub(proxy.endpoint, credentialsA, { maxAttempts: 1 });
    const hubAWest = securityHub(proxy.endpoint, credentialsA, { maxAttempts: 1, region: 'us-west-2' });
    const hubB = securityHub(proxy.endpoint, credentialsB, { maxAttempts: 1 });
    const importOne = (client: SecurityHubClient, account: string, id: string, region = REGION) =>
      client.send(new BatchImportFindingsCommand({ Findings: [finding(account, id, region)] }));

    await importOne(hubA, a, 'a-1');
    const secondInA = importOne(hubA, a, 'a-2');
    const firstInB = importOne(hubB, b, 'b-1');
    const firstInAWest = importOne(hubAWest, a, 'a-west-1', 'us-west-2');

    await expect(secondInA).rejects.toMatchObject({ name: 'TooManyRequestsException' });
    await expect(firstInB).resolves.toMatchObject({ SuccessCount: 1 });
    await expect(firstInAWest).resolves.toMatchObject({ SuccessCount: 1 });
  });

  it('can answer with the modeled LimitExceededException instead, also classified as throttling', async () => {
    const proxy = await proxyFor();
    proxy.setRules({
      throttle: [
        {
          operations: ['BatchImportFindings'],
          ratePerSecond: 0.01,
          burst: 1,
          errorCode: 'LimitExceededException',
          message: 'Rate exceeded',
        },
      ],
    });
    const account = newAccount();
    const credentials = await assumeRole(proxy.endpoint, account);
    const { strategy, errorTypes } = recordingRetryStrategy();
    const hub = securityHub(proxy.endpoint, credentials, { retryStrategy: strategy });

    await hub.send(new BatchImportFindingsCommand({ Findings: [finding(account, 'lim-1')] }));
    const error = await hub
      .send(new BatchImportFindingsCommand({ Findings: [finding(account, 'lim-2')] }))
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(LimitExceededException);
    expect(error).toMatchObject({ message: 'Rate exceeded', $metadata: { httpStatusCode: 429 } });
    expect(errorTypes).toEqual(['THROTTLING']);
  });

  it('injects 5xx at roughly the configured rate, and the SDK retries recover', async () => {
    const proxy = await proxyFor({
      seed: 7,
      rules: {
        throttle: false,
        errors: [{ match: { service: 'securityhub', operation: 'BatchImportFindings' }, rate: 0.3 }],
      },
    });
    const account = newAccount();
    const credentials = await assumeRole(proxy.endpoint, account);
    const { strategy, errorTypes } = recordingRetryStrategy();
    const noRetries = securityHub(proxy.endpoint, credentials, { retryStrategy: strategy });
    const withRetries = securityHub(proxy.endpoint, credentials, { maxAttempts: 6 });

    const once = [];
    for (let i = 0; i < 50; i++) {
      once.push(
        await noRetries
          .send(new BatchImportFindingsCommand({ Findings: [finding(account, `once-${i}`)] }))
          .then(() => 'ok')
          .catch((error: unknown) => error),
      );
    }
    const failures = once.filter((outcome) => outcome !== 'ok');
    const retried = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        withRetries.send(new BatchImportFindingsCommand({ Findings: [finding(account, `retried-${i}`)] })),
      ),
    );

    expect(failures.length).toBeGreaterThanOrEqual(8);
    expect(failures.length).toBeLessThanOrEqual(22);
    expect(failures[0]).toMatchObject({ name: 'InternalException', $metadata: { httpStatusCode: 500 } });
    expect(new Set(errorTypes)).toEqual(new Set(['TRANSIENT']));
    expect(retried.every((r) => r.SuccessCount === 1)).toBe(true);
    expect(retried.some((r) => (r.$metadata.attempts ?? 1) > 1)).toBe(true);
    expect(proxy.operationStats('securityhub', 'BatchImportFindings').injected5xx).toBeGreaterThan(
      failures.length,
    );
  });

  it('returns the chosen findings in FailedFindings and forwards only the others to moto', async () => {
    const proxy = await proxyFor({
      rules: {
        failedFindings: [{ ids: ['part-2', 'part-4'], errorCode: 'InvalidInput', errorMessage: 'bad field' }],
      },
    });
    const account = newAccount();
    const credentials = await assumeRole(proxy.endpoint, account);
    const hub = securityHub(proxy.endpoint, credentials);
    const direct = securityHub(moto.endpoint, credentials);

    const result = await hub.send(
      new BatchImportFindingsCommand({
        Findings: ['part-1', 'part-2', 'part-3', 'part-4', 'part-5'].map((id) => finding(account, id)),
      }),
    );
    const inMoto = await direct.send(new GetFindingsCommand({}));

    expect(result.FailedCount).toBe(2);
    expect(result.SuccessCount).toBe(3);
    expect(result.FailedFindings).toEqual([
      { Id: 'part-2', ErrorCode: 'InvalidInput', ErrorMessage: 'bad field' },
      { Id: 'part-4', ErrorCode: 'InvalidInput', ErrorMessage: 'bad field' },
    ]);
    expect(inMoto.Findings?.map((f) => f.Id).sort()).toEqual(['part-1', 'part-3', 'part-5']);
    expect(proxy.operationStats('securityhub', 'BatchImportFindings').failedFindings).toBe(2);
  });

  it('fails findings chosen by a predicate only the first time, and answers itself when none pass', async () => {
    const proxy = await proxyFor({
      rules: {
        failedFindings: [
          {
            when: (f) => String(f.Id).startsWith('flaky-'),
            errorCode: 'InternalError',
            errorMessage: 'try again',
            times: 1,
          },
        ],
      },
    });
    const account = newAccount();
    const credentials = await assumeRole(proxy.endpoint, account);
    const hub = securityHub(proxy.endpoint, credentials);
    const batch = { Findings: [finding(account, 'flaky-1'), finding(account, 'flaky-2')] };

    const first = await hub.send(new BatchImportFindingsCommand(batch));
    const second = await hub.send(new BatchImportFindingsCommand(batch));

    expect(first).toMatchObject({ FailedCount: 2, SuccessCount: 0 });
    expect(second).toMatchObject({ FailedCount: 0, SuccessCount: 2 });
    expect(proxy.operationStats('securityhub', 'BatchImportFindings')).toMatchObject({
      forwarded: 1,
      answeredLocally: 1,
    });
    expect(proxy.stats().securityHub[`${account}/${REGION}`]).toMatchObject({
      distinctIds: 2,
      failedFindings: 2,
    });
  });

  it('rejects findings for another account or region with AccessDeniedException, never reaching moto', async () => {
    const proxy = await proxyFor();
    const [mine, theirs] = [newAccount(), newAccount()];
    const credentials = await assumeRole(proxy.endpoint, mine);
    const { strategy, errorTypes } = recordingRetryStrategy();
    const hub = securityHub(proxy.endpoint, credentials, { retryStrategy: strategy });

    const foreignAccount = await hub
      .send(new BatchImportFindingsCommand({ Findings: [finding(theirs, 'x-1')] }))
      .catch((e: unknown) => e);
    const foreignRegion = await hub
      .send(new BatchImportFindingsCommand({ Findings: [finding(mine, 'x-2', 'eu-west-1')] }))
      .catch((e: unknown) => e);

    expect(foreignAccount).toMatchObject({
      name: 'AccessDeniedException',
      $metadata: { httpStatusCode: 403 },
    });
    expect(foreignRegion).toMatchObject({ name: 'AccessDeniedException' });
    expect(errorTypes).toEqual(['CLIENT_ERROR', 'CLIENT_ERROR']);
    expect(proxy.operationStats('securityhub', 'BatchImportFindings').forwarded).toBe(0);
  });

  it('holds a request until the client gives up, or closes it unanswered after holdMs', async () => {
    const proxy = await proxyFor({
      rules: { timeouts: [{ match: { operation: 'GetCallerIdentity' }, rate: 1, times: 1 }] },
    });
    const config: STSClientConfig = { ...testAwsConfig(proxy.endpoint), maxAttempts: 1 };
    // Without throwOnRequestTimeout the SDK only logs a warning and keeps waiting.
    const impatient = new STSClient({
      ...config,
      requestHandler: { requestTimeout: 300, throwOnRequestTimeout: true },
    });
    const patient = new STSClient(config);

    const started = performance.now();
    const timedOut = await impatient.send(new GetCallerIdentityCommand({})).catch((e: unknown) => e);
    const waited = performance.now() - started;
    const afterwards = await impatient.send(new GetCallerIdentityCommand({}));
    proxy.setRules({
      timeouts: [{ match: { operation: 'GetCallerIdentity' }, rate: 1, holdMs: 100, times: 1 }],
    });
    const closed = await patient.send(new GetCallerIdentityCommand({})).catch((e: unknown) => e);

    expect(timedOut).toMatchObject({ name: 'TimeoutError' });
    expect(waited).toBeGreaterThanOrEqual(250);
    expect(afterwards.Account).toBeDefined();
    expect(closed).toMatchObject({ code: 'ECONNRESET' });
    expect(proxy.operationStats('sts', 'GetCallerIdentity').timeouts).toBe(2);
  });

  it('resets connections, which SDK retries recover from', async () => {
    const proxy = await proxyFor({ rules: { resets: [{ match: { service: 'sts' }, rate: 1, times: 2 }] } });
    const config = testAwsConfig(proxy.endpoint);

    const reset = await new STSClient({ ...config, maxAttempts: 1 })
      .send(new GetCallerIdentityCommand({}))
      .catch((e: unknown) => e);
    const recovered = await new STSClient({ ...config, maxAttempts: 3 }).send(
      new GetCallerIdentityCommand({}),
    );

    expect(reset).toMatchObject({ code: 'ECONNRESET' });
    expect(recovered.$metadata.attempts).toBe(2);
    expect(proxy.operationStats('sts', 'GetCallerIdentity').resets).toBe(2);
  });

  it('adds fixed latency or jitter to matching requests only', async () => {
    const proxy = await proxyFor({
      rules: { latency: [{ match: { service: 'sts', operation: 'GetCallerIdentity' }, minMs: 200 }] },
    });
    const sts = new STSClient(testAwsConfig(proxy.endpoint));
    const timed = async (call: () => Promise<unknown>) => {
      const started = performance.now();
      await call();
      return performance.now() - started;
    };

    const slow = await timed(() => sts.send(new GetCallerIdentityCommand({})));
    proxy.setRules({ latency: [{ match: { service: 'sts' }, minMs: 50, maxMs: 120 }] });
    const jittered = await Promise.all(
      Array.from({ length: 4 }, () => timed(() => sts.send(new GetCallerIdentityCommand({})))),
    );

    expect(slow).toBeGreaterThanOrEqual(195);
    expect(Math.min(...jittered)).toBeGreaterThanOrEqual(45);
    expect(proxy.operationStats('sts', 'GetCallerIdentity').delayed).toBe(5);
  });

  it('survives malformed requests and rejects invalid rules', async () => {
    const proxy = await proxyFor({ securityHub: 'memory' });

    const garbage = await new Promise<string>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port: proxy.port });
      let answer = '';
      socket.on('data', (chunk) => {
        answer += chunk.toString('utf8');
      });
      socket.on('close', () => resolve(answer));
      socket.on('error', () => resolve(answer));
      socket.end('NOT HTTP AT ALL\r\n\r\n');
    });
    const badJson = await fetch(`${proxy.endpoint}/findings/import`, {
      method: 'POST',
      headers: {
        authorization:
          'AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/securityhub/aws4_request, SignedHeaders=host, Signature=0',
        'content-type': 'application/json',
      },
      body: '{"Findings": [',
    });
    const stillServing = await new STSClient(testAwsConfig(proxy.endpoint)).send(
      new GetCallerIdentityCommand({}),
    );

    expect(garbage).toMatch(/^HTTP\/1\.1 400/);
    expect(badJson.status).toBe(400);
    expect(badJson.headers.get('x-amzn-errortype')).toBe('InvalidInputException');
    expect(stillServing.Account).toBeDefined();
    expect(() => proxy.setRules({ errors: [{ rate: -1 }] })).toThrow(FaultProxyError);
  });

  it('stop() closes every socket, including a request it is holding', async () => {
    const proxy = await proxyFor({ rules: { timeouts: [{ rate: 1 }] } });
    const sts = new STSClient({ ...testAwsConfig(proxy.endpoint), maxAttempts: 1 });

    const held = sts.send(new GetCallerIdentityCommand({})).catch((e: unknown) => e);
    await expect.poll(() => proxy.operationStats('sts', 'GetCallerIdentity').timeouts).toBe(1);
    const started = performance.now();
    await proxy.stop();
    await proxy.stop();
    const error = await held;

    expect(performance.now() - started).toBeLessThan(1000);
    expect(error).toMatchObject({ code: 'ECONNRESET' });
  });
});

describe('fault proxy with the memory Security Hub', () => {
  it('requires EnableSecurityHub, answers imports itself and counts re-imports per account and region', async () => {
    const proxy = await proxyFor({ securityHub: 'memory', rules: { throttle: false } });
    const account = newAccount();
    const credentials = await assumeRole(proxy.endpoint, account);
    const hub = securityHub(proxy.endpoint, credentials, { maxAttempts: 1 });
    const direct = securityHub(moto.endpoint, credentials);

    const beforeEnable = await hub
      .send(new BatchImportFindingsCommand({ Findings: [finding(account, 'm-0')] }))
      .catch((e: unknown) => e);
    await hub.send(new EnableSecurityHubCommand({}));
    await hub.send(
      new BatchImportFindingsCommand({ Findings: ['m-1', 'm-2', 'm-3'].map((id) => finding(account, id)) }),
    );
    await hub.send(
      new BatchImportFindingsCommand({ Findings: ['m-2', 'm-3', 'm-4'].map((id) => finding(account, id)) }),
    );
    const one = await hub.send(
      new GetFindingsCommand({ Filters: { Id: [{ Value: 'm-4', Comparison: 'EQUALS' }] } }),
    );
    const page1 = await hub.send(new GetFindingsCommand({ MaxResults: 3 }));
    const page2 = await hub.send(new GetFindingsCommand({ MaxResults: 3, NextToken: page1.NextToken }));
    const inMoto = await direct.send(new GetFindingsCommand({}));

    expect(beforeEnable).toMatchObject({
      name: 'InvalidAccessException',
      $metadata: { httpStatusCode: 401 },
    });
    expect(proxy.stats().securityHub[`${account}/${REGION}`]).toEqual({
      importRequests: 2,
      findingsReceived: 6,
      distinctIds: 4,
      reimports: 2,
      failedFindings: 0,
    });
    expect(one.Findings?.map((f) => f.Id)).toEqual(['m-4']);
    expect([...(page1.Findings ?? []), ...(page2.Findings ?? [])].map((f) => f.Id).sort()).toEqual([
      'm-1',
      'm-2',
      'm-3',
      'm-4',
    ]);
    expect(page2.NextToken).toBeUndefined();
    expect(proxy.memoryFindings(account, REGION)).toHaveLength(4);
    expect(inMoto.Findings).toEqual([]);
  });

  it('counts every entry per finding id as it arrives, faulted or not, and which re-sent an accepted id', async () => {
    const proxy = await proxyFor({
      securityHub: 'memory',
      requireEnabledHub: false,
      rules: {
        throttle: false,
        errors: [{ match: { operation: 'BatchImportFindings' }, rate: 1, status: 503, times: 1 }],
        failedFindings: [{ ids: ['e-2'], times: 1 }],
      },
    });
    const account = newAccount();
    const credentials = await assumeRole(proxy.endpoint, account);
    const hub = securityHub(proxy.endpoint, credentials, { maxAttempts: 1 });
    const send = (ids: string[]) =>
      hub
        .send(new BatchImportFindingsCommand({ Findings: ids.map((id) => finding(account, id)) }))
        .catch((e: unknown) => e);

    const refused = await send(['e-1']);
    await send(['e-1', 'e-2']);
    await send(['e-1', 'e-2', 'e-3']);
    const counted = proxy.stats().findingEntries[`${account}/${REGION}`];
    proxy.resetStats();
    await send(['e-3']);
    const afterReset = proxy.stats().findingEntries[`${account}/${REGION}`];

    expect(refused).toMatchObject({ $metadata: { httpStatusCode: 503 } });
    expect(counted).toEqual({
      'e-1': { sent: 3, afterAccepted: 1 },
      'e-2': { sent: 2, afterAccepted: 0 },
      'e-3': { sent: 1, afterAccepted: 0 },
    });
    expect(afterReset).toEqual({ 'e-3': { sent: 1, afterAccepted: 1 } });
  });

  it('fails findings that miss required ASFF fields, per finding', async () => {
    const proxy = await proxyFor({ securityHub: 'memory', requireEnabledHub: false });
    const account = newAccount();
    const credentials = await assumeRole(proxy.endpoint, account);
    const { Title: _dropped, ...untitled } = finding(account, 'no-title');

    const result = await securityHub(proxy.endpoint, credentials).send(
      new BatchImportFindingsCommand({
        Findings: [finding(account, 'fine'), untitled as AwsSecurityFinding],
      }),
    );

    expect(result).toMatchObject({ FailedCount: 1, SuccessCount: 1 });
    expect(result.FailedFindings?.[0]).toMatchObject({ Id: 'no-title', ErrorCode: 'InvalidInput' });
    expect(result.FailedFindings?.[0]?.ErrorMessage).toMatch(/required property 'Title'/);
  });

  it('takes 10,000 findings in 100 requests without moto in the path', async () => {
    const proxy = await proxyFor({
      securityHub: 'memory',
      requireEnabledHub: false,
      rules: { throttle: false },
    });
    const account = newAccount();
    const credentials = await assumeRole(proxy.endpoint, account);
    const hub = securityHub(proxy.endpoint, credentials);

    for (let batch = 0; batch < 100; batch++) {
      const findings = Array.from({ length: 100 }, (_, i) => finding(account, `bulk-${batch * 100 + i}`));
      await hub.send(new BatchImportFindingsCommand({ Findings: findings }));
    }

    expect(proxy.stats().securityHub[`${account}/${REGION}`]).toMatchObject({
      importRequests: 100,
      findingsReceived: 10_000,
      distinctIds: 10_000,
      reimports: 0,
    });
    expect(proxy.operationStats('securityhub', 'BatchImportFindings').forwarded).toBe(0);
  });
});
