import { join, resolve } from 'node:path';
import { type ApiServer, parseEnv, startApiServer } from '@vsh/api';
import { errorInfo } from '@vsh/core';
import { createDb, type DbHandle, migrate } from '@vsh/db';
import {
  isPortFree,
  portHolder,
  startDynamoDbLocal,
  startFaultProxy,
  startMoto,
  startVaikoraSimulator,
  type VaikoraSimulator,
} from '@vsh/testkit';
import { parseWorkerEnv, type RunningWorker, startWorker } from '@vsh/worker';
import type { Logger } from 'pino';
import { deployCustomerRole, localAwsDeployer } from './customer.ts';
import { LocalStackError } from './errors.ts';
import { lockDataDir } from './lock.ts';
import { type LocalState, loadState, saveState, securePermissions } from './state.ts';

/** moto's default account plays Data443's; the demo customer has its own. */
export const LOCAL_DATA443_ACCOUNT_ID = '123456789012';
export const DEMO_ACCOUNT_ID = '210987654321';
export const DEMO_REGION = 'us-east-1';
/** The agents the local Vaikora simulator knows, with or without the demo tenant. */
const LOCAL_VAIKORA_AGENTS = ['agt-support-bot', 'agt-sql-copilot', 'agt-devops'];
const STATIC_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };

export interface DemoTenant {
  tenantId: string;
  tenantApiKey: string;
  destinationId: string;
  accountId: string;
  region: string;
}

/** A running local stack, with or without the demo tenant. */
export interface AnyLocalStack {
  readonly apiUrl: string;
  readonly operatorKey: string;
  /** The demo tenant; undefined when started with `demo: false`. */
  readonly demo: DemoTenant | undefined;
  /** The local Vaikora simulator: what a tenant enters as its Vaikora base URL and API key. */
  readonly vaikora: { readonly baseUrl: string; readonly apiKey: string; readonly agents: readonly string[] };
  /** Where the AWS SDK reaches the local AWS (moto behind the fault proxy). */
  readonly awsEndpoint: string;
  readonly motoEndpoint: string;
  readonly dataDir: string;
  stop(): Promise<void>;
}

/** A local stack started with the demo tenant (the default). */
export interface LocalStack extends AnyLocalStack {
  readonly demo: DemoTenant;
}

export interface LocalStackOptions {
  readonly dataDir: string;
  readonly apiPort: number;
  readonly logger: Logger;
  /** Progress lines for a person. */
  readonly say: (line: string) => void;
  /** Onboard the demo tenant (default true); false leaves an empty stack with the simulator running. */
  readonly demo?: boolean;
  /**
   * Aborting stops everything started so far, at any moment of start-up (start then rejects with
   * `aborted`); after start-up, stop() does the same.
   */
  readonly signal?: AbortSignal;
}

/**
 * What start-up has started, in order. Once closed, anything that finishes starting afterwards (a server
 * that was still coming up when the signal arrived) is stopped at once instead of being kept.
 */
class Started {
  private readonly stops: Array<() => Promise<void> | void> = [];
  private closing: Promise<void> | undefined;
  constructor(private readonly logger: Logger) {}

  async add(stop: () => Promise<void> | void): Promise<void> {
    if (this.closing === undefined) {
      this.stops.push(stop);
      return;
    }
    await this.run(stop);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const stop of this.stops.splice(0).reverse()) await this.run(stop);
    })();
    return this.closing;
  }

  private async run(stop: () => Promise<void> | void): Promise<void> {
    try {
      await stop();
    } catch (err) {
      this.logger.warn({ err: errorInfo(err) }, 'stop step failed');
    }
  }
}

function abortedError(): LocalStackError {
  return new LocalStackError('aborted', 'start-up was interrupted; everything started so far was stopped');
}

/** Waits for every start, keeping (and so later stopping) each that succeeded, then fails with the first error. */
async function allStarted<T extends readonly unknown[]>(
  starts: { [K in keyof T]: Promise<T[K]> },
): Promise<T> {
  const settled = await Promise.allSettled(starts);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

function portInUse(port: number, cause: unknown): LocalStackError {
  const holder = portHolder(port);
  const by = holder === undefined ? '' : ` (by pid ${holder.pid}: ${holder.command})`;
  return new LocalStackError('port_in_use', `port ${port} is in use${by}; start with --port <n>`, { cause });
}

/**
 * The whole system on one machine: PGlite, moto (behind the fault proxy that enforces ExternalId and
 * Security Hub's rate limit), DynamoDB Local, the Vaikora simulator, the API and an in-process worker;
 * then the demo tenant onboarded through the real API, as a customer would. The data folder is locked
 * for this process and kept private (0700/0600).
 */
export async function startLocalStack(options: LocalStackOptions & { demo: false }): Promise<AnyLocalStack>;
export async function startLocalStack(options: LocalStackOptions & { demo?: true }): Promise<LocalStack>;
export async function startLocalStack(options: LocalStackOptions): Promise<AnyLocalStack>;
export async function startLocalStack(options: LocalStackOptions): Promise<AnyLocalStack> {
  const { signal, logger, say } = options;
  const checkpoint = () => {
    if (signal?.aborted === true) throw abortedError();
  };
  checkpoint();
  const dataDir = resolve(options.dataDir);
  securePermissions(dataDir);
  // Refuses at once, before anything is started, when another stack runs on this folder.
  const lock = lockDataDir(dataDir);
  // Files PGlite creates while running are private too; the previous mask is restored on stop.
  const previousUmask = process.umask(0o077);
  const started = new Started(logger);
  await started.add(() => {
    process.umask(previousUmask);
    lock.release();
  });
  const onAbort = () => void started.close();
  signal?.addEventListener('abort', onAbort, { once: true });
  await started.add(() => signal?.removeEventListener('abort', onAbort));
  const stop = () => started.close();
  const withSignal = signal === undefined ? {} : { signal };
  try {
    securePermissions(dataDir);
    // Said before the emulators take their seconds to start; the listen below still catches a late taker.
    if (options.apiPort !== 0 && !(await isPortFree(options.apiPort)))
      throw portInUse(options.apiPort, undefined);
    const state = loadState(dataDir);
    const ports = state.ports ?? {};
    say('starting moto_server, DynamoDB Local and the Vaikora simulator…');
    const keep = async <T extends { stop(): Promise<void> }>(server: T): Promise<T> => {
      await started.add(() => server.stop());
      return server;
    };
    const startSim = (port: number) =>
      startVaikoraSimulator({
        seed: 443,
        port,
        tenants: [{ apiKey: state.vaikoraKey, agents: LOCAL_VAIKORA_AGENTS }],
        initialActionsPerAgent: 80,
        historyMs: 2 * 3600_000,
        actionsPerMinute: 4,
        burstRate: 0.1,
        aliasRate: 0.2,
        badRate: 0.02,
        hostileRate: 0.02,
      });
    const [moto, dynamo, sim] = await allStarted<
      [
        Awaited<ReturnType<typeof startMoto>>,
        Awaited<ReturnType<typeof startDynamoDbLocal>>,
        VaikoraSimulator,
      ]
    >([
      startMoto({ ...withSignal, ...(ports.moto === undefined ? {} : { port: ports.moto }) }).then(keep),
      startDynamoDbLocal({
        ...withSignal,
        ...(ports.dynamodb === undefined ? {} : { port: ports.dynamodb }),
      }).then(keep),
      startSim(ports.vaikora ?? 0)
        .catch((err: unknown) => {
          if (ports.vaikora === undefined) throw err;
          say(
            `port ${ports.vaikora} of the Vaikora simulator is taken; it moves to a new port (saved for next time)`,
          );
          return startSim(0);
        })
        .then(keep),
    ]);
    checkpoint();
    state.ports = { vaikora: sim.port, moto: moto.port, dynamodb: dynamo.port };
    saveState(dataDir, state);
    const proxy = await startFaultProxy({ upstream: moto.endpoint, enforceExternalId: true }).then(keep);
    checkpoint();

    const db: DbHandle = await createDb({ kind: 'pglite', dataDir: join(dataDir, 'pglite') });
    await started.add(() => db.close());
    checkpoint();
    await migrate(db.db);
    securePermissions(dataDir);
    checkpoint();

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
      logger: logger.child({ service: 'api' }),
      database: db,
      migrate: false,
      awsCredentials: STATIC_CREDENTIALS,
      onRunNow: () => worker?.wake(),
      localAws: localAwsDeployer({ motoEndpoint: moto.endpoint, data443AccountId: LOCAL_DATA443_ACCOUNT_ID }),
    }).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw portInUse(options.apiPort, err);
      throw err;
    });
    await started.add(() => api.close());
    checkpoint();
    // The operator commands (`connector tenants`, `backfill`, ...) and `pnpm local deploy-role` find this stack
    // through the state file.
    state.apiUrl = api.url;
    saveState(dataDir, state);

    let demo: DemoTenant | undefined;
    if (options.demo !== false) {
      say('onboarding the demo tenant through the API…');
      demo = {
        ...(await onboardDemo({ api: api.url, state, dataDir, sim, motoEndpoint: moto.endpoint, say })),
        accountId: DEMO_ACCOUNT_ID,
        region: DEMO_REGION,
      };
      checkpoint();
    }

    // Only now: moto keeps its resources in memory, so until the demo role is deployed and verified again
    // a run would fail with ROLE_UNUSABLE on every restart.
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
    const running = await startWorker(workerEnv.env, logger.child({ service: 'worker' }), {
      db,
      masterCredentials: STATIC_CREDENTIALS,
    });
    worker = running;
    await started.add(() => running.stop());
    checkpoint();
    if (demo !== undefined)
      await call(api.url, demo.tenantApiKey, 'POST', `/tenants/${demo.tenantId}/run-now`);
    checkpoint();

    return {
      apiUrl: api.url,
      operatorKey: state.operatorKey,
      demo,
      vaikora: { baseUrl: sim.baseUrl, apiKey: state.vaikoraKey, agents: LOCAL_VAIKORA_AGENTS },
      awsEndpoint: proxy.endpoint,
      motoEndpoint: moto.endpoint,
      dataDir,
      stop,
    };
  } catch (err) {
    await stop();
    if (signal?.aborted === true) throw abortedError();
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
  if (!res.ok)
    throw new LocalStackError('api_failed', `${method} ${path} → ${res.status}: ${text.slice(0, 500)}`);
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
      { name: 'Demo Co' },
    );
    const tenantId = created.tenant.id;
    const tenantApiKey = created.apiKey.key;
    const destination = await call<{ destination: { id: string } }>(
      api,
      tenantApiKey,
      'POST',
      `/tenants/${tenantId}/destinations`,
      { accountId: DEMO_ACCOUNT_ID, regions: [DEMO_REGION] },
    );
    state.demo = { tenantId, tenantApiKey, destinationId: destination.destination.id };
    saveState(o.dataDir, state);
  }
  const { tenantId, tenantApiKey, destinationId } = state.demo;
  // Kept in step with the simulator, whose port only moves when the saved one was taken.
  await call(api, tenantApiKey, 'PUT', `/tenants/${tenantId}/vaikora`, {
    apiKey: state.vaikoraKey,
    baseUrl: o.sim.baseUrl,
    agentIds: LOCAL_VAIKORA_AGENTS,
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
  if (!verified.verified)
    throw new LocalStackError('demo_failed', `demo verification failed: ${JSON.stringify(verified.checks)}`);
  return { tenantId, tenantApiKey, destinationId };
}
