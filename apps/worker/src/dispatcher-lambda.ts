import { SQSClient } from '@aws-sdk/client-sqs';
import { pino } from 'pino';
import { createDbBackfillStore } from './backfill-store.ts';
import { claimHoldMs, parseWorkerEnv } from './env.ts';
import { openDatabase, openSecrets } from './main.ts';
import { dispatchDueTenants } from './sqs.ts';
import { createDbTenantStore } from './tenant-store.ts';

let ready: Promise<() => Promise<number>> | undefined;

async function build(): Promise<() => Promise<number>> {
  const parsed = parseWorkerEnv(process.env);
  if (!parsed.ok) throw new Error(`dispatcher: bad configuration\n${parsed.message}`);
  const env = parsed.env;
  const logger = pino({ level: env.LOG_LEVEL, base: { service: 'dispatcher' } });
  const database = await openDatabase(env);
  const scheduler = createDbTenantStore({ db: database.db, secrets: openSecrets(env), logger });
  const backfills = createDbBackfillStore(database.db);
  const sqs = new SQSClient({ region: env.AWS_REGION });
  const queueUrl = env.WORK_QUEUE_URL;
  if (queueUrl === undefined) throw new Error('dispatcher: WORK_QUEUE_URL is required');
  return async () => {
    const n = await dispatchDueTenants({
      scheduler,
      sqs,
      queueUrl,
      now: new Date(),
      limit: 10_000,
      holdMs: claimHoldMs(env),
      backfills: {
        claim: (limit) => backfills.claimBackfills('dispatcher', limit, claimHoldMs(env)),
      },
    });
    logger.info({ dispatched: n }, 'dispatched due tenants');
    return n;
  };
}

/** The dispatcher Lambda, run by an EventBridge Scheduler schedule: one SQS message per due tenant. */
export async function handler(): Promise<{ dispatched: number }> {
  ready ??= build();
  return { dispatched: await (await ready)() };
}
