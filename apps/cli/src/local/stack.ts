import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type ApiServer, parseEnv, startApiServer } from '@vsh/api';
import { createDb, type DbHandle, migrate } from '@vsh/db';
import {
  type FaultProxy,
  startDynamoDbLocal,
  startFaultProxy,
  startMoto,
  startVaikoraSimulator,
  type VaikoraSimulator,
} from '@vsh/testkit';
import { parseWorkerEnv, type RunningWorker, startWorker } from '@vsh/worker';
import type { Logger } from 'pino';
import { deployCustomerRole } from './customer.ts';
import { type LocalState, loadState, saveState } from './state.ts';

/** moto's default account plays Data443's; the demo customer has its own. */
export const LOCAL_DATA443_ACCOUNT_ID = '123456789012';
export const DEMO_ACCOUNT_ID = '210987654321';
export const DEMO_REGION = 'us-east-1';
const DEMO_AGENTS = ['agt-support-bot', 'agt-sql-copilot', 'agt-devops'];
const STATIC_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };

export interface LocalStack {
  readonly apiUrl: string;
  readonly operatorKey: string;
  readonly demo: {
    tenantId: string;
    tenantApiKey: string;
    destinationId: string;
    accountId: string;
    region: string;
  };
  /** Where the AWS SDK reaches the local AWS (moto behind the fault proxy). */
  readonly awsEndpoint: string;
  readonly motoEndpoint: string;
  readonly dataDir: string;
  stop(): Promise<void>;
}

export interface LocalStackOptions {
  readonly dataDir: string;
  readonly apiPort: number;
  readonly logger: Logger;
  /** Progress lines for a person. */
  readonly say: (line: string) => void;
}

/**
 * The whole system on one machine: PGlite, moto (behind the fault proxy that enforces ExternalId and
 * Security Hub's rate limit), DynamoDB Local, the Vaikora simulator, the API and an in-process worker;
 * then the demo tenant onboarded through the real API, as a customer would.
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const state = loadState(dataDir);
  const stops: Array<() => Promise<void> | void> = [];
  const stop = async () => {
    for (const s of stops.reverse()) {
      try {
        await s();
      } catch (err) {
        options.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'stop step failed');
      }
    }
  };
  try {
    options.say('starting moto_server, DynamoDB Local and the Vaikora simulator…');
    // Each server is stopped on the way out once it has started, even if another one failed to.
    const stopLater = <T extends { stop(): Promise<void> }>(server: T): T => {
      stops.push(() => server.stop());
      return server;
    };
    const [moto, dynamo, sim] = await Promise.all([
      startMoto().then(stopLater),
      startDynamoDbLocal().then(stopLater),
      startVaikoraSimulator({
        seed: 443,
        tenants: [{ apiKey: state.vaikoraKey, agents: DEMO_AGENTS }],
        initialActionsPerAgent: 80,
        historyMs: 2 * 3600_000,
        actionsPerMinute: 4,
        burstRate: 0.1,
        aliasRate: 0.2,
        badRate: 0.02,
        hostileRate: 0.02,
      }).then(stopLater),
    ]);
    const proxy: FaultProxy = await startFaultProxy({ upstream: moto.endpoint, enforceExternalId: true });
    stops.push(() => proxy.stop());

    const db: DbHandle = await createDb({ kind: 'pglite', dataDir: join(dataDir, 'pglite') });
    stops.push(() => db.close());
    await migrate(db.db);

    let worker: RunningWorker | undefined;
    const apiEnv = parseEnv({
      APP_ENV: 'local',
      PORT: String(options.apiPort),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      DATA_DIR: join(dataDir, 'pglite'),
      OPERATOR_API_KEY: state.operatorKey,
      MASTER_KEY: state.masterKey,
      DATA443_ACCOUNT_ID: LOCAL_DATA443_ACCOUNT_ID,
      AWS_ENDPOINT_URL: proxy.endpoint,
      AWS_REGION: DEMO_REGION,
      VERIFY_PROPAGATION_SECONDS: '10',
    });
    const api: ApiServer = await startApiServer({
      env: apiEnv,
      logger: options.logger.child({ service: 'api' }),
      database: db,
      migrate: false,
      awsCredentials: STATIC_CREDENTIALS,
      onRunNow: () => worker?.wake(),
    });
    stops.push(() => api.close());
    // The operator commands (`connector tenants`, `backfill`, ...) find this stack through the state file.
    state.apiUrl = api.url;
    saveState(dataDir, state);

    const workerEnv = parseWorkerEnv({
      WORKER_MODE: 'in-process',
      // The local Vaikora simulator answers plain http on loopback.
      APP_ENV: 'local',
      MASTER_KEY: state.masterKey,
      STATE_TABLE_NAME: 'vsh-state',
      STATE_TABLE_CREATE: 'true',
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      AWS_ENDPOINT_URL: proxy.endpoint,
      AWS_REGION: DEMO_REGION,
      WORKER_ID: `local-${process.pid}`,
      WORKER_CONCURRENCY: '4',
      SCHEDULER_TICK_MS: '1000',
      LEASE_TTL_MS: '60000',
      LOG_LEVEL: 'warn',
    });
    if (!workerEnv.ok) throw new Error(workerEnv.message);
    worker = await startWorker(workerEnv.env, options.logger.child({ service: 'worker' }), {
      db,
      masterCredentials: STATIC_CREDENTIALS,
    });
    stops.push(() => worker?.stop());

    options.say('onboarding the demo tenant through the API…');
    const demo = await onboardDemo({
      api: api.url,
      state,
      dataDir,
      sim,
      motoEndpoint: moto.endpoint,
      say: options.say,
    });
    return {
      apiUrl: api.url,
      operatorKey: state.operatorKey,
      demo: { ...demo, accountId: DEMO_ACCOUNT_ID, region: DEMO_REGION },
      awsEndpoint: proxy.endpoint,
      motoEndpoint: moto.endpoint,
      dataDir,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function call<T>(api: string, key: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${api}/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text.slice(0, 500)}`);
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

/** The real onboarding flow, with the customer's steps done in the local AWS. Idempotent across restarts. */
async function onboardDemo(o: {
  api: string;
  state: LocalState;
  dataDir: string;
  sim: VaikoraSimulator;
  motoEndpoint: string;
  say: (line: string) => void;
}): Promise<{ tenantId: string; tenantApiKey: string; destinationId: string }> {
  const { api, state } = o;
  if (state.demo === undefined) {
    const created = await call<{ tenant: { id: string }; apiKey: { key: string } }>(
      api,
      state.operatorKey,
      'POST',
      '/tenants',
      {
        name: 'Demo Co',
      },
    );
    const tenantId = created.tenant.id;
    const tenantApiKey = created.apiKey.key;
    const destination = await call<{ destination: { id: string } }>(
      api,
      tenantApiKey,
      'POST',
      `/tenants/${tenantId}/destinations`,
      {
        accountId: DEMO_ACCOUNT_ID,
        regions: [DEMO_REGION],
      },
    );
    state.demo = { tenantId, tenantApiKey, destinationId: destination.destination.id };
    saveState(o.dataDir, state);
  }
  const { tenantId, tenantApiKey, destinationId } = state.demo;
  // The simulator listens on a new port each start, so the tenant's Vaikora base URL is set every time.
  await call(api, tenantApiKey, 'PUT', `/tenants/${tenantId}/vaikora`, {
    apiKey: state.vaikoraKey,
    baseUrl: o.sim.baseUrl,
    agentIds: DEMO_AGENTS,
    pollIntervalSeconds: 60,
  });
  const got = await call<{
    destination: { state: string };
    onboarding: { stackName: string; parameters: Record<string, string> };
  }>(api, tenantApiKey, 'GET', `/tenants/${tenantId}/destinations/${destinationId}`);
  o.say('the customer deploys the role template in their account and turns Security Hub on…');
  const roleArn = await deployCustomerRole({
    motoEndpoint: o.motoEndpoint,
    accountId: DEMO_ACCOUNT_ID,
    region: DEMO_REGION,
    data443AccountId: LOCAL_DATA443_ACCOUNT_ID,
    stackName: got.onboarding.stackName,
    parameters: got.onboarding.parameters,
  });
  const verified = await call<{ verified: boolean; checks: unknown[] }>(
    api,
    tenantApiKey,
    'POST',
    `/tenants/${tenantId}/destinations/${destinationId}/verify`,
    { roleArn },
  );
  if (!verified.verified) throw new Error(`demo verification failed: ${JSON.stringify(verified.checks)}`);
  await call(api, tenantApiKey, 'POST', `/tenants/${tenantId}/run-now`);
  return { tenantId, tenantApiKey, destinationId };
}
