import {
  EnableSecurityHubCommand,
  GetFindingsCommand,
  paginateGetFindings,
  SecurityHubClient,
} from '@aws-sdk/client-securityhub';
import type { Destination } from '@vsh/core';
import {
  type FaultProxy,
  type FaultProxyOptions,
  type MotoServer,
  startFaultProxy,
  startMoto,
  TEST_CREDENTIALS,
} from '@vsh/testkit';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { AwsError } from './errors.ts';
import { createSecurityHubImporter } from './importer.ts';
import { createRateLimiterRegistry } from './rate-limiter.ts';
import {
  createDestinationRegistry,
  type DestinationRegistryOptions,
  type DestinationRoute,
} from './registry.ts';
import { makeFindings } from './testing/findings.ts';

const REGION = 'eu-west-1';
let moto: MotoServer;
let nextAccount = 310000000000;

beforeAll(async () => {
  moto = await startMoto();
});
afterAll(async () => {
  await moto?.stop();
});

/** A fresh account per test: the tests share one moto and must not see each other's findings. */
function newDestination(): Destination {
  nextAccount += 1;
  return { accountId: String(nextAccount), region: REGION, partition: 'aws' };
}

function routeTo(destination: Destination, tenantId = `tenant-${destination.accountId}`): DestinationRoute {
  return {
    tenantId,
    destination,
    roleArn: `arn:aws:iam::${destination.accountId}:role/VaikoraSecurityHubImporter`,
    externalId: `ext-${destination.accountId}`,
  };
}

/** A registry whose STS and Security Hub traffic goes to `endpoint` (moto, or a fault proxy in front of it). */
function registryVia(endpoint: string, options: Partial<DestinationRegistryOptions> = {}) {
  const registry = createDestinationRegistry({
    masterCredentials: TEST_CREDENTIALS,
    stsClientConfig: { endpoint },
    securityHubClientConfig: { endpoint },
    ...options,
  });
  onTestFinished(() => registry.destroy());
  return registry;
}

async function proxyFor(options: Partial<FaultProxyOptions> = {}): Promise<FaultProxy> {
  const proxy = await startFaultProxy({ upstream: moto.endpoint, ...options });
  onTestFinished(() => proxy.stop());
  return proxy;
}

async function readAllIds(client: SecurityHubClient): Promise<string[]> {
  const ids: string[] = [];
  for await (const page of paginateGetFindings({ client }, { MaxResults: 100 })) {
    for (const finding of page.Findings ?? []) ids.push(finding.Id ?? '');
  }
  return ids;
}

describe('Security Hub import against moto_server', () => {
  it('assumes the role, imports the findings and reads them back by id', async () => {
    const destination = newDestination();
    const registry = registryVia(moto.endpoint);
    const { securityHub } = registry.get(routeTo(destination));
    const importer = createSecurityHubImporter({
      client: securityHub,
      destination,
      rateLimiter: createRateLimiterRegistry(),
    });
    const findings = makeFindings({ destination, count: 150, idPrefix: 'moto-read' });

    const result = await importer.importFindings(findings);
    const sample = findings[42]?.finding.Id ?? '';
    const byId = await securityHub.send(
      new GetFindingsCommand({ Filters: { Id: [{ Value: sample, Comparison: 'EQUALS' }] } }),
    );

    expect(result.rejected).toEqual([]);
    expect(new Set(result.imported)).toEqual(new Set(findings.map((f) => f.finding.Id)));
    expect(byId.Findings?.map((f) => f.Id)).toContain(sample);
    const stored = byId.Findings?.find((f) => f.Id === sample);
    expect(stored?.AwsAccountId).toBe(destination.accountId);
    expect(stored?.ProductName).toBe('Vaikora AI Agent Security');
    expect(result.stats.requests).toBe(2);
  });

  it('leaves the number of findings unchanged when the same ids are imported again', async () => {
    const destination = newDestination();
    const registry = registryVia(moto.endpoint);
    const { securityHub } = registry.get(routeTo(destination));
    const importer = createSecurityHubImporter({
      client: securityHub,
      destination,
      rateLimiter: createRateLimiterRegistry(),
    });
    const findings = makeFindings({ destination, count: 120, idPrefix: 'moto-again' });
    await importer.importFindings(findings);
    const before = await readAllIds(securityHub);

    const again = await importer.importFindings(
      makeFindings({ destination, count: 120, idPrefix: 'moto-again', now: '2026-12-02T00:00:00.000Z' }),
    );
    const after = await readAllIds(securityHub);

    expect(again.imported).toHaveLength(120);
    expect(before).toHaveLength(120);
    expect(after).toHaveLength(120);
    expect(new Set(after)).toEqual(new Set(before));
  });
});

describe('destination credentials through the fault proxy', () => {
  it('shares one AssumeRole among the clients of one destination', async () => {
    const proxy = await proxyFor({ rules: { throttle: false } });
    const destination = newDestination();
    const registry = registryVia(proxy.endpoint);
    const clients = registry.get(routeTo(destination));
    const second = new SecurityHubClient({
      region: REGION,
      endpoint: proxy.endpoint,
      credentials: clients.credentials,
    });
    onTestFinished(() => second.destroy());

    await Promise.all([
      clients.securityHub.send(new EnableSecurityHubCommand({})),
      second.send(new GetFindingsCommand({})),
      registry.get(routeTo(destination)).securityHub.send(new GetFindingsCommand({})),
    ]);

    expect(registry.get(routeTo(destination)).securityHub).toBe(clients.securityHub);
    expect(proxy.operationStats('sts', 'AssumeRole').requests).toBe(1);
  });

  it('refreshes the shared credential before it expires', async () => {
    const proxy = await proxyFor({ rules: { throttle: false } });
    const destination = newDestination();
    // The registry's clock, moved forward by the test: STS stamps the credential with the real time.
    let elapsedMs = 0;
    const registry = registryVia(proxy.endpoint, {
      durationSeconds: 4,
      refreshBeforeExpiryMs: 3_000,
      clock: () => Date.now() + elapsedMs,
    });
    const { credentials } = registry.get(routeTo(destination));
    const first = await credentials();

    const soon = await credentials();
    elapsedMs = 1_200;
    const afterRefreshPoint = await credentials();

    expect(soon.accessKeyId).toBe(first.accessKeyId);
    expect(afterRefreshPoint.accessKeyId).not.toBe(first.accessKeyId);
    expect(afterRefreshPoint.expiration?.getTime()).toBeGreaterThan(Date.now());
    expect(proxy.operationStats('sts', 'AssumeRole').requests).toBe(2);
  });

  it('creates new clients when the role of a destination changes', async () => {
    const destination = newDestination();
    const registry = registryVia(moto.endpoint);
    const route = routeTo(destination);
    const before = registry.get(route);

    const changed = registry.get({ ...route, externalId: 'ext-rotated' });
    const evicted = registry.evict(before.key);
    const recreated = registry.get(route);

    expect(changed.securityHub).not.toBe(before.securityHub);
    expect(evicted).toBe(true);
    expect(recreated.securityHub).not.toBe(changed.securityHub);
  });
});

describe('Security Hub import through the fault proxy', () => {
  // 1 s per attempt turns the proxy's held requests into timeouts quickly; where nothing is held, a longer
  // one keeps a slow machine from turning a late answer (a throttle, say) into a timeout the test did not expect.
  async function importerVia(
    proxy: FaultProxy,
    destination: Destination,
    enable = true,
    requestTimeoutMs = 1_000,
  ) {
    const registry = registryVia(proxy.endpoint, { requestTimeoutMs });
    const { securityHub } = registry.get(routeTo(destination));
    if (enable) await securityHub.send(new EnableSecurityHubCommand({}));
    return createSecurityHubImporter({
      client: securityHub,
      destination,
      rateLimiter: createRateLimiterRegistry(),
      backoffBaseMs: 20,
    });
  }

  it('absorbs throttling: every finding imported, none surfaced', async () => {
    // The proxy allows less than our limiter assumes, as when another tool shares the quota.
    const proxy = await proxyFor({
      securityHub: 'memory',
      rules: { throttle: [{ operations: ['BatchImportFindings'], ratePerSecond: 8, burst: 2 }] },
    });
    const destination = newDestination();
    const importer = await importerVia(proxy, destination, true, 30_000);
    const findings = makeFindings({ destination, count: 1_200, idPrefix: 'throttle' });

    const result = await importer.importFindings(findings);

    expect(result.rejected).toEqual([]);
    expect(result.imported).toHaveLength(1_200);
    expect(proxy.operationStats('securityhub', 'BatchImportFindings').throttled).toBeGreaterThan(0);
    expect(result.stats.throttled).toBe(proxy.operationStats('securityhub', 'BatchImportFindings').throttled);
    expect(proxy.memoryFindings(destination.accountId, REGION)).toHaveLength(1_200);
  });

  it('recovers from injected 5xx and timeouts', async () => {
    const proxy = await proxyFor({
      securityHub: 'memory',
      rules: {
        errors: [{ match: { operation: 'BatchImportFindings' }, rate: 0.3 }],
        timeouts: [{ match: { operation: 'BatchImportFindings' }, rate: 1, times: 2 }],
      },
    });
    const destination = newDestination();
    const importer = await importerVia(proxy, destination);
    const findings = makeFindings({ destination, count: 800, idPrefix: 'flaky' });

    const result = await importer.importFindings(findings);

    const stats = proxy.operationStats('securityhub', 'BatchImportFindings');
    expect(stats.injected5xx).toBeGreaterThan(0);
    expect(stats.timeouts).toBe(2);
    expect(result.rejected).toEqual([]);
    expect(result.imported).toHaveLength(800);
    expect(proxy.memoryFindings(destination.accountId, REGION)).toHaveLength(800);
  });

  it('times out an AssumeRole that is never answered and assumes the role again, rather than waiting for ever (ADR 0125)', async () => {
    const proxy = await proxyFor({
      securityHub: 'memory',
      requireEnabledHub: false,
      rules: { timeouts: [{ match: { operation: 'AssumeRole' }, rate: 1, times: 1 }] },
    });
    const destination = newDestination();
    const importer = await importerVia(proxy, destination, false, 500);
    const findings = makeFindings({ destination, count: 20, idPrefix: 'sts-held' });

    const result = await importer.importFindings(findings);

    expect(proxy.operationStats('sts', 'AssumeRole')).toMatchObject({ timeouts: 1, forwarded: 1 });
    expect(result.imported).toHaveLength(20);
  });

  it('resends findings that failed for a transient reason and rejects the invalid ones with their code', async () => {
    const destination = newDestination();
    const findings = makeFindings({ destination, count: 250, idPrefix: 'chosen' });
    const transient = [findings[3], findings[140]].map((f) => f?.finding.Id ?? '');
    const invalid = findings[200]?.finding.Id ?? '';
    const proxy = await proxyFor({
      securityHub: 'memory',
      rules: {
        failedFindings: [
          {
            ids: transient,
            errorCode: 'InternalFailure',
            errorMessage: 'Internal service failure',
            times: 2,
          },
          { ids: [invalid], errorCode: 'InvalidInput', errorMessage: 'Finding does not adhere to ASFF' },
        ],
      },
    });
    const importer = await importerVia(proxy, destination);

    const result = await importer.importFindings(findings);

    expect(result.imported).toHaveLength(249);
    expect(result.imported).toEqual(expect.arrayContaining(transient));
    expect(result.rejected).toEqual([
      expect.objectContaining({
        actionId: findings[200]?.action.id,
        code: 'IMPORT_REJECTED',
        stage: 'import',
        retryable: false,
        reason: 'InvalidInput: Finding does not adhere to ASFF',
      }),
    ]);
    expect(result.stats.resentFindings).toBe(4);
    const stored = proxy.memoryFindings(destination.accountId, REGION).map((f) => f.Id);
    expect(stored).toHaveLength(249);
    expect(stored).not.toContain(invalid);
  });

  it('returns findings still failing transiently at the bound as retryable rejections', async () => {
    const destination = newDestination();
    const findings = makeFindings({ destination, count: 10, idPrefix: 'bound' });
    const stuck = findings[5]?.finding.Id ?? '';
    const proxy = await proxyFor({
      securityHub: 'memory',
      rules: {
        failedFindings: [
          { ids: [stuck], errorCode: 'InternalFailure', errorMessage: 'Internal service failure' },
        ],
      },
    });
    const importer = await importerVia(proxy, destination);

    const result = await importer.importFindings(findings);

    expect(result.imported).toHaveLength(9);
    expect(result.rejected).toEqual([
      expect.objectContaining({
        retryable: true,
        reason: 'InternalFailure: Internal service failure (gave up after 5 attempts)',
      }),
    ]);
  });

  it('stops with SECURITY_HUB_NOT_ENABLED, retrying nothing, when the hub is off', async () => {
    const proxy = await proxyFor({ securityHub: 'memory' });
    const destination = newDestination();
    const importer = await importerVia(proxy, destination, false);

    const error = await importer
      .importFindings(makeFindings({ destination, count: 300, idPrefix: 'off' }))
      .catch((err: unknown) => err);

    expect(error).toBeInstanceOf(AwsError);
    expect(error).toMatchObject({
      code: 'SECURITY_HUB_NOT_ENABLED',
      retryable: false,
      awsCode: 'InvalidAccessException',
    });
    // At most one request per batch (3 batches of 100): nothing was retried.
    expect(proxy.operationStats('securityhub', 'BatchImportFindings').requests).toBeLessThanOrEqual(3);
  });

  it('stops with ACCESS_DENIED when the role belongs to another account than the findings', async () => {
    const proxy = await proxyFor({ securityHub: 'memory' });
    const destination = newDestination();
    const registry = registryVia(proxy.endpoint);
    const wrongRole = { ...routeTo(destination), roleArn: 'arn:aws:iam::399999999999:role/Elsewhere' };
    const { securityHub } = registry.get(wrongRole);
    const importer = createSecurityHubImporter({
      client: securityHub,
      destination,
      rateLimiter: createRateLimiterRegistry(),
    });

    const error = await importer
      .importFindings(makeFindings({ destination, count: 300, idPrefix: 'denied' }))
      .catch((err: unknown) => err);

    expect(error).toMatchObject({
      name: 'AwsError',
      code: 'ACCESS_DENIED',
      awsCode: 'AccessDeniedException',
    });
    // At most one request per batch (3 batches of 100): nothing was retried.
    expect(proxy.operationStats('securityhub', 'BatchImportFindings').requests).toBeLessThanOrEqual(3);
  });
});
