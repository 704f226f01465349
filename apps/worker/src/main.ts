import { createServer, type Server } from 'node:http';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { AwsCredentialIdentity } from '@smithy/types';
import { createStateStore, readDatabaseUrl, timedRequestHandler } from '@vsh/aws';
import { errorInfo, errorMessage } from '@vsh/core';
import { createDb, type DbHandle, dbErrorCause, isConnectionError, migrate } from '@vsh/db';
import { createServiceLogger, openSecretBox, type SecretBox, WORKER_DATA_KEY_CACHE } from '@vsh/secrets';
import type { Logger } from 'pino';
import { claimHoldMs, masterKeyOf, parseWorkerEnv, runtimeTuningOf, type WorkerEnv } from './env.ts';
import { createWorkerRuntime, stateClientOptions, type WorkerRuntime } from './runtime.ts';
import { startInProcessScheduler } from './scheduler.ts';
import { dispatchDueTenants, startSqsConsumer } from './sqs.ts';
import { openMigrated } from './startup.ts';

/** A running worker process; `stop()` finishes the batches in flight, saves cursors and releases leases. */
export interface RunningWorker {
  readonly runtime: WorkerRuntime;
  readonly metricsUrl: string | null;
  wake(): void;
  stop(): Promise<void>;
}

/**
 * Opens the control-plane database from the environment: PostgreSQL when DATABASE_URL is set, PGlite
 * otherwise. `logger` hears of each start-up migration attempt that failed and is retried.
 */
export async function openDatabase(
  env: Pick<
    WorkerEnv,
    'DATABASE_URL' | 'DATABASE_SECRET_ARN' | 'DATA_DIR' | 'AWS_REGION' | 'AWS_ENDPOINT_URL'
  >,
  logger?: Pick<Logger, 'warn'>,
): Promise<DbHandle> {
  const url =
    env.DATABASE_URL ??
    (env.DATABASE_SECRET_ARN === undefined ? undefined : await databaseUrlFromSecret(env));
  // Each attempt opens its own (see openMigrated); PGlite's errors are never connection errors, so PGlite
  // is opened again only after an attempt that missed its deadline.
  const open = () =>
    url === undefined
      ? createDb({ kind: 'pglite', dataDir: env.DATA_DIR })
      : createDb({ kind: 'postgres', url, max: 8 });
  return openMigrated(open, (handle) => migrate(handle.db), {
    attempts: STARTUP_DB_ATTEMPTS,
    attemptTimeoutMs: MIGRATION_ATTEMPT_MS,
    onRetry: (err, attempt) =>
      logger?.warn(
        { err: dbErrorCause(err), attempt, attempts: STARTUP_DB_ATTEMPTS },
        'start-up migration failed: retrying',
      ),
  });
}

/**
 * Start-up migration attempts (~15 s of backoff in all), and how long one may take before it counts as
 * cut. A long but live migration is safe to outlast: the next attempt closes its pool (ending it, so its
 * transaction rolls back and its advisory lock goes) and starts over (packages/db/src/migrate.ts).
 */
const STARTUP_DB_ATTEMPTS = 7;
/** The SQS consumer's long poll (ReceiveMessage WaitTimeSeconds). */
const SQS_WAIT_SECONDS = 2;
const MIGRATION_ATTEMPT_MS = 20_000;

/** A PostgreSQL URL from the Secrets Manager secret the central stack creates (never logged). */
async function databaseUrlFromSecret(
  env: Pick<WorkerEnv, 'DATABASE_SECRET_ARN' | 'AWS_REGION' | 'AWS_ENDPOINT_URL'>,
): Promise<string> {
  const client = new SecretsManagerClient({
    region: env.AWS_REGION,
    ...(env.AWS_ENDPOINT_URL ? { endpoint: env.AWS_ENDPOINT_URL } : {}),
  });
  try {
    return await readDatabaseUrl(client, env.DATABASE_SECRET_ARN ?? '');
  } finally {
    client.destroy();
  }
}

/**
 * The secret box for tenant keys: KMS in production, a configured master key locally. Unwrapped KMS
 * data keys are kept within WORKER_DATA_KEY_CACHE's bounds, so a tenant's next runs cost no Decrypt (ADR 0114).
 */
export function openSecrets(env: WorkerEnv): SecretBox {
  return openSecretBox(masterKeyOf(env), {
    region: env.AWS_REGION,
    endpoint: env.AWS_ENDPOINT_URL,
    dataKeyCache: WORKER_DATA_KEY_CACHE,
  }).box;
}

/** Starts the worker described by the environment. */
export async function startWorker(
  env: WorkerEnv,
  logger: Logger,
  shared: { db?: DbHandle; masterCredentials?: AwsCredentialIdentity } = {},
): Promise<RunningWorker> {
  const { db } = shared;
  const database = db ?? (await openDatabase(env, logger));
  const endpoint = env.AWS_ENDPOINT_URL ? { endpoint: env.AWS_ENDPOINT_URL } : {};
  const credentials = shared.masterCredentials ? { credentials: shared.masterCredentials } : {};
  const dynamodb = new DynamoDBClient({
    region: env.AWS_REGION,
    ...(env.DYNAMODB_ENDPOINT ? { endpoint: env.DYNAMODB_ENDPOINT } : endpoint),
    ...credentials,
    ...stateClientOptions(),
  });
  if (env.STATE_TABLE_CREATE)
    await createStateStore({ client: dynamodb, tableName: env.STATE_TABLE_NAME }).ensureTable();
  const runtime = createWorkerRuntime({
    db: database.db,
    secrets: openSecrets(env),
    dynamodb,
    tableName: env.STATE_TABLE_NAME,
    logger,
    workerId: env.WORKER_ID,
    awsEndpoint: env.AWS_ENDPOINT_URL,
    masterCredentials: shared.masterCredentials,
    ...runtimeTuningOf(env),
  });
  const metricsServer = env.METRICS_PORT === undefined ? null : await serveMetrics(runtime, env.METRICS_PORT);
  const sqs =
    env.WORK_QUEUE_URL === undefined
      ? null
      : new SQSClient({
          region: env.AWS_REGION,
          ...endpoint,
          // Longer than the consumer's long poll (SQS_WAIT_SECONDS); a hung connection fails, the loop backs off.
          requestHandler: timedRequestHandler((SQS_WAIT_SECONDS + 20) * 1000),
        });
  const holdMs = claimHoldMs(env);
  const slots = { slowAfterMs: env.SLOW_RUN_MS, maxInFlight: env.WORKER_MAX_IN_FLIGHT };
  let stopMode: () => Promise<void>;
  let wake: () => void = () => undefined;

  if (env.WORKER_MODE === 'in-process') {
    const scheduler = startInProcessScheduler({
      scheduler: runtime.scheduler,
      run: runtime.run,
      concurrency: env.WORKER_CONCURRENCY,
      ...slots,
      tickMs: env.SCHEDULER_TICK_MS,
      holdMs,
      clock: Date.now,
      logger,
      backfills: {
        claim: (limit) => runtime.backfills.claimBackfills(env.WORKER_ID, limit, holdMs),
        run: runtime.runBackfill,
        requeue: (job) => runtime.backfills.requeue(job),
      },
    });
    wake = () => scheduler.wake();
    stopMode = () => scheduler.stop();
  } else if (env.WORKER_MODE === 'sqs-consumer' && sqs !== null && env.WORK_QUEUE_URL !== undefined) {
    const consumer = startSqsConsumer({
      sqs,
      queueUrl: env.WORK_QUEUE_URL,
      run: runtime.run,
      concurrency: env.WORKER_CONCURRENCY,
      ...slots,
      waitTimeSeconds: SQS_WAIT_SECONDS,
      visibilityTimeoutSeconds: Math.ceil(env.LEASE_TTL_MS / 1000) + 30,
      logger,
      runBackfill: runtime.runClaimedBackfill,
    });
    stopMode = () => consumer.stop();
  } else if (sqs !== null && env.WORK_QUEUE_URL !== undefined) {
    const queueUrl = env.WORK_QUEUE_URL;
    const dispatch = async () => {
      try {
        const n = await dispatchDueTenants({
          scheduler: runtime.scheduler,
          sqs,
          queueUrl,
          now: new Date(),
          limit: 10_000,
          holdMs,
          backfills: { claim: (limit) => runtime.backfills.claimBackfills(env.WORKER_ID, limit, holdMs) },
        });
        if (n > 0) logger.info({ dispatched: n }, 'dispatched due tenants');
      } catch (err) {
        logger.error({ err: errorMessage(err) }, 'dispatch failed');
      }
    };
    const timer = setInterval(() => void dispatch(), env.DISPATCH_INTERVAL_MS);
    void dispatch();
    wake = () => void dispatch();
    stopMode = async () => clearInterval(timer);
  } else {
    throw new Error(`unsupported worker mode ${env.WORKER_MODE}`);
  }

  let stopping: Promise<void> | undefined;
  return {
    runtime,
    metricsUrl:
      metricsServer === null
        ? null
        : `http://127.0.0.1:${(metricsServer.address() as { port: number }).port}/metrics`,
    wake,
    stop() {
      stopping ??= (async () => {
        await stopMode();
        runtime.close();
        sqs?.destroy();
        dynamodb.destroy();
        await new Promise<void>((resolve) =>
          metricsServer ? metricsServer.close(() => resolve()) : resolve(),
        );
        if (db === undefined) await database.close();
      })();
      return stopping;
    },
  };
}

function serveMetrics(runtime: WorkerRuntime, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    runtime.metrics.registry
      .metrics()
      .then((text) => res.writeHead(200, { 'content-type': runtime.metrics.registry.contentType }).end(text))
      .catch(() => res.writeHead(500).end());
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

async function main(): Promise<void> {
  const parsed = parseWorkerEnv(process.env);
  if (!parsed.ok) {
    process.stderr.write(`worker: bad configuration\n${parsed.message}\n`);
    process.exit(2);
  }
  const env = parsed.env;
  const logger = createServiceLogger({
    service: 'worker',
    level: env.LOG_LEVEL,
    base: { workerId: env.WORKER_ID },
  });
  // A fault nobody handled is a bug: it is logged as one line with its stack (for the operator and
  // the chaos test), then the process exits, as Node would, for the supervisor to restart it.
  const fatal = (err: unknown, origin: string) => {
    // A rejection can also reach here (origin 'unhandledRejection'): a stray driver rejection, as below,
    // is not fatal. (What was once seen here during start-up was the start-up's own failure, now caught
    // around startWorker.)
    if (origin === 'unhandledRejection' && isConnectionError(err)) {
      logger.warn({ err: errorInfo(err) }, 'a database connection error that no caller awaited');
      return;
    }
    const info = err instanceof Error ? { ...errorInfo(err), stack: err.stack } : { message: String(err) };
    logger.fatal({ err: info, origin }, 'uncaught exception: exiting');
    process.exit(1);
  };
  process.on('uncaughtException', fatal);
  // postgres-js rejects some of its own internal promises, which nobody awaits, when a connection
  // drops (a reserved connection cut mid-query; ADR 0032). The query that was running has already
  // failed to its caller; the stray rejection changes nothing, so it is logged, not fatal. Any
  // other unhandled rejection is a bug and ends the process, as Node's default would.
  process.on('unhandledRejection', (reason) => {
    if (isConnectionError(reason)) {
      logger.warn({ err: errorInfo(reason) }, 'a database connection error that no caller awaited');
      return;
    }
    fatal(reason, 'unhandledRejection');
  });
  let worker: RunningWorker;
  try {
    worker = await startWorker(env, logger);
  } catch (err) {
    // Said here, not left to the entry module's rejected top-level await: that rejection reached the
    // unhandled-rejection filter above, which takes a connection error for a stray one and lets it go, so
    // a worker whose start-up migration ran out of attempts ended with code 0 and no error logged
    // (startup-cuts.int.test.ts, a database restart during the migration).
    // A database error's code and message only (drizzle's own message carries the SQL and its values).
    const cause = dbErrorCause(err);
    logger.fatal(
      { err: cause.code === 'unknown' ? errorInfo(err) : cause },
      'worker could not start: exiting',
    );
    process.exit(1);
  }
  const shutdown = (signal: string) => {
    logger.info({ signal }, 'stopping: finishing the batches in flight, saving cursors, releasing leases');
    worker
      .stop()
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        logger.error({ err: errorMessage(err) }, 'stop failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // Only now: whoever reads this line may signal at once. Until a listener is registered, SIGTERM's
  // default action ends the process (startup-cuts.int.test.ts met it, signalled between this line and
  // the registration under load).
  logger.info({ mode: env.WORKER_MODE, metrics: worker.metricsUrl }, 'worker started');
}

const entry = process.argv[1];
if (
  entry !== undefined &&
  import.meta.url ===
    (await import('node:url')).pathToFileURL((await import('node:fs')).realpathSync(entry)).href
) {
  await main();
}
