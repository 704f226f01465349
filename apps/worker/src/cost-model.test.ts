import { describe, expect, it } from 'vitest';
import {
  AWS_PRICES,
  billedMsPerRun,
  DEFAULT_ASSUMPTIONS,
  LAMBDA_MB_PER_VCPU,
  RUNS_PER_MONTH_AT_5_MIN,
  type RunUsage,
  tenantMonthCost,
} from './cost-model.ts';

const nothing: RunUsage = {
  cpuMs: 0,
  wallMs: 0,
  dynamodbReadUnits: 0,
  dynamodbWriteUnits: 0,
  sqsRequests: 0,
  stsRequests: 0,
  secretsManagerCalls: 0,
  kmsRequests: 0,
  logBytes: 0,
};

describe('tenantMonthCost', () => {
  it('runs 8,640 times a month at the default 5-minute schedule', () => {
    expect(RUNS_PER_MONTH_AT_5_MIN).toBe(8640);
  });

  it('costs only the shared Lambda request when a run uses nothing', () => {
    const cost = tenantMonthCost(nothing);

    expect(cost.total).toBeCloseTo((8640 / 5) * AWS_PRICES.lambdaRequest, 12);
    expect(cost.dynamodb).toBe(0);
  });

  it('prices each service from its own usage', () => {
    const cost = tenantMonthCost({ ...nothing, dynamodbReadUnits: 2, dynamodbWriteUnits: 2, kmsRequests: 1 });

    expect(cost.dynamodb).toBeCloseTo(8640 * (2 * 0.125e-6 + 2 * 0.625e-6), 12);
    expect(cost.kms).toBeCloseTo(8640 * 3e-6, 12);
  });

  it("bills sequential runs' wall time, the invocation rounded up to the millisecond, at the memory configured", () => {
    const sequential = { ...DEFAULT_ASSUMPTIONS, runsInInvocation: 'sequential' } as const;
    const at1024 = tenantMonthCost({ ...nothing, wallMs: 99.9 }, sequential);
    const at2048 = tenantMonthCost({ ...nothing, wallMs: 99.9 }, { ...sequential, lambdaMemoryMb: 2048 });

    // Five runs of 99.9 ms are one invocation of 499.5 ms, billed as 500 ms: 100 ms a run.
    expect(at1024.lambdaCompute).toBeCloseTo(8640 * 0.1 * AWS_PRICES.lambdaGbSecondArm64, 12);
    expect(at2048.lambdaCompute).toBeCloseTo(2 * at1024.lambdaCompute, 12);
  });

  it('divides an invocation of concurrent runs that mostly wait among its runs', () => {
    expect(billedMsPerRun({ ...nothing, wallMs: 100 })).toBe(20);
  });

  it('counts concurrent runs that are mostly CPU at the vCPU share of the memory', () => {
    // 1024 MB is 1024/1769 of a vCPU: five runs' 50 ms of CPU take 5 * 50 / 0.5789 = 431.9 ms.
    const perRun = billedMsPerRun({ ...nothing, cpuMs: 50, wallMs: 60 });
    const sequential = billedMsPerRun(
      { ...nothing, cpuMs: 50, wallMs: 60 },
      { ...DEFAULT_ASSUMPTIONS, runsInInvocation: 'sequential' },
    );

    expect(perRun).toBe(432 / 5);
    expect(sequential).toBe(Math.ceil(5 * (60 + 50 * (LAMBDA_MB_PER_VCPU / 1024 - 1))) / 5);
  });

  it('gives a run at one vCPU or more its measured wall time', () => {
    const big = { ...DEFAULT_ASSUMPTIONS, lambdaMemoryMb: 4096, runsPerInvocation: 1 };

    expect(billedMsPerRun({ ...nothing, cpuMs: 40, wallMs: 60 }, big)).toBe(60);
  });

  it('counts log bytes at the ingestion price per GB', () => {
    const cost = tenantMonthCost({ ...nothing, logBytes: 1024 ** 3 / 8640 });

    expect(cost.logs).toBeCloseTo(AWS_PRICES.logsIngestedGb, 9);
  });

  it('adds the parts up to the total', () => {
    const cost = tenantMonthCost({
      ...nothing,
      wallMs: 300,
      dynamodbReadUnits: 2,
      sqsRequests: 3,
      logBytes: 400,
    });
    const { total, ...parts } = cost;

    expect(total).toBeCloseTo(
      Object.values(parts).reduce((s, v) => s + v, 0),
      15,
    );
  });
});
