/**
 * The fault plan: the rules (validated with zod) and the state that makes them repeatable: one
 * seeded random stream per rule, each rule's `times` budget, and the throttle's buckets. Pure: it
 * decides which fault a request meets; the server carries the fault out.
 */
import { z } from 'zod';
import type { AsffFinding, ImportFailure } from './securityhub-store.ts';
import {
  SECURITY_HUB_RATE_LIMITS,
  Throttle,
  type ThrottledCall,
  type ThrottleRule,
  throttleRuleSchema,
} from './throttle.ts';
import type { RequestInfo } from './wire.ts';

const rate = z.number().min(0).max(1);
const times = z.number().int().positive().optional();
const matchSchema = z
  .object({ service: z.string().min(1).optional(), operation: z.string().min(1).optional() })
  .strict();

const errorRuleSchema = z
  .object({
    match: matchSchema.default({}),
    rate,
    status: z.union([z.literal(500), z.literal(502), z.literal(503), z.literal(504)]).default(500),
    times,
  })
  .strict();

const latencyRuleSchema = z
  .object({
    match: matchSchema.default({}),
    minMs: z.number().int().min(0),
    maxMs: z.number().int().min(0).optional(),
  })
  .strict()
  .refine((r) => r.maxMs === undefined || r.maxMs >= r.minMs, 'latency: maxMs must be at least minMs');

const timeoutRuleSchema = z
  .object({
    match: matchSchema.default({}),
    rate,
    /** Close the connection unanswered after this long; absent: hold until the client gives up. */
    holdMs: z.number().int().positive().optional(),
    times,
  })
  .strict();

const resetRuleSchema = z.object({ match: matchSchema.default({}), rate, times }).strict();

const failedFindingsRuleSchema = z
  .object({
    ids: z.array(z.string().min(1)).optional(),
    when: z
      .custom<(finding: AsffFinding) => boolean>(
        (value) => typeof value === 'function',
        'when must be a function',
      )
      .optional(),
    errorCode: z.string().min(1).default('InvalidInput'),
    errorMessage: z
      .string()
      .min(1)
      .default('Finding does not adhere to Amazon Finding Format (failure injected by the fault proxy).'),
    /** Fail only the first N imports of each chosen finding id (a transient failure). */
    times,
  })
  .strict()
  .refine((r) => r.ids !== undefined || r.when !== undefined, 'failedFindings: give ids or when');

export const rulesSchema = z
  .object({
    /** Token buckets per account, region and operation. Default: Security Hub's real limits. */
    throttle: z.union([z.literal(false), z.array(throttleRuleSchema)]).prefault(SECURITY_HUB_RATE_LIMITS),
    errors: z.array(errorRuleSchema).default([]),
    latency: z.array(latencyRuleSchema).default([]),
    timeouts: z.array(timeoutRuleSchema).default([]),
    resets: z.array(resetRuleSchema).default([]),
    failedFindings: z.array(failedFindingsRuleSchema).default([]),
    /**
     * BatchImportFindings is rejected (403 AccessDeniedException) when a finding's AwsAccountId is
     * not the caller's account or its ProductArn names another region, as real Security Hub does.
     */
    accountChecks: z.boolean().default(true),
  })
  .strict();

export type FaultRules = z.input<typeof rulesSchema>;
export type Rules = z.output<typeof rulesSchema>;
type Match = z.output<typeof matchSchema>;

/** The rule kinds rolled per request against a rate and a `times` budget. */
type RolledKind = 'errors' | 'timeouts' | 'resets';

/**
 * Deterministic PRNG (mulberry32). Hand-written: five lines, and a library would add a dependency
 * for what tests need only to be repeatable from a seed.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function ruleMatches(match: Match, info: RequestInfo): boolean {
  return (
    (match.service === undefined || match.service === info.service) &&
    (match.operation === undefined || match.operation === info.operation)
  );
}

/** One rule set and its state; replacing the rules means a new plan (streams and budgets restart). */
export class FaultPlan {
  private readonly randoms = new Map<string, () => number>();
  private readonly budgets = new Map<string, number>();
  private readonly findingFailures = new Map<string, number>();
  private readonly throttle: Throttle;

  constructor(
    readonly rules: Rules,
    private readonly seed: number,
    /** Milliseconds, monotonic; for the token buckets. */
    clock: () => number,
  ) {
    this.throttle = new Throttle(rules.throttle, clock);
  }

  private random(stream: string): number {
    let next = this.randoms.get(stream);
    if (next === undefined) {
      let hash = this.seed >>> 0;
      for (const char of stream) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193) >>> 0;
      next = seededRandom(hash);
      this.randoms.set(stream, next);
    }
    return next();
  }

  /** The first rule of a kind that matches, if it fires: rolled against its rate and budget. */
  roll<K extends RolledKind>(kind: K, info: RequestInfo): Rules[K][number] | undefined {
    const rules: ReadonlyArray<Rules[K][number]> = this.rules[kind];
    const index = rules.findIndex((rule) => ruleMatches(rule.match, info));
    const rule = rules[index];
    if (rule === undefined) return undefined;
    const stream = `${kind}#${index}`;
    const used = this.budgets.get(stream) ?? 0;
    if (rule.times !== undefined && used >= rule.times) return undefined;
    if (this.random(stream) >= rule.rate) return undefined;
    this.budgets.set(stream, used + 1);
    return rule;
  }

  /** Milliseconds to delay this request by (0: none), from the first matching latency rule. */
  latencyFor(info: RequestInfo): number {
    const index = this.rules.latency.findIndex((rule) => ruleMatches(rule.match, info));
    const rule = this.rules.latency[index];
    if (rule === undefined) return 0;
    if (rule.maxMs === undefined || rule.maxMs === rule.minMs) return rule.minMs;
    return rule.minMs + Math.floor(this.random(`latency#${index}`) * (rule.maxMs - rule.minMs + 1));
  }

  /** The throttle rule that refuses this call, or undefined when it may pass (takes a token). */
  throttled(call: ThrottledCall): ThrottleRule | undefined {
    return this.throttle.refuse(call);
  }

  /** The failure a failedFindings rule injects for this finding, counted against its `times`. */
  injectedFailure(finding: AsffFinding): ImportFailure | undefined {
    const id = typeof finding.Id === 'string' ? finding.Id : '';
    for (const [index, rule] of this.rules.failedFindings.entries()) {
      const chosen = (rule.ids?.includes(id) ?? false) || (rule.when?.(finding) ?? false);
      if (!chosen) continue;
      const key = `${index}\u0000${id}`;
      const used = this.findingFailures.get(key) ?? 0;
      if (rule.times !== undefined && used >= rule.times) continue;
      this.findingFailures.set(key, used + 1);
      return { Id: id, ErrorCode: rule.errorCode, ErrorMessage: rule.errorMessage };
    }
    return undefined;
  }
}
