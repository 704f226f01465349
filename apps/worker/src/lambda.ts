import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createServiceLogger } from '@vsh/secrets';
import type { Logger } from 'pino';
import { createEmfSink, type EmfSink } from './emf.ts';
import { parseWorkerEnv, runtimeTuningOf } from './env.ts';
import { openDatabase, openSecrets } from './main.ts';
import { createWorkerRuntime, stateClientOptions, type WorkerRuntime } from './runtime.ts';
import { createSqsLambdaHandler, type SqsBatchResponse, type SqsEvent } from './sqs.ts';

type SqsHandler = (event: SqsEvent) => Promise<SqsBatchResponse>;

/** What the SQS handler needs from a built worker: the production runtime, or a test's stand-in. */
export interface WorkerLambdaParts {
  readonly run: WorkerRuntime['run'];
  readonly runClaimedBackfill: WorkerRuntime['runClaimedBackfill'];
  readonly metrics: WorkerRuntime['metrics'];
  readonly logger: Logger;
  /** Default: EMF lines on stdout, service `worker`. */
  readonly emf?: EmfSink | undefined;
}

/**
 * The SQS handler over built parts: one message per due tenant, partial batch responses for failures,
 * and at the end of every invocation the metrics its runs recorded, as EMF lines on stdout.
 */
export function createWorkerLambdaHandler(parts: WorkerLambdaParts): SqsHandler {
  const emf = parts.emf ?? createEmfSink({ logger: parts.logger });
  parts.metrics.addSink(emf);
  const handle = createSqsLambdaHandler(parts.run, parts.logger, parts.runClaimedBackfill);
  return async (event) => {
    try {
      return await handle(event);
    } finally {
      emf.flush();
    }
  };
}

let ready: Promise<SqsHandler> | undefined;

async function build(): Promise<SqsHandler> {
  const parsed = parseWorkerEnv(process.env);
  if (!parsed.ok) throw new Error(`worker: bad configuration\n${parsed.message}`);
  const env = parsed.env;
  const logger: Logger = createServiceLogger({ service: 'worker-lambda', level: env.LOG_LEVEL });
  const database = await openDatabase(env);
  // Endpoint overrides as in the worker process (unset in production; DynamoDB Local and moto in tests).
  const endpoint = env.AWS_ENDPOINT_URL ? { endpoint: env.AWS_ENDPOINT_URL } : {};
  const runtime = createWorkerRuntime({
    db: database.db,
    secrets: openSecrets(env),
    dynamodb: new DynamoDBClient({
      region: env.AWS_REGION,
      ...(env.DYNAMODB_ENDPOINT ? { endpoint: env.DYNAMODB_ENDPOINT } : endpoint),
      ...stateClientOptions(),
    }),
    tableName: env.STATE_TABLE_NAME,
    logger,
    workerId: env.WORKER_ID,
    awsEndpoint: env.AWS_ENDPOINT_URL,
    ...runtimeTuningOf(env),
  });
  return createWorkerLambdaHandler({ ...runtime, logger });
}

/** The SQS consumer Lambda: one message per due tenant, partial batch responses for failures. */
export async function handler(event: SqsEvent): Promise<SqsBatchResponse> {
  ready ??= build();
  return (await ready)(event);
}
