import { SQSClient } from '@aws-sdk/client-sqs';
import { timedRequestHandler } from '@vsh/aws';
import { createServiceLogger } from '@vsh/secrets';
import type { Logger } from 'pino';
import { z } from 'zod';
import { createDbBackfillStore } from './backfill-store.ts';
import { publishDispatched } from './emf.ts';
import { claimHoldMs, parseWorkerEnv } from './env.ts';
import { openDatabase, openSecrets } from './main.ts';
import { dispatchDueTenants } from './sqs.ts';
import { createDbTenantStore } from './tenant-store.ts';

/**
 * The input the central stack's schedule sends (EventBridge Scheduler fills in the context
 * attributes). Only logged and attached to the metric: any other event dispatches just the same.
 */
const scheduledTickSchema = z
  .object({
    executionId: z.string().max(128),
    scheduledTime: z.string().max(64),
    attemptNumber: z.string().max(16),
  })
  .partial();
export type ScheduledTick = z.infer<typeof scheduledTickSchema>;

type DispatcherHandler = (event: unknown) => Promise<{ dispatched: number }>;

/** The dispatcher handler over a built dispatch: logs the tick, then publishes `TenantsDispatched` as EMF. */
export function createDispatcherHandler(dispatch: () => Promise<number>, logger: Logger): DispatcherHandler {
  return async (event) => {
    const parsed = scheduledTickSchema.safeParse(event);
    const tick: Record<string, string> = {};
    for (const [key, value] of Object.entries(parsed.success ? parsed.data : {})) {
      if (value !== undefined) tick[key] = value;
    }
    const dispatched = await dispatch();
    logger.info({ ...tick, dispatched }, 'dispatched due tenants');
    publishDispatched(logger, dispatched, tick);
    return { dispatched };
  };
}

let ready: Promise<DispatcherHandler> | undefined;

async function build(): Promise<DispatcherHandler> {
  const parsed = parseWorkerEnv(process.env);
  if (!parsed.ok) throw new Error(`dispatcher: bad configuration\n${parsed.message}`);
  const env = parsed.env;
  const logger = createServiceLogger({ service: 'dispatcher', level: env.LOG_LEVEL });
  const database = await openDatabase(env);
  const scheduler = createDbTenantStore({ db: database.db, secrets: openSecrets(env), logger });
  const backfills = createDbBackfillStore(database.db, logger);
  // A send not answered in 10 s fails (the SDK retries it) rather than holding the invocation to its timeout.
  const sqs = new SQSClient({
    region: env.AWS_REGION,
    requestHandler: timedRequestHandler(10_000),
  });
  const queueUrl = env.WORK_QUEUE_URL;
  if (queueUrl === undefined) throw new Error('dispatcher: WORK_QUEUE_URL is required');
  return createDispatcherHandler(
    () =>
      dispatchDueTenants({
        scheduler,
        sqs,
        queueUrl,
        now: new Date(),
        limit: 10_000,
        holdMs: claimHoldMs(env),
        backfills: {
          claim: (limit) => backfills.claimBackfills('dispatcher', limit, claimHoldMs(env)),
        },
      }),
    logger,
  );
}

/** The dispatcher Lambda, run by an EventBridge Scheduler schedule: one SQS message per due tenant. */
export async function handler(event: unknown): Promise<{ dispatched: number }> {
  ready ??= build();
  return (await ready)(event);
}
