// bench:cost: AWS cost per tenant-month, idle and busy (100 actions / 5 min), from what runs use as
// measured in this same process (run-cpu.ts: CPU, loopback wall time, DynamoDB request units, STS and
// Security Hub calls, log bytes), the SQS requests the worker's own code sends (counted here through a
// counting SQS client), the KMS Decrypts per run with the worker's data key cache (counted here through
// the real cache of @vsh/secrets), and the cost model (src/cost-model.ts). What AWS does on its side
// (the event source mapping's receives, deletes and empty polls) and network latency are the
// assumptions printed with the table (ADR 0114).
import { randomBytes } from 'node:crypto';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import {
  cacheDataKeys,
  createSecretBox,
  type DataKeyCacheOptions,
  LocalMasterKeyProvider,
  type MasterKeyProvider,
  WORKER_DATA_KEY_CACHE,
} from '@vsh/secrets';
import { pino } from 'pino';
import {
  AWS_PRICES,
  billedMsPerRun,
  DEFAULT_ASSUMPTIONS,
  type RunUsage,
  type TenantMonthCost,
  tenantMonthCost,
} from '../src/cost-model.ts';
import type { RunResult } from '../src/run-tenant.ts';
import { dispatchDueTenants, startSqsConsumer } from '../src/sqs.ts';
import { type CallsPerRun, measureRuns, type RunCpu } from './run-cpu.ts';

/** Latency of one call (ms), as bench:fanout simulates it; a run's calls are counted as sequential. */
const LATENCY_MS = { dynamodb: 10, vaikora: 50, sts: 50, securityHub: 50, postgres: 2, kms: 10 } as const;
/** A role session lasts 1 h and is refreshed 5 min early: one AssumeRole per 11 runs of a busy tenant. */
const STS_PER_BUSY_RUN = 1 / 11;
/** Due tenants per dispatcher tick in the SQS count (1,000 tenants every 5 minutes). */
const DUE_PER_TICK = 200;
/** Worker Lambda instances a tenant's runs land on at random: the reserved concurrency, 10 (infra/central settings.ts). */
const LAMBDA_INSTANCES = 10;
/**
 * What the event source mapping does (ADR 0114, https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html,
 * .../services-sqs-scaling.html): it receives up to 10 messages a ReceiveMessage and invokes with up to 5
 * (the batch size), so at most one receive per invocation; it deletes a successful batch's messages,
 * counted as one DeleteMessageBatch per invocation (one DeleteMessage per message would be 1/run). With
 * maximum concurrency set it keeps 5 pollers long-polling (20 s): 5 * 3 empty receives a minute for the
 * fleet, shared among FLEET_TENANTS.
 */
const ESM = { receivesPerInvocation: 1, deletesPerInvocation: 1, pollers: 5, emptyPollsPerPollerMinute: 3 };
const FLEET_TENANTS = 1000;

/** SQS requests the dispatcher sends per dispatched tenant: the real dispatchDueTenants, a counting client. */
async function dispatcherSendsPerRun(): Promise<number> {
  let sends = 0;
  const sqs = {
    send: async () => {
      sends++;
      return {};
    },
  } as unknown as SQSClient;
  const ids = Array.from({ length: DUE_PER_TICK }, (_, i) => `ten_${i}`);
  const dispatched = await dispatchDueTenants({
    scheduler: { claimDueTenants: async () => ids.map((tenantId) => ({ tenantId, lastRunQuiet: false })) },
    sqs,
    queueUrl: 'https://sqs.local/q',
    now: new Date(),
    limit: 10_000,
    holdMs: 60_000,
  });
  return sends / dispatched;
}

/**
 * SQS requests per run of the long-lived worker (startSqsConsumer, not the deployed Lambda): a counting
 * client that hands out DUE_PER_TICK messages, then long-polls until the consumer stops.
 */
async function consumerRequestsPerRun(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const queue: Message[] = Array.from({ length: DUE_PER_TICK }, (_, i) => ({
    MessageId: `m${i}`,
    ReceiptHandle: `r${i}`,
    Body: JSON.stringify({ tenantId: `ten_${i}`, dispatchedAt: new Date().toISOString() }),
  }));
  const sqs = {
    send: (command: object, options?: { abortSignal?: AbortSignal }) => {
      const name = command.constructor.name;
      counts[name] = (counts[name] ?? 0) + 1;
      if (command instanceof ReceiveMessageCommand) {
        const batch = queue.splice(0, command.input.MaxNumberOfMessages ?? 1);
        if (batch.length > 0) return Promise.resolve({ Messages: batch });
        return new Promise((_, reject) =>
          options?.abortSignal?.addEventListener('abort', () => reject(new Error('stopped'))),
        );
      }
      if (command instanceof DeleteMessageBatchCommand || command instanceof ChangeMessageVisibilityCommand)
        return Promise.resolve({});
      return Promise.reject(new Error(`unexpected ${name}`));
    },
  } as unknown as SQSClient;
  let ran = 0;
  const consumer = startSqsConsumer({
    sqs,
    queueUrl: 'https://sqs.local/q',
    run: async (): Promise<RunResult> => {
      ran++;
      return { kind: 'gone' };
    },
    concurrency: 10,
    waitTimeSeconds: 20,
    visibilityTimeoutSeconds: 150,
    logger: pino({ level: 'silent' }),
  });
  while (consumer.processed < DUE_PER_TICK) await new Promise((r) => setImmediate(r));
  await consumer.stop();
  return Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v / ran]));
}

/**
 * KMS Decrypts per run with the worker's data key cache: TENANTS tenants' sealed keys opened every
 * 5 minutes through the real cache, each run on one of `instances` caches picked at random (a Lambda
 * fleet does not route a tenant to the instance that opened its key last), counted after an hour of warm-up.
 */
async function decryptsPerRun(instances: number, cache: DataKeyCacheOptions): Promise<number> {
  const tenants = 200;
  const local = new LocalMasterKeyProvider({ primaryKey: randomBytes(32).toString('base64') });
  let decrypts = 0;
  const counting: MasterKeyProvider = {
    keyId: local.keyId,
    generateDataKey: (c) => local.generateDataKey(c),
    decryptDataKey: (e, k, c) => {
      decrypts++;
      return local.decryptDataKey(e, k, c);
    },
  };
  let now = Date.now();
  const boxes = Array.from({ length: instances }, () =>
    createSecretBox(cacheDataKeys(counting, { ...cache, clock: () => now })),
  );
  const sealer = createSecretBox(local);
  const sealed = await Promise.all(
    Array.from({ length: tenants }, (_, i) => sealer.seal(`vk_${i}`, { tenantId: `ten_${i}` })),
  );
  let seed = 16;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const warmRounds = 12;
  const rounds = 72;
  let counted = 0;
  for (let round = 0; round < warmRounds + rounds; round++, now += 5 * 60_000) {
    if (round === warmRounds) counted = decrypts;
    for (const [i, value] of sealed.entries()) {
      const box = boxes[Math.floor(random() * instances)];
      await box?.open(value, { tenantId: `ten_${i}` });
    }
  }
  return (decrypts - counted) / (tenants * rounds);
}

const sqsSends = await dispatcherSendsPerRun();
const consumer = await consumerRequestsPerRun();
const n = DEFAULT_ASSUMPTIONS.runsPerInvocation;
const sqsParts = {
  dispatcherSend: sqsSends,
  esmReceive: ESM.receivesPerInvocation / n,
  esmDelete: ESM.deletesPerInvocation / n,
  workerOwn: 0,
  emptyPolls:
    (ESM.pollers * ESM.emptyPollsPerPollerMinute * 60 * 24 * 30) /
    FLEET_TENANTS /
    DEFAULT_ASSUMPTIONS.runsPerMonth,
};
const SQS_PER_RUN = Object.values(sqsParts).reduce((a, b) => a + b, 0);
const fifteenMinutes = { ...WORKER_DATA_KEY_CACHE, maxAgeMs: 15 * 60_000 };
const kmsTable: Array<[string, number, number]> = [];
for (const instances of [1, 5, LAMBDA_INSTANCES])
  kmsTable.push([
    `${instances}`,
    await decryptsPerRun(instances, fifteenMinutes),
    await decryptsPerRun(instances, WORKER_DATA_KEY_CACHE),
  ]);
const KMS_PER_RUN = kmsTable.at(-1)?.[2] ?? 1;

const usageOf = (r: RunCpu, calls: CallsPerRun): RunUsage => {
  const sts = calls.sts + (calls.securityHub > 0 ? STS_PER_BUSY_RUN : 0);
  const wallMs =
    r.wallMsP50 +
    (calls.dynamodbReads + calls.dynamodbWrites) * LATENCY_MS.dynamodb +
    calls.vaikora * LATENCY_MS.vaikora +
    sts * LATENCY_MS.sts +
    calls.securityHub * LATENCY_MS.securityHub +
    // Counted by run-cpu.ts's store: load, start and finish under the lease; load and record for a
    // quiet run (ADR 0136); run-calls.int.test.ts counts them on PostgreSQL.
    calls.postgres * LATENCY_MS.postgres +
    KMS_PER_RUN * LATENCY_MS.kms;
  return {
    cpuMs: r.cpuUsMean / 1000,
    wallMs,
    dynamodbReadUnits: calls.dynamodbReadUnits,
    dynamodbWriteUnits: calls.dynamodbWriteUnits,
    sqsRequests: SQS_PER_RUN,
    stsRequests: sts,
    secretsManagerCalls: 0,
    kmsRequests: KMS_PER_RUN,
    logBytes: r.logBytes,
  };
};

const [idle] = await measureRuns({ only: 'idle' });
const [busy] = await measureRuns({ only: 'busy', actionsPerRun: 100 });
if (idle === undefined || busy === undefined) throw new Error('no measurement');
const rows: Array<[string, RunCpu, RunUsage, TenantMonthCost]> = [idle, busy].map((r) => {
  const usage = usageOf(r, r.calls);
  return [r.kind === 'idle' ? 'idle' : `busy (${r.actionsPerRun}/5 min)`, r, usage, tenantMonthCost(usage)];
});
const f3 = (v: number) => v.toFixed(3);

const usd = (v: number) => `$${v.toFixed(5)}`;
console.log(
  `assumptions: Lambda ${DEFAULT_ASSUMPTIONS.architecture} ${DEFAULT_ASSUMPTIONS.lambdaMemoryMb} MB, ${n} runs per invocation run ${DEFAULT_ASSUMPTIONS.runsInInvocation}ly, ${DEFAULT_ASSUMPTIONS.runsPerMonth} runs/month; latency ms ${JSON.stringify(LATENCY_MS)}; prices us-east-1 (src/cost-model.ts)`,
);
console.log(
  `SQS per run ${f3(SQS_PER_RUN)}: dispatcher SendMessageBatch ${f3(sqsParts.dispatcherSend)} (counted), worker Lambda's own ${sqsParts.workerOwn} (it has no SQS client: the event source mapping deletes), event source mapping receive ${f3(sqsParts.esmReceive)} + delete ${f3(sqsParts.esmDelete)} (assumed: one each per invocation of ${n}), empty polls ${f3(sqsParts.emptyPolls)} (assumed: ${ESM.pollers} pollers, ${FLEET_TENANTS} tenants)`,
);
console.log(
  `  (the long-lived worker instead, counted: ${Object.entries(consumer)
    .map(([k, v]) => `${k.replace('Command', '')} ${f3(v)}`)
    .join(', ')} per run)`,
);
console.log(
  `KMS Decrypt per run with the worker's data key cache, counted (instances a tenant's runs land on: max age 15 min / ${WORKER_DATA_KEY_CACHE.maxAgeMs / 60_000} min): ${kmsTable
    .map(([i, a, b]) => `${i}: ${f3(a)} / ${f3(b)}`)
    .join(
      ', ',
    )}; the cost uses ${LAMBDA_INSTANCES} instances, ${WORKER_DATA_KEY_CACHE.maxAgeMs / 60_000} min (was 1 per run)`,
);
console.log(
  '\nper run            CPU ms (mean/p50)  wall ms  billed ms  DDB RRU  DDB WRU  STS    SecHub  KMS    log B',
);
for (const [name, r, u] of rows) {
  console.log(
    `${name.padEnd(18)} ${`${u.cpuMs.toFixed(2)}/${(r.cpuUsP50 / 1000).toFixed(2)}`.padStart(17)} ${u.wallMs.toFixed(0).padStart(8)} ${billedMsPerRun(u).toFixed(1).padStart(10)} ${u.dynamodbReadUnits.toFixed(1).padStart(8)} ${u.dynamodbWriteUnits.toFixed(1).padStart(8)} ${u.stsRequests.toFixed(2).padStart(5)} ${r.calls.securityHub.toFixed(2).padStart(7)} ${u.kmsRequests.toFixed(2).padStart(5)} ${u.logBytes.toFixed(0).padStart(6)}`,
  );
}
const parts = ['lambdaCompute', 'lambdaRequests', 'dynamodb', 'sqs', 'sts', 'kms', 'logs', 'total'] as const;
console.log(`\nper tenant-month   ${parts.map((p) => p.padStart(16)).join('')}`);
for (const [name, , , cost] of rows)
  console.log(`${name.padEnd(18)} ${parts.map((p) => usd(cost[p]).padStart(16)).join('')}`);
console.log(
  `(Lambda x86_64 would be ${(AWS_PRICES.lambdaGbSecondX86 / AWS_PRICES.lambdaGbSecondArm64).toFixed(2)}x the compute line)`,
);
