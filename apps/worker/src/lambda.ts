import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type Logger, pino } from 'pino';
import { parseWorkerEnv, runtimeTuningOf } from './env.ts';
import { openDatabase, openSecrets } from './main.ts';
import { createWorkerRuntime } from './runtime.ts';
import { createSqsLambdaHandler, type SqsBatchResponse, type SqsEvent } from './sqs.ts';

let ready: Promise<(event: SqsEvent) => Promise<SqsBatchResponse>> | undefined;

async function build(): Promise<(event: SqsEvent) => Promise<SqsBatchResponse>> {
  const parsed = parseWorkerEnv(process.env);
  if (!parsed.ok) throw new Error(`worker: bad configuration\n${parsed.message}`);
  const env = parsed.env;
  const logger: Logger = pino({ level: env.LOG_LEVEL, base: { service: 'worker-lambda' } });
  const database = await openDatabase(env);
  const runtime = createWorkerRuntime({
    db: database.db,
    secrets: openSecrets(env),
    dynamodb: new DynamoDBClient({ region: env.AWS_REGION }),
    tableName: env.STATE_TABLE_NAME,
    logger,
    workerId: env.WORKER_ID,
    ...runtimeTuningOf(env),
  });
  return createSqsLambdaHandler(runtime.run, logger, runtime.runClaimedBackfill);
}

/** The SQS consumer Lambda: one message per due tenant, partial batch responses for failures. */
export async function handler(event: SqsEvent): Promise<SqsBatchResponse> {
  ready ??= build();
  return (await ready)(event);
}
