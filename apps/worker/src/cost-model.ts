// What one tenant costs per month in AWS charges, from what one run measurably uses (ADR 0110). Pure:
// the benchmark (bench/cost.bench.ts) measures the inputs; the prices are constants below.

/**
 * AWS list prices in USD, as listed for us-east-1, checked 2026-12 (from the pages named; the lead
 * could not verify them online in this change: check them before quoting a figure).
 */
export const AWS_PRICES = {
  /** https://aws.amazon.com/lambda/pricing/ : per GB-second, arm64 and x86, first pricing tier. */
  lambdaGbSecondArm64: 0.000_013_333_4,
  lambdaGbSecondX86: 0.000_016_666_7,
  /** https://aws.amazon.com/lambda/pricing/ : $0.20 per million requests. */
  lambdaRequest: 0.2 / 1e6,
  /** https://aws.amazon.com/dynamodb/pricing/on-demand/ : $0.125 per million read request units. */
  dynamodbReadUnit: 0.125 / 1e6,
  /** https://aws.amazon.com/dynamodb/pricing/on-demand/ : $0.625 per million write request units. */
  dynamodbWriteUnit: 0.625 / 1e6,
  /** https://aws.amazon.com/sqs/pricing/ : standard queue, $0.40 per million requests. */
  sqsRequest: 0.4 / 1e6,
  /** https://aws.amazon.com/iam/pricing/ (STS is part of IAM): AssumeRole is free. */
  stsRequest: 0,
  /** https://aws.amazon.com/secrets-manager/pricing/ : $0.05 per 10,000 API calls. */
  secretsManagerCall: 0.05 / 10_000,
  /** https://aws.amazon.com/kms/pricing/ : $0.03 per 10,000 symmetric requests. */
  kmsRequest: 0.03 / 10_000,
  /** https://aws.amazon.com/cloudwatch/pricing/ : Logs standard ingestion, $0.50 per GB. */
  logsIngestedGb: 0.5,
} as const;

/** Runs per month at the default 5-minute schedule (30 days). */
export const RUNS_PER_MONTH_AT_5_MIN = (30 * 24 * 60) / 5;

/** What one tenant run uses, as measured. */
export interface RunUsage {
  /** Worker CPU per run (informative: Lambda bills wall time, a long-lived worker bills its CPU). */
  readonly cpuMs: number;
  /** Wall time of one run alone, CPU included (billedMsPerRun shares an invocation's among its runs). */
  readonly wallMs: number;
  readonly dynamodbReadUnits: number;
  readonly dynamodbWriteUnits: number;
  readonly sqsRequests: number;
  readonly stsRequests: number;
  readonly secretsManagerCalls: number;
  readonly kmsRequests: number;
  readonly logBytes: number;
}

export interface CostAssumptions {
  readonly lambdaMemoryMb: number;
  readonly architecture: 'arm64' | 'x86_64';
  /** Runs one invocation handles (the SQS batch size): the request price and the duration are shared. */
  readonly runsPerInvocation: number;
  /**
   * How an invocation's runs share its duration: `concurrent` as the SQS handler runs them
   * (createSqsLambdaHandler, sqs.ts: one `Promise.all` over the batch), or one after another.
   */
  readonly runsInInvocation: 'concurrent' | 'sequential';
  readonly runsPerMonth: number;
}

/** The worker Lambda as deployed (infra/central/src/worker.ts: 1024 MB, SQS batch of 5), every 5 minutes. */
export const DEFAULT_ASSUMPTIONS: CostAssumptions = {
  lambdaMemoryMb: 1024,
  architecture: 'arm64',
  runsPerInvocation: 5,
  runsInInvocation: 'concurrent',
  runsPerMonth: RUNS_PER_MONTH_AT_5_MIN,
};

/**
 * Memory at which a function has one vCPU; below it CPU is proportional to memory
 * (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html). The worker's JavaScript
 * runs on one thread, so more than one vCPU does not shorten it.
 */
export const LAMBDA_MB_PER_VCPU = 1769;

/**
 * The billed Lambda milliseconds that fall to one run: its invocation's duration, rounded up to the
 * millisecond as Lambda bills it, divided among the invocation's runs. A run's CPU stretches by the
 * function's vCPU share; concurrent runs overlap their waits but not their CPU.
 */
export function billedMsPerRun(usage: RunUsage, assumptions: CostAssumptions = DEFAULT_ASSUMPTIONS): number {
  const share = Math.min(1, assumptions.lambdaMemoryMb / LAMBDA_MB_PER_VCPU);
  const n = assumptions.runsPerInvocation;
  const cpuMs = Math.min(usage.cpuMs, usage.wallMs);
  const runMs = usage.wallMs + cpuMs * (1 / share - 1);
  const invocationMs =
    assumptions.runsInInvocation === 'sequential' ? n * runMs : Math.max(runMs, (n * cpuMs) / share);
  return Math.ceil(invocationMs) / n;
}

/** USD per tenant-month, by service. */
export interface TenantMonthCost {
  readonly lambdaCompute: number;
  readonly lambdaRequests: number;
  readonly dynamodb: number;
  readonly sqs: number;
  readonly sts: number;
  readonly secretsManager: number;
  readonly kms: number;
  readonly logs: number;
  readonly total: number;
}

/** The monthly AWS cost of one tenant whose every run uses `usage`. */
export function tenantMonthCost(
  usage: RunUsage,
  assumptions: CostAssumptions = DEFAULT_ASSUMPTIONS,
  prices: typeof AWS_PRICES = AWS_PRICES,
): TenantMonthCost {
  const runs = assumptions.runsPerMonth;
  const gbSecond =
    assumptions.architecture === 'arm64' ? prices.lambdaGbSecondArm64 : prices.lambdaGbSecondX86;
  const gbSeconds = (billedMsPerRun(usage, assumptions) / 1000) * (assumptions.lambdaMemoryMb / 1024);
  const parts = {
    lambdaCompute: runs * gbSeconds * gbSecond,
    lambdaRequests: (runs / assumptions.runsPerInvocation) * prices.lambdaRequest,
    dynamodb:
      runs *
      (usage.dynamodbReadUnits * prices.dynamodbReadUnit +
        usage.dynamodbWriteUnits * prices.dynamodbWriteUnit),
    sqs: runs * usage.sqsRequests * prices.sqsRequest,
    sts: runs * usage.stsRequests * prices.stsRequest,
    secretsManager: runs * usage.secretsManagerCalls * prices.secretsManagerCall,
    kms: runs * usage.kmsRequests * prices.kmsRequest,
    logs: ((runs * usage.logBytes) / 1024 ** 3) * prices.logsIngestedGb,
  };
  const total = Object.values(parts).reduce((sum, v) => sum + v, 0);
  return { ...parts, total };
}
