import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EnableSecurityHubCommand, SecurityHubClient } from '@aws-sdk/client-securityhub';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { DEFAULT_THRESHOLDS, parseAction, qualifies, type Thresholds } from '@vsh/core';
import {
  awsDestinations,
  createTestDatabase,
  newId,
  streams,
  type TestDatabase,
  tenantSchedules,
  tenants,
  vaikoraSettings,
} from '@vsh/db';
import { createSecretBox, LocalMasterKeyProvider, type SecretBox, sealedKeyId } from '@vsh/secrets';
import {
  type DynamoDbLocal,
  type FaultProxy,
  type MotoServer,
  startDynamoDbLocal,
  startFaultProxy,
  startMoto,
  startVaikoraSimulator,
  testAwsConfig,
  type VaikoraSimulator,
  type VaikoraSimulatorOptions,
} from '@vsh/testkit';
import { pino } from 'pino';
import { createWorkerRuntime, type WorkerRuntime, type WorkerRuntimeOptions } from '../src/runtime.ts';

export interface TenantSpec {
  readonly name: string;
  readonly accountId: string;
  readonly region: string;
  readonly agents: readonly string[];
  /** The key the tenant stores; the simulator knows it unless `badKey`. */
  readonly vaikoraKey: string;
  readonly hubEnabled?: boolean;
  readonly thresholds?: Thresholds;
}

export interface SeededTenant extends TenantSpec {
  readonly tenantId: string;
  readonly destinationId: string;
  readonly roleArn: string;
  readonly externalId: string;
}

export interface Harness {
  readonly database: TestDatabase;
  readonly secrets: SecretBox;
  readonly sim: VaikoraSimulator;
  readonly proxy: FaultProxy;
  readonly moto: MotoServer;
  readonly dynamo: DynamoDbLocal;
  readonly tableName: string;
  runtime(options?: Partial<WorkerRuntimeOptions>): WorkerRuntime;
  seedTenant(spec: TenantSpec): Promise<SeededTenant>;
  /** Finding ids the tenant's Security Hub must hold: every qualifying, parseable action the simulator has. */
  expectedFindingIds(tenant: SeededTenant, sinceMs: number): Set<string>;
  close(): Promise<void>;
}

const MASTER_KEY = randomBytes(32).toString('base64');

/** Starts every dependency of the worker on this machine: PostgreSQL database, moto behind the fault proxy, DynamoDB Local, the Vaikora simulator. */
export async function startHarness(options: { sim?: VaikoraSimulatorOptions } = {}): Promise<Harness> {
  const [database, moto, dynamo, sim] = await Promise.all([
    createTestDatabase(),
    startMoto(),
    startDynamoDbLocal(),
    startVaikoraSimulator({
      tenants: [{ apiKey: 'vk_test_placeholder' }],
      initialActionsPerAgent: 0,
      ...options.sim,
    }),
  ]);
  const proxy = await startFaultProxy({
    upstream: moto.endpoint,
    securityHub: 'memory',
    requireEnabledHub: true,
  });
  const secrets = createSecretBox(new LocalMasterKeyProvider({ primaryKey: MASTER_KEY }));
  const tableName = `vsh-state-${randomBytes(4).toString('hex')}`;
  const dynamodb = new DynamoDBClient(testAwsConfig(dynamo.endpoint));
  const runtimes: WorkerRuntime[] = [];
  const logger = pino({ level: process.env.VSH_TEST_LOG ?? 'silent' });
  let stateReady: Promise<void> | undefined;

  const harness: Harness = {
    database,
    secrets,
    sim,
    proxy,
    moto,
    dynamo,
    tableName,
    runtime(overrides = {}) {
      const runtime = createWorkerRuntime({
        db: database.db,
        secrets,
        dynamodb,
        tableName,
        logger,
        workerId: `test-${randomBytes(3).toString('hex')}`,
        awsEndpoint: proxy.endpoint,
        masterCredentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
        ...overrides,
      });
      runtimes.push(runtime);
      return runtime;
    },
    async seedTenant(spec) {
      stateReady ??= createStateTable(dynamodb, tableName);
      await stateReady;
      const tenantId = newId('ten');
      const externalId = randomBytes(32).toString('base64url');
      const roleArn = `arn:aws:iam::${spec.accountId}:role/Data443-VaikoraSecurityHub`;
      await database.db.insert(tenants).values({ id: tenantId, name: spec.name });
      await database.db.insert(tenantSchedules).values({ tenantId, nextRunAt: new Date(0) });
      const sealed = await secrets.seal(spec.vaikoraKey, { tenantId });
      await database.db.insert(vaikoraSettings).values({
        tenantId,
        baseUrl: sim.baseUrl,
        agentIds: [...spec.agents],
        thresholds: { minRiskLevel: 'high', includeAnomalies: true, includeThreats: true },
        pollIntervalSeconds: 60,
        apiKeyCiphertext: sealed,
        apiKeyKeyId: sealedKeyId(sealed),
      });
      const destinationId = newId('dst');
      await database.db.insert(awsDestinations).values({
        id: destinationId,
        tenantId,
        accountId: spec.accountId,
        regions: [spec.region],
        roleArn,
        externalId,
        roleName: 'Data443-VaikoraSecurityHub',
        state: 'verified',
      });
      for (const agentId of spec.agents) {
        await database.db.insert(streams).values({ tenantId, destinationId, agentId, region: spec.region });
      }
      if (spec.hubEnabled !== false) await enableHub(proxy.endpoint, roleArn, externalId, spec.region);
      return { ...spec, tenantId, destinationId, roleArn, externalId };
    },
    expectedFindingIds(tenant, sinceMs) {
      const ids = new Set<string>();
      for (const agentId of tenant.agents) {
        for (const record of sim.store.list(tenant.vaikoraKey, agentId)) {
          const parsed = parseAction(record.raw);
          if (!parsed.ok || parsed.action.timestampMs < sinceMs) continue;
          if (qualifies(parsed.action, tenant.thresholds ?? DEFAULT_THRESHOLDS))
            ids.add(`vaikora-${parsed.action.id}`);
        }
      }
      return ids;
    },
    async close() {
      for (const r of runtimes) r.close();
      dynamodb.destroy();
      await Promise.allSettled([proxy.stop(), sim.stop(), moto.stop(), dynamo.stop(), database.drop()]);
    },
  };
  return harness;
}

async function createStateTable(client: DynamoDBClient, tableName: string): Promise<void> {
  const { createStateStore } = await import('@vsh/aws');
  await createStateStore({ client, tableName }).ensureTable();
}

/** Turns Security Hub on in the tenant's account, as the customer would (through the role, for the account's identity). */
async function enableHub(
  endpoint: string,
  roleArn: string,
  externalId: string,
  region: string,
): Promise<void> {
  const sts = new STSClient(testAwsConfig(endpoint, region));
  const { Credentials } = await sts.send(
    new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'customer-admin', ExternalId: externalId }),
  );
  sts.destroy();
  if (!Credentials?.AccessKeyId || !Credentials.SecretAccessKey) throw new Error('moto gave no credentials');
  const hub = new SecurityHubClient({
    endpoint,
    region,
    credentials: {
      accessKeyId: Credentials.AccessKeyId,
      secretAccessKey: Credentials.SecretAccessKey,
      ...(Credentials.SessionToken ? { sessionToken: Credentials.SessionToken } : {}),
    },
  });
  await hub.send(new EnableSecurityHubCommand({}));
  hub.destroy();
}
