/**
 * Throttling as Security Hub does it: a token bucket per rule, operation, caller account and region,
 * with Security Hub's documented limits by default (the bucket is @vsh/core's). Pure: time comes
 * from the clock it is given.
 */
import { TokenBucket } from '@vsh/core';
import { z } from 'zod';

/**
 * Security Hub's documented per-account, per-region throttling limits (the service model's
 * documentation in botocore `securityhub/2018-10-26/service-2.json`). First matching rule wins.
 */
export const SECURITY_HUB_RATE_LIMITS = [
  { service: 'securityhub', operations: ['BatchEnableStandards'], ratePerSecond: 1, burst: 1 },
  { service: 'securityhub', operations: ['GetFindings'], ratePerSecond: 3, burst: 6 },
  { service: 'securityhub', operations: ['BatchImportFindings'], ratePerSecond: 10, burst: 30 },
  { service: 'securityhub', operations: ['BatchUpdateFindings'], ratePerSecond: 10, burst: 30 },
  { service: 'securityhub', operations: ['UpdateStandardsControl'], ratePerSecond: 1, burst: 5 },
  { service: 'securityhub', ratePerSecond: 10, burst: 30 },
];

// Security Hub's throttle is not the modeled LimitExceededException: it answers like its API front
// door, HTTP 429 `TooManyRequestsException` "Too Many Requests" (seen from GetFindings and
// UpdateStandardsControl in the field; see docs/adr/0010-fault-injecting-proxy.md).
const DEFAULT_THROTTLE_CODE = 'TooManyRequestsException';
const DEFAULT_THROTTLE_MESSAGE = 'Too Many Requests';

export const throttleRuleSchema = z
  .object({
    service: z.string().min(1).default('securityhub'),
    /** Absent: every operation of the service. Each operation gets its own bucket. */
    operations: z.array(z.string().min(1)).min(1).optional(),
    ratePerSecond: z.number().positive(),
    burst: z.number().int().positive(),
    errorCode: z.string().min(1).default(DEFAULT_THROTTLE_CODE),
    message: z.string().min(1).default(DEFAULT_THROTTLE_MESSAGE),
  })
  .strict();

export type ThrottleRule = z.output<typeof throttleRuleSchema>;

/** The request a throttle decision is about. */
export interface ThrottledCall {
  service: string;
  operation: string;
  /** The caller's account (Security Hub's limits are per account). */
  account: string;
  region: string | undefined;
}

/** Throttle rules and their buckets; a new rule set starts from full buckets. */
export class Throttle {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly rules: readonly ThrottleRule[] | false,
    /** Milliseconds, monotonic. */
    private readonly clock: () => number,
  ) {}

  /** The rule whose bucket is empty for this call (the call is refused), or undefined: it may pass. */
  refuse(call: ThrottledCall): ThrottleRule | undefined {
    if (this.rules === false) return undefined;
    const index = this.rules.findIndex(
      (rule) => rule.service === call.service && (rule.operations?.includes(call.operation) ?? true),
    );
    const rule = this.rules[index];
    if (rule === undefined) return undefined;
    const key = `${index}|${call.operation}|${call.account}|${call.region ?? 'unknown'}`;
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = new TokenBucket(
        { burst: rule.burst, tokensPerInterval: rule.ratePerSecond, intervalMs: 1000 },
        this.clock(),
      );
      this.buckets.set(key, bucket);
    }
    return bucket.tryTake(this.clock()) ? undefined : rule;
  }
}
