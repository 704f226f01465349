import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { type BucketLocationConstraint, CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import {
  EnableImportFindingsForProductCommand,
  EnableSecurityHubCommand,
  SecurityHubClient,
} from '@aws-sdk/client-securityhub';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import {
  DEFAULT_THRESHOLDS,
  HEALTH_FINDING_ID_PREFIX,
  parseAction,
  qualifies,
  type Thresholds,
} from '@vsh/core';
import { customerTrustPolicy, DEFAULT_ROLE_NAME, DEFAULT_WORKER_ROLE_NAME } from '@vsh/customer-role';
import { awsDestinations, newId, streams, tenantSchedules, tenants, vaikoraSettings } from '@vsh/db';
import { createTestDatabase, type TestDatabase } from '@vsh/db/testing';
import { createSecretBox, LocalMasterKeyProvider, type SecretBox, sealedKeyId } from '@vsh/secrets';
import {
  type AsffFinding,
  type DynamoDbLocal,
  type FaultProxy,
  type FaultProxyOptions,
  MOTO_DEFAULT_ACCOUNT_ID,
  type MotoServer,
  type SimAction,
  startDynamoDbLocal,
  startFaultProxy,
  startMoto,
  startTcpFaultProxy,
  startVaikoraSimulator,
  type TcpFaultProxy,
  testAwsConfig,
  type VaikoraSimulator,
  type VaikoraSimulatorOptions,
} from '@vsh/testkit';
import { pino } from 'pino';
import {
  createWorkerRuntime,
  stateClientOptions,
  type WorkerRuntime,
  type WorkerRuntimeOptions,
} from '../src/runtime.ts';

/** Thresholds under which every parseable action qualifies (tests that count every action delivered). */
export const EVERY_ACTION = {
  minRiskLevel: 'low',
  minRiskScore: 0,
  includeAnomalies: true,
  includeThreats: true,
} as const;

export interface TenantSpec {
  readonly name: string;
  readonly accountId: string;
  readonly region: string;
  readonly agents: readonly string[];
  /** The key the tenant stores; the simulator knows it unless `badKey`. */
  readonly vaikoraKey: string;
  readonly hubEnabled?: boolean;
  readonly thresholds?: Thresholds;
  /**
   * The registration stores another ExternalId than the one the customer's role trusts (a customer who
   * deployed the template with a stale or mistyped ExternalId). Refused only when the harness enforces it.
   */
  readonly wrongExternalId?: boolean;
  /**
   * Partner-product mode (ADR 0121): the destination has no role in use; findings come from Data443's account.
   * `security_lake` (ADR 0120): findings are written through the role to `securityLake`'s custom source.
   */
  readonly delivery?: 'role' | 'partner' | 'security_lake';
  /** The Security Lake bucket and custom source name (`security_lake` delivery; the bucket is not created). */
  readonly securityLake?: { readonly bucket: string; readonly sourceName: string };
  /** The product ARN whose findings the customer's hub accepts (EnableImportFindingsForProduct), if any. */
  readonly acceptsProduct?: string;
}

export interface SeededTenant extends TenantSpec {
  readonly tenantId: string;
  readonly destinationId: string;
  readonly roleArn: string;
  /** The ExternalId stored in the registration (the one the worker sends). */
  readonly externalId: string;
  /** Stream id per agent (the cursor key). */
  readonly streamIds: Readonly<Record<string, string>>;
}

export interface HarnessOptions {
  readonly sim?: VaikoraSimulatorOptions;
  /** STS AssumeRole is checked against the role's trust policy in moto's IAM (fault proxy `enforceExternalId`). */
  readonly enforceExternalId?: boolean;
  /** Memory Security Hub requires EnableSecurityHub (default true; the bench turns it off for 5,000 accounts). */
  readonly requireEnabledHub?: boolean;
  /** Rules of the AWS fault proxy (Security Hub, STS, SQS in front of moto). */
  readonly awsRules?: FaultProxyOptions['rules'];
  /** Puts a second fault proxy in front of DynamoDB Local, so DynamoDB calls can be faulted too. */
  readonly dynamoProxy?: boolean;
  /** Puts a TCP fault proxy between worker processes and PostgreSQL (the harness's own queries go direct). */
  readonly databaseProxy?: boolean;
  /** Allow-listed partner accounts of the memory Security Hub and their product names (ADR 0121). */
  readonly partners?: Record<string, string>;
  /**
   * SQS answered by the fault proxy in memory instead of moto (benchmarks: moto's SQS spends more CPU per
   * message than the worker does; sqs-store.ts).
   */
  readonly memorySqs?: boolean;
  /** Puts a server between the AWS fault proxy and moto (the benchmark's STS stand-in). */
  readonly awsUpstream?: (motoEndpoint: string) => Promise<{ endpoint: string; stop(): Promise<void> }>;
}

export interface Harness {
  readonly database: TestDatabase;
  readonly secrets: SecretBox;
  /** The master key the secret box uses (base64), for worker processes. */
  readonly masterKey: string;
  readonly sim: VaikoraSimulator;
  /** The AWS fault proxy (STS, Security Hub memory backend, SQS, IAM) in front of moto. */
  readonly proxy: FaultProxy;
  /** The fault proxy in front of DynamoDB Local, when asked for. */
  readonly dynamoProxy: FaultProxy | undefined;
  /** The TCP fault proxy worker processes reach PostgreSQL through, when asked for. */
  readonly databaseProxy: TcpFaultProxy | undefined;
  readonly moto: MotoServer;
  readonly dynamo: DynamoDbLocal;
  /** Where workers reach DynamoDB: through its fault proxy when there is one. */
  readonly dynamoEndpoint: string;
  /** A client straight to DynamoDB Local (no faults), for assertions. */
  readonly dynamodb: DynamoDBClient;
  readonly tableName: string;
  runtime(options?: Partial<WorkerRuntimeOptions>): WorkerRuntime;
  seedTenant(spec: TenantSpec): Promise<SeededTenant>;
  /** The customer accepts a partner product's findings in its hub (EnableImportFindingsForProduct, ADR 0121). */
  acceptProduct(tenant: SeededTenant, productArn: string): Promise<void>;
  /**
   * An S3 client acting as the customer's own account (through its role) in the tenant's region, straight
   * to moto: to create the Security Lake bucket and read what the worker wrote. The caller destroys it.
   */
  customerS3(tenant: SeededTenant): Promise<S3Client>;
  /** Creates the tenant's Security Lake bucket (`securityLake.bucket`) in its own account, as Security Lake would. */
  createLakeBucket(tenant: SeededTenant): Promise<void>;
  /** Seeds many tenants with multi-row inserts (no role, no hub enablement: for large fleets). */
  seedTenantsBulk(specs: readonly TenantSpec[]): Promise<SeededTenant[]>;
  /**
   * The findings of Vaikora actions in an account's memory hub: what it holds without the connector's
   * health findings (ADR 0116, 0118), which hostile test traffic may open beside them.
   */
  actionFindings(accountId: string, region: string): AsffFinding[];
  /** Finding ids the tenant's Security Hub must hold: every qualifying, parseable action the simulator has. */
  expectedFindingIds(tenant: SeededTenant, sinceMs: number): Set<string>;
  /** The qualifying, parseable actions of one agent, oldest first. */
  qualifyingActions(tenant: SeededTenant, agentId: string): QualifyingAction[];
  /** Environment for a worker process (`apps/worker/src/main.ts`) wired to these dependencies. */
  workerEnv(overrides?: Record<string, string>): Record<string, string>;
  close(): Promise<void>;
}

interface QualifyingAction {
  readonly actionId: string;
  readonly findingId: string;
  readonly timestampMs: number;
}

const MASTER_KEY = randomBytes(32).toString('base64');
const ROLE_NAME = DEFAULT_ROLE_NAME;

/** Starts every dependency of the worker on this machine: PostgreSQL database, moto behind the fault proxy, DynamoDB Local, the Vaikora simulator. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
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
  const between = options.awsUpstream === undefined ? undefined : await options.awsUpstream(moto.endpoint);
  const proxy = await startFaultProxy({
    upstream: between?.endpoint ?? moto.endpoint,
    securityHub: 'memory',
    sqs: options.memorySqs === true ? 'memory' : 'upstream',
    requireEnabledHub: options.requireEnabledHub ?? true,
    enforceExternalId: options.enforceExternalId ?? false,
    partners: options.partners ?? {},
    ...(options.awsRules === undefined ? {} : { rules: options.awsRules }),
  });
  const dynamoProxy = options.dynamoProxy
    ? await startFaultProxy({ upstream: dynamo.endpoint, rules: { throttle: false } })
    : undefined;
  const dynamoEndpoint = dynamoProxy?.endpoint ?? dynamo.endpoint;
  const databaseUrl = new URL(database.url);
  const databaseProxy = options.databaseProxy
    ? await startTcpFaultProxy({
        upstream: { host: databaseUrl.hostname, port: Number(databaseUrl.port || 5432) },
      })
    : undefined;
  if (databaseProxy !== undefined) {
    databaseUrl.hostname = databaseProxy.host;
    databaseUrl.port = String(databaseProxy.port);
  }
  const secrets = createSecretBox(new LocalMasterKeyProvider({ primaryKey: MASTER_KEY }));
  const tableName = `vsh-state-${randomBytes(4).toString('hex')}`;
  const dynamodb = new DynamoDBClient(testAwsConfig(dynamo.endpoint));
  // As the worker builds it (main.ts): a hung request fails instead of holding the run.
  const workerDynamodb = new DynamoDBClient({
    ...testAwsConfig(dynamoEndpoint),
    ...stateClientOptions(),
  });
  const iam = new IAMClient(testAwsConfig(moto.endpoint));
  const runtimes: WorkerRuntime[] = [];
  const logger = pino({ level: process.env.VSH_TEST_LOG ?? 'silent' });
  let stateReady: Promise<void> | undefined;
  const ensureState = () => {
    stateReady ??= createStateTable(dynamodb, tableName);
    return stateReady;
  };
  const qualifyingCache = new WeakMap<SimAction, QualifyingAction | null>();

  const qualifyingActions = (tenant: SeededTenant, agentId: string): QualifyingAction[] => {
    const out: QualifyingAction[] = [];
    for (const record of sim.store.list(tenant.vaikoraKey, agentId)) {
      let known = qualifyingCache.get(record);
      if (known === undefined) {
        const parsed = parseAction(record.raw);
        // A record nested deeper than the reader's bound is kept as rejected, never a finding.
        const tooDeep = record.wire?.kind === 'deep-nesting';
        known =
          !tooDeep && parsed.ok && qualifies(parsed.action, tenant.thresholds ?? DEFAULT_THRESHOLDS)
            ? {
                actionId: parsed.action.id,
                findingId: `vaikora-${parsed.action.id}`,
                timestampMs: parsed.action.timestampMs,
              }
            : null;
        qualifyingCache.set(record, known);
      }
      if (known !== null) out.push(known);
    }
    return out;
  };

  const prepare = async (spec: TenantSpec) => {
    const tenantId = newId('ten');
    const roleExternalId = randomBytes(32).toString('base64url');
    const externalId = spec.wrongExternalId ? randomBytes(32).toString('base64url') : roleExternalId;
    const roleArn = `arn:aws:iam::${spec.accountId}:role/${ROLE_NAME}`;
    const destinationId = newId('dst');
    const sealed = await secrets.seal(spec.vaikoraKey, { tenantId });
    const streamRows = spec.agents.map((agentId) => ({
      id: newId('str'),
      tenantId,
      destinationId,
      agentId,
      region: spec.region,
    }));
    const seeded: SeededTenant = {
      ...spec,
      tenantId,
      destinationId,
      roleArn,
      externalId,
      streamIds: Object.fromEntries(streamRows.map((s) => [s.agentId, s.id])),
    };
    return {
      seeded,
      roleExternalId,
      tenant: { id: tenantId, name: spec.name },
      schedule: { tenantId, nextRunAt: new Date(0) },
      settings: {
        tenantId,
        baseUrl: sim.baseUrl,
        agentIds: [...spec.agents],
        thresholds: spec.thresholds ?? {
          minRiskLevel: 'high' as const,
          includeAnomalies: true,
          includeThreats: true,
        },
        pollIntervalSeconds: 60,
        apiKeyCiphertext: sealed,
        apiKeyKeyId: sealedKeyId(sealed),
      },
      destination: {
        id: destinationId,
        tenantId,
        accountId: spec.accountId,
        regions: [spec.region],
        roleArn,
        externalId,
        roleName: ROLE_NAME,
        state: 'verified' as const,
        delivery: spec.delivery ?? 'role',
        securityLakeBucket: spec.securityLake?.bucket ?? null,
        securityLakeSource: spec.securityLake?.sourceName ?? null,
      },
      streamRows,
    };
  };

  /** The ExternalId each seeded customer's role trusts, for acting as the customer later. */
  const roleExternalIds = new Map<string, string>();
  const harness: Harness = {
    database,
    secrets,
    masterKey: MASTER_KEY,
    sim,
    proxy,
    dynamoProxy,
    databaseProxy,
    moto,
    dynamo,
    dynamoEndpoint,
    dynamodb,
    tableName,
    runtime(overrides = {}) {
      const runtime = createWorkerRuntime({
        db: database.db,
        secrets,
        dynamodb: workerDynamodb,
        tableName,
        logger,
        workerId: `test-${randomBytes(3).toString('hex')}`,
        awsEndpoint: proxy.endpoint,
        masterCredentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
        // The Vaikora simulator answers plain http on loopback.
        baseUrlPolicy: { mode: 'local', allowedHosts: [] },
        ...overrides,
      });
      runtimes.push(runtime);
      return runtime;
    },
    async seedTenant(spec) {
      await ensureState();
      const row = await prepare(spec);
      await database.db.transaction(async (tx) => {
        await tx.insert(tenants).values(row.tenant);
        await tx.insert(tenantSchedules).values(row.schedule);
        await tx.insert(vaikoraSettings).values(row.settings);
        await tx.insert(awsDestinations).values(row.destination);
        if (row.streamRows.length > 0) await tx.insert(streams).values(row.streamRows);
      });
      roleExternalIds.set(row.seeded.tenantId, row.roleExternalId);
      // The customer's CloudFormation stack: the role, trusting our worker with the ExternalId it was given.
      await createCustomerRole(iam, spec.accountId, row.roleExternalId);
      if (spec.hubEnabled !== false) {
        await enableHub(
          proxy.endpoint,
          row.seeded.roleArn,
          row.roleExternalId,
          spec.region,
          spec.acceptsProduct,
        );
      }
      return row.seeded;
    },
    actionFindings(accountId, region) {
      return proxy
        .memoryFindings(accountId, region)
        .filter((f) => !String(f.Id).startsWith(HEALTH_FINDING_ID_PREFIX));
    },
    async acceptProduct(tenant, productArn) {
      const hub = await customerHub(
        proxy.endpoint,
        tenant.roleArn,
        roleExternalIds.get(tenant.tenantId) ?? '',
        tenant.region,
      );
      await hub.send(new EnableImportFindingsForProductCommand({ ProductArn: productArn }));
      hub.destroy();
    },
    async customerS3(tenant) {
      const credentials = await customerCredentials(
        moto.endpoint,
        tenant.roleArn,
        roleExternalIds.get(tenant.tenantId) ?? '',
        tenant.region,
      );
      return new S3Client({
        endpoint: moto.endpoint,
        region: tenant.region,
        forcePathStyle: true,
        credentials,
      });
    },
    async createLakeBucket(tenant) {
      const bucket = tenant.securityLake?.bucket;
      if (bucket === undefined) throw new Error(`tenant ${tenant.name} has no Security Lake bucket`);
      const s3 = await harness.customerS3(tenant);
      await s3.send(
        new CreateBucketCommand({
          Bucket: bucket,
          ...(tenant.region === 'us-east-1'
            ? {}
            : {
                CreateBucketConfiguration: { LocationConstraint: tenant.region as BucketLocationConstraint },
              }),
        }),
      );
      s3.destroy();
    },
    async seedTenantsBulk(specs) {
      await ensureState();
      const rows = await Promise.all(specs.map(prepare));
      const chunk = 500;
      for (let i = 0; i < rows.length; i += chunk) {
        const part = rows.slice(i, i + chunk);
        await database.db.transaction(async (tx) => {
          await tx.insert(tenants).values(part.map((r) => r.tenant));
          await tx.insert(tenantSchedules).values(part.map((r) => r.schedule));
          await tx.insert(vaikoraSettings).values(part.map((r) => r.settings));
          await tx.insert(awsDestinations).values(part.map((r) => r.destination));
          const streamRows = part.flatMap((r) => r.streamRows);
          if (streamRows.length > 0) await tx.insert(streams).values(streamRows);
        });
      }
      return rows.map((r) => r.seeded);
    },
    expectedFindingIds(tenant, sinceMs) {
      const ids = new Set<string>();
      for (const agentId of tenant.agents) {
        for (const a of qualifyingActions(tenant, agentId))
          if (a.timestampMs >= sinceMs) ids.add(a.findingId);
      }
      return ids;
    },
    qualifyingActions,
    workerEnv(overrides = {}) {
      return {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/tmp',
        DATABASE_URL: databaseUrl.toString(),
        MASTER_KEY,
        STATE_TABLE_NAME: tableName,
        DYNAMODB_ENDPOINT: dynamoEndpoint,
        AWS_ENDPOINT_URL: proxy.endpoint,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'testing',
        AWS_SECRET_ACCESS_KEY: 'testing',
        AWS_EC2_METADATA_DISABLED: 'true',
        LOG_LEVEL: 'info',
        // The Vaikora simulator answers plain http on loopback.
        APP_ENV: 'local',
        // As deployed (infra/central): two malloc arenas, not one per compile thread.
        MALLOC_ARENA_MAX: '2',
        ...overrides,
      };
    },
    async close() {
      for (const r of runtimes) r.close();
      dynamodb.destroy();
      workerDynamodb.destroy();
      iam.destroy();
      await Promise.allSettled([
        proxy.stop(),
        between?.stop(),
        dynamoProxy?.stop(),
        databaseProxy?.stop(),
        sim.stop(),
        moto.stop(),
        dynamo.stop(),
        database.drop(),
      ]);
    },
  };
  return harness;
}

async function createStateTable(client: DynamoDBClient, tableName: string): Promise<void> {
  const { createStateStore } = await import('@vsh/aws');
  await createStateStore({ client, tableName }).ensureTable();
}

/**
 * Creates the customer's role in the customer's account in moto's IAM with the trust policy our
 * template gives it (`x-moto-account-id` picks the account; moto checks no signature).
 */
async function createCustomerRole(iam: IAMClient, accountId: string, externalId: string): Promise<void> {
  const policy = customerTrustPolicy({
    partition: 'aws',
    data443AccountId: MOTO_DEFAULT_ACCOUNT_ID,
    workerRoleName: DEFAULT_WORKER_ROLE_NAME,
    externalId,
  });
  const command = new CreateRoleCommand({
    RoleName: ROLE_NAME,
    AssumeRolePolicyDocument: JSON.stringify(policy),
  });
  command.middlewareStack.add(
    (next) => (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers !== undefined) request.headers['x-moto-account-id'] = accountId;
      return next(args);
    },
    { step: 'build', name: 'motoAccount' },
  );
  await iam.send(command);
}

/** Credentials of the customer's own account: a session of its role (moto keys the account off it). */
async function customerCredentials(endpoint: string, roleArn: string, externalId: string, region: string) {
  const sts = new STSClient(testAwsConfig(endpoint, region));
  const { Credentials } = await sts.send(
    new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'customer-admin', ExternalId: externalId }),
  );
  sts.destroy();
  if (!Credentials?.AccessKeyId || !Credentials.SecretAccessKey) throw new Error('moto gave no credentials');
  return {
    accessKeyId: Credentials.AccessKeyId,
    secretAccessKey: Credentials.SecretAccessKey,
    ...(Credentials.SessionToken ? { sessionToken: Credentials.SessionToken } : {}),
  };
}

/** A Security Hub client acting as the customer's own account (through its role, for the account's identity). */
async function customerHub(
  endpoint: string,
  roleArn: string,
  externalId: string,
  region: string,
): Promise<SecurityHubClient> {
  const credentials = await customerCredentials(endpoint, roleArn, externalId, region);
  return new SecurityHubClient({ endpoint, region, credentials });
}

/** Turns Security Hub on in the tenant's account, as the customer would; and accepts a partner product's findings when given. */
async function enableHub(
  endpoint: string,
  roleArn: string,
  externalId: string,
  region: string,
  acceptsProduct?: string,
): Promise<void> {
  const hub = await customerHub(endpoint, roleArn, externalId, region);
  await hub.send(new EnableSecurityHubCommand({}));
  if (acceptsProduct !== undefined) {
    await hub.send(new EnableImportFindingsForProductCommand({ ProductArn: acceptsProduct }));
  }
  hub.destroy();
}
