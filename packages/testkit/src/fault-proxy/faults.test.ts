import { describe, expect, it } from 'vitest';
import { FaultPlan, type FaultRules, rulesSchema, seededRandom } from './faults.ts';
import type { RequestInfo } from './wire.ts';

describe('seededRandom', () => {
  it('repeats the same sequence for the same seed and differs for another', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const c = seededRandom(43);

    const first = Array.from({ length: 5 }, () => a());

    expect(Array.from({ length: 5 }, () => b())).toEqual(first);
    expect(Array.from({ length: 5 }, () => c())).not.toEqual(first);
    expect(first.every((x) => x >= 0 && x < 1)).toBe(true);
  });
});

const info = (service: string, operation: string): RequestInfo => ({
  service,
  operation,
  region: 'us-east-1',
  accessKeyId: undefined,
  protocol: 'json',
});
const plan = (rules: FaultRules, seed = 1) => new FaultPlan(rulesSchema.parse(rules), seed, () => 0);

describe('FaultPlan', () => {
  it('fires a rule at rate 1 only as many times as its budget, and only for matching requests', () => {
    const faults = plan({ errors: [{ match: { service: 'sts' }, rate: 1, status: 503, times: 2 }] });

    const other = faults.roll('errors', info('dynamodb', 'PutItem'));
    const fired = Array.from({ length: 4 }, () => faults.roll('errors', info('sts', 'AssumeRole')));

    expect(other).toBeUndefined();
    expect(fired.map((rule) => rule?.status)).toEqual([503, 503, undefined, undefined]);
  });

  it('never fires a rule at rate 0, and fires about `rate` of the time otherwise', () => {
    const never = plan({ resets: [{ rate: 0 }] });
    const half = plan({ timeouts: [{ rate: 0.5 }] });

    const none = Array.from({ length: 200 }, () => never.roll('resets', info('sts', 'X')));
    const some = Array.from({ length: 1000 }, () => half.roll('timeouts', info('sts', 'X'))).filter(Boolean);

    expect(none.every((rule) => rule === undefined)).toBe(true);
    expect(some.length).toBeGreaterThan(400);
    expect(some.length).toBeLessThan(600);
  });

  it('repeats the same decisions for the same seed', () => {
    const rules: FaultRules = { errors: [{ rate: 0.3 }], latency: [{ minMs: 10, maxMs: 50 }] };
    const decide = (faults: FaultPlan) =>
      Array.from({ length: 50 }, () => [
        faults.roll('errors', info('sts', 'X')) !== undefined,
        faults.latencyFor(info('sts', 'X')),
      ]);

    expect(decide(plan(rules, 7))).toEqual(decide(plan(rules, 7)));
    expect(decide(plan(rules, 7))).not.toEqual(decide(plan(rules, 8)));
  });

  it('delays by a fixed latency or a jitter within its bounds', () => {
    const fixed = plan({ latency: [{ match: { operation: 'A' }, minMs: 200 }] });
    const jitter = plan({ latency: [{ minMs: 50, maxMs: 60 }] });

    const delays = Array.from({ length: 100 }, () => jitter.latencyFor(info('sts', 'X')));

    expect(fixed.latencyFor(info('sts', 'A'))).toBe(200);
    expect(fixed.latencyFor(info('sts', 'B'))).toBe(0);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(50);
    expect(Math.max(...delays)).toBeLessThanOrEqual(60);
  });

  it('fails chosen findings, each id only `times` times', () => {
    const faults = plan({
      failedFindings: [
        { ids: ['a'], times: 1 },
        { when: (f) => f.Title === 'bad', errorCode: 'Custom' },
      ],
    });

    const results = [
      faults.injectedFailure({ Id: 'a' }),
      faults.injectedFailure({ Id: 'a' }),
      faults.injectedFailure({ Id: 'b', Title: 'bad' }),
      faults.injectedFailure({ Id: 'c' }),
    ];

    expect(results.map((r) => r?.ErrorCode)).toEqual(['InvalidInput', undefined, 'Custom', undefined]);
    expect(results[0]?.Id).toBe('a');
  });

  it("throttles with Security Hub's limits by default", () => {
    const faults = plan({});
    const call = { service: 'securityhub', operation: 'GetFindings', account: '1', region: 'us-east-1' };

    const refusals = Array.from({ length: 7 }, () => faults.throttled(call));

    expect(refusals.filter((r) => r !== undefined)).toHaveLength(1);
  });
});
