import { describe, expect, it } from 'vitest';
import {
  AWS_PRICES,
  DEFAULT_ASSUMPTIONS,
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

  it('bills Lambda wall time rounded up to the millisecond, at the memory configured', () => {
    const at1024 = tenantMonthCost({ ...nothing, wallMs: 99.2 });
    const at2048 = tenantMonthCost(
      { ...nothing, wallMs: 99.2 },
      { ...DEFAULT_ASSUMPTIONS, lambdaMemoryMb: 2048 },
    );

    expect(at1024.lambdaCompute).toBeCloseTo(8640 * 0.1 * AWS_PRICES.lambdaGbSecondArm64, 12);
    expect(at2048.lambdaCompute).toBeCloseTo(2 * at1024.lambdaCompute, 12);
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
