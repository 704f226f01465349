// bench:cost: AWS cost per tenant-month, idle and busy (100 actions / 5 min), from what runs use as
// measured in this same process (run-cpu.ts: CPU, loopback wall time, DynamoDB request units, STS and
// Security Hub calls, log bytes) and the cost model (src/cost-model.ts). Calls outside what the bench
// runs (SQS, KMS) and network latency are the assumptions printed with the table.
import {
  AWS_PRICES,
  DEFAULT_ASSUMPTIONS,
  type RunUsage,
  type TenantMonthCost,
  tenantMonthCost,
} from '../src/cost-model.ts';
import { type CallsPerRun, measureRuns, type RunCpu } from './run-cpu.ts';

/** Latency of one call (ms), as bench:fanout simulates it; a run's calls are counted as sequential. */
const LATENCY_MS = { dynamodb: 10, vaikora: 50, sts: 50, securityHub: 50, postgres: 2, kms: 10 } as const;
/** Postgres calls per run: load the tenant, start and finish the run, schedule the next (tenant-store.ts). */
const POSTGRES_CALLS = 4;
/** KMS Decrypt per run: the tenant's Vaikora key is opened on load (tenant-store.ts). */
const KMS_PER_RUN = 1;
/** SQS per run: the dispatcher's send (batches of 10), the Lambda poller's receive and delete (batches of 5), empty polls. */
const SQS_PER_RUN = 3;
/** A role session lasts 1 h and is refreshed 5 min early: one AssumeRole per 11 runs of a busy tenant. */
const STS_PER_BUSY_RUN = 1 / 11;

const usageOf = (r: RunCpu, calls: CallsPerRun): RunUsage => {
  const sts = calls.sts + (calls.securityHub > 0 ? STS_PER_BUSY_RUN : 0);
  const wallMs =
    r.wallMsP50 +
    (calls.dynamodbReads + calls.dynamodbWrites) * LATENCY_MS.dynamodb +
    calls.vaikora * LATENCY_MS.vaikora +
    sts * LATENCY_MS.sts +
    calls.securityHub * LATENCY_MS.securityHub +
    POSTGRES_CALLS * LATENCY_MS.postgres +
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

const usd = (v: number) => `$${v.toFixed(5)}`;
console.log(
  `assumptions: Lambda ${DEFAULT_ASSUMPTIONS.architecture} ${DEFAULT_ASSUMPTIONS.lambdaMemoryMb} MB, ${DEFAULT_ASSUMPTIONS.runsPerInvocation} runs per invocation, ${DEFAULT_ASSUMPTIONS.runsPerMonth} runs/month; latency ms ${JSON.stringify(LATENCY_MS)}; SQS ${SQS_PER_RUN}/run, KMS ${KMS_PER_RUN}/run; prices us-east-1 (src/cost-model.ts)`,
);
console.log('\nper run            CPU ms (mean/p50)  wall ms  DDB RRU  DDB WRU  STS    SecHub  log B');
for (const [name, r, u] of rows) {
  console.log(
    `${name.padEnd(18)} ${`${u.cpuMs.toFixed(2)}/${(r.cpuUsP50 / 1000).toFixed(2)}`.padStart(17)} ${u.wallMs.toFixed(0).padStart(8)} ${u.dynamodbReadUnits.toFixed(1).padStart(8)} ${u.dynamodbWriteUnits.toFixed(1).padStart(8)} ${u.stsRequests.toFixed(2).padStart(5)} ${r.calls.securityHub.toFixed(2).padStart(7)} ${u.logBytes.toFixed(0).padStart(6)}`,
  );
}
const parts = ['lambdaCompute', 'lambdaRequests', 'dynamodb', 'sqs', 'sts', 'kms', 'logs', 'total'] as const;
console.log(`\nper tenant-month   ${parts.map((p) => p.padStart(16)).join('')}`);
for (const [name, , , cost] of rows)
  console.log(`${name.padEnd(18)} ${parts.map((p) => usd(cost[p]).padStart(16)).join('')}`);
console.log(
  `(Lambda x86_64 would be ${(AWS_PRICES.lambdaGbSecondX86 / AWS_PRICES.lambdaGbSecondArm64).toFixed(2)}x the compute line)`,
);
