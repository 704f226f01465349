import { randomUUID } from 'node:crypto';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { MOTO_DEFAULT_ACCOUNT_ID } from './moto.ts';

/** A finding as it travels in BatchImportFindings / GetFindings (ASFF JSON). */
export type AsffFinding = Record<string, unknown>;

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
const MAX_BODY_BYTES = 16 * 1024 * 1024;
const MAX_FINDING_BYTES = 240 * 1024;
const ASFF_REQUIRED = [
  'SchemaVersion',
  'Id',
  'ProductArn',
  'GeneratorId',
  'AwsAccountId',
  'CreatedAt',
  'UpdatedAt',
  'Title',
  'Description',
  'Resources',
] as const;
// Customer-owned fields: BatchImportFindings does not overwrite them once a finding exists.
const CUSTOMER_OWNED = ['Note', 'UserDefinedFields', 'VerificationState', 'Workflow'] as const;

// ---------------------------------------------------------------------------------------------
// Options

const rate = z.number().min(0).max(1);
const times = z.number().int().positive().optional();
const matchSchema = z
  .object({ service: z.string().min(1).optional(), operation: z.string().min(1).optional() })
  .strict();

const throttleRuleSchema = z
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

const rulesSchema = z
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

const optionsSchema = z
  .object({
    /** Where requests are forwarded (moto). Optional only with the memory Security Hub. */
    upstream: z.url().optional(),
    /** `memory`: BatchImportFindings, GetFindings and hub enablement answered by the proxy itself. */
    securityHub: z.enum(['upstream', 'memory']).default('upstream'),
    /** Memory backend: importing or reading findings requires EnableSecurityHub first, as in AWS. */
    requireEnabledHub: z.boolean().default(true),
    /**
     * Opt-in: answer STS AssumeRole with 403 AccessDenied, as IAM does, when the role does not exist in
     * moto's IAM or its trust policy's `sts:ExternalId` condition does not hold for the request (moto's STS
     * checks neither). Only that condition is evaluated; principals and other keys are not.
     */
    enforceExternalId: z.boolean().default(false),
    seed: z.number().int().default(1),
    rules: rulesSchema.prefault({}),
    /** Milliseconds, monotonic; for the token buckets. */
    clock: z
      .custom<() => number>((value) => typeof value === 'function', 'clock must be a function')
      .optional(),
  })
  .strict()
  .refine((o) => o.upstream !== undefined || o.securityHub === 'memory', 'upstream is required');

export type FaultRules = z.input<typeof rulesSchema>;
export type FaultProxyOptions = z.input<typeof optionsSchema>;
type Rules = z.output<typeof rulesSchema>;
type Options = z.output<typeof optionsSchema>;
type Match = z.output<typeof matchSchema>;

export type FaultProxyErrorCode = 'invalid_options' | 'listen_failed';

/** The fault proxy was misconfigured or could not listen. */
export class FaultProxyError extends Error {
  override name = 'FaultProxyError';
  constructor(
    readonly code: FaultProxyErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

function parseOrThrow<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const result = schema.safeParse(input);
  if (!result.success) throw new FaultProxyError('invalid_options', z.prettifyError(result.error));
  return result.data;
}

// ---------------------------------------------------------------------------------------------
// Stats

export interface OperationStats {
  requests: number;
  forwarded: number;
  answeredLocally: number;
  throttled: number;
  injected5xx: number;
  timeouts: number;
  resets: number;
  delayed: number;
  failedFindings: number;
  upstreamErrors: number;
}

export interface SecurityHubImportStats {
  importRequests: number;
  findingsReceived: number;
  /** Distinct finding ids that were imported successfully. */
  distinctIds: number;
  /** Successful imports of an id that had been imported before (updates, retries, duplicates). */
  reimports: number;
  failedFindings: number;
}

/** The BatchImportFindings entries that carried one finding id. */
export interface FindingEntryStats {
  /**
   * Entries carrying this id, counted as each request reaches the proxy: whatever happened to it next
   * (accepted, failed per finding, throttled, 5xx, dropped) and whether or not it was a retry.
   */
  sent: number;
  /** Of those, entries sent after Security Hub had already accepted this id once (true re-sends). */
  afterAccepted: number;
}

export interface FaultProxyStats {
  /** service → operation → counters. */
  operations: Record<string, Record<string, OperationStats>>;
  /** `account/region` → BatchImportFindings counters. */
  securityHub: Record<string, SecurityHubImportStats>;
  /** `account/region` → finding id → BatchImportFindings entries carrying it. */
  findingEntries: Record<string, Record<string, FindingEntryStats>>;
}

function emptyOperationStats(): OperationStats {
  return {
    requests: 0,
    forwarded: 0,
    answeredLocally: 0,
    throttled: 0,
    injected5xx: 0,
    timeouts: 0,
    resets: 0,
    delayed: 0,
    failedFindings: 0,
    upstreamErrors: 0,
  };
}

// ---------------------------------------------------------------------------------------------
// Pure pieces (exported for unit tests)

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

/** A token bucket: `burst` tokens, refilled at `ratePerSecond`; time in milliseconds. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }
  tryTake(now: number): boolean {
    const elapsed = Math.max(0, now - this.last);
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.ratePerSecond) / 1000);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export type WireProtocol = 'rest-json' | 'json' | 'query' | 'other';

export interface RequestInfo {
  /** SigV4 signing name (`securityhub`, `sts`, `dynamodb`, ...), `moto-api`, or `unknown`. */
  service: string;
  operation: string;
  region: string | undefined;
  accessKeyId: string | undefined;
  protocol: WireProtocol;
}

// Security Hub's REST routes (method + path) from its service model: the ones with fixed paths
// that this project can meet, plus templated ones by prefix.
const SECURITY_HUB_ROUTES: Record<string, string> = {
  'DELETE /accounts': 'DisableSecurityHub',
  'GET /accounts': 'DescribeHub',
  'PATCH /accounts': 'UpdateSecurityHubConfiguration',
  'POST /accounts': 'EnableSecurityHub',
  'POST /findingHistory/get': 'GetFindingHistory',
  'PATCH /findings': 'UpdateFindings',
  'POST /findings': 'GetFindings',
  'PATCH /findings/batchupdate': 'BatchUpdateFindings',
  'POST /findings/import': 'BatchImportFindings',
  'POST /findingsv2': 'GetFindingsV2',
  'POST /insights': 'CreateInsight',
  'POST /insights/get': 'GetInsights',
  'GET /administrator': 'GetAdministratorAccount',
  'GET /master': 'GetMasterAccount',
  'GET /members': 'ListMembers',
  'POST /members': 'CreateMembers',
  'POST /members/get': 'GetMembers',
  'GET /productSubscriptions': 'ListEnabledProductsForImport',
  'POST /productSubscriptions': 'EnableImportFindingsForProduct',
  'GET /products': 'DescribeProducts',
  'GET /standards': 'DescribeStandards',
  'POST /standards/deregister': 'BatchDisableStandards',
  'POST /standards/get': 'GetEnabledStandards',
  'POST /standards/register': 'BatchEnableStandards',
  'GET /organization/configuration': 'DescribeOrganizationConfiguration',
  'POST /organization/configuration': 'UpdateOrganizationConfiguration',
};
const SECURITY_HUB_PREFIX_ROUTES: ReadonlyArray<readonly [string, string, string]> = [
  ['PATCH', '/standards/control/', 'UpdateStandardsControl'],
  ['GET', '/standards/controls/', 'DescribeStandardsControls'],
  ['DELETE', '/productSubscriptions/', 'DisableImportFindingsForProduct'],
  ['GET', '/insights/results/', 'GetInsightResults'],
  ['GET', '/tags/', 'ListTagsForResource'],
  ['POST', '/tags/', 'TagResource'],
  ['DELETE', '/tags/', 'UntagResource'],
];

const SIGV4_CREDENTIAL = /Credential=([^/,\s]+)\/\d{8}\/([^/,\s]+)\/([^/,\s]+)\/aws4_request/;

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function securityHubOperation(method: string, path: string): string {
  const exact = SECURITY_HUB_ROUTES[`${method} ${path}`];
  if (exact !== undefined) return exact;
  const prefixed = SECURITY_HUB_PREFIX_ROUTES.find(([m, prefix]) => m === method && path.startsWith(prefix));
  return prefixed?.[2] ?? `${method} ${path}`;
}

/** Names the AWS service (SigV4 scope) and operation (X-Amz-Target, Action=, or REST route) of a request. */
export function classifyRequest(
  method: string,
  rawUrl: string,
  headers: IncomingHttpHeaders,
  body: Buffer,
): RequestInfo {
  let url: URL;
  try {
    url = new URL(rawUrl, 'http://proxy.invalid');
  } catch {
    url = new URL('http://proxy.invalid/');
  }
  const path = url.pathname;
  const scope = SIGV4_CREDENTIAL.exec(
    headerValue(headers, 'authorization') ?? `Credential=${url.searchParams.get('X-Amz-Credential') ?? ''}`,
  );
  const accessKeyId = scope?.[1];
  const region = scope?.[2];
  const signedService = scope?.[3];
  if (path.startsWith('/moto-api')) {
    return { service: 'moto-api', operation: path, region, accessKeyId, protocol: 'other' };
  }
  const service = signedService ?? 'unknown';
  const target = headerValue(headers, 'x-amz-target');
  if (target !== undefined) {
    const operation = target.slice(target.lastIndexOf('.') + 1) || target;
    return { service, operation, region, accessKeyId, protocol: 'json' };
  }
  const contentType = headerValue(headers, 'content-type') ?? '';
  const action =
    url.searchParams.get('Action') ??
    (contentType.includes('application/x-www-form-urlencoded')
      ? new URLSearchParams(body.toString('utf8')).get('Action')
      : null);
  if (action) return { service, operation: action, region, accessKeyId, protocol: 'query' };
  if (service === 'securityhub') {
    return {
      service,
      operation: securityHubOperation(method, path),
      region,
      accessKeyId,
      protocol: 'rest-json',
    };
  }
  return { service, operation: `${method} ${path}`, region, accessKeyId, protocol: 'other' };
}

function ruleMatches(match: Match, info: RequestInfo): boolean {
  return (
    (match.service === undefined || match.service === info.service) &&
    (match.operation === undefined || match.operation === info.operation)
  );
}

export interface WireResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const SERVER_ERROR_CODES: Record<number, string> = {
  500: 'InternalFailure',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'GatewayTimeout',
};

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** An AWS error answer in the request's own wire protocol, as the AWS SDK v3 deserializers expect it. */
export function awsErrorResponse(
  info: RequestInfo,
  status: number,
  code: string,
  message: string,
): WireResponse {
  const requestId = randomUUID();
  switch (info.protocol) {
    case 'rest-json':
      // restJson1: the code travels in x-amzn-ErrorType; Security Hub's error shapes carry Code and Message.
      return {
        status,
        headers: {
          'content-type': 'application/json',
          'x-amzn-errortype': code,
          'x-amzn-requestid': requestId,
        },
        body: JSON.stringify({ Code: code, Message: message }),
      };
    case 'json':
      return {
        status,
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': requestId },
        body: JSON.stringify({ __type: code, message }),
      };
    case 'query':
      return {
        status,
        headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
        body: `<ErrorResponse><Error><Type>${status >= 500 ? 'Receiver' : 'Sender'}</Type><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
      };
    default:
      return {
        status,
        headers: {
          'content-type': 'application/json',
          'x-amzn-errortype': code,
          'x-amzn-requestid': requestId,
        },
        body: JSON.stringify({ Code: code, Message: message }),
      };
  }
}

function serverErrorResponse(info: RequestInfo, status: number): WireResponse {
  const code =
    info.service === 'securityhub' && status === 500
      ? 'InternalException'
      : (SERVER_ERROR_CODES[status] ?? 'InternalFailure');
  return awsErrorResponse(info, status, code, 'Injected server error (fault proxy)');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJson(body: Buffer): unknown {
  if (body.length === 0) return {};
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

const ARN = /^arn:[^:]+:securityhub:([^:]*):(\d{12})?:/;

// GetFindings StringFilter fields the memory backend understands, and how to read them.
const STRING_FILTER_FIELDS: Record<string, (f: AsffFinding) => string[]> = {
  Id: (f) => strings(f.Id),
  AwsAccountId: (f) => strings(f.AwsAccountId),
  ProductArn: (f) => strings(f.ProductArn),
  ProductName: (f) => strings(f.ProductName),
  CompanyName: (f) => strings(f.CompanyName),
  GeneratorId: (f) => strings(f.GeneratorId),
  Title: (f) => strings(f.Title),
  Description: (f) => strings(f.Description),
  Region: (f) => strings(f.Region),
  RecordState: (f) => strings(f.RecordState),
  SourceUrl: (f) => strings(f.SourceUrl),
  Type: (f) => strings(f.Types),
  SeverityLabel: (f) => strings(isRecord(f.Severity) ? f.Severity.Label : undefined),
  WorkflowStatus: (f) => strings(isRecord(f.Workflow) ? f.Workflow.Status : undefined),
  ComplianceStatus: (f) => strings(isRecord(f.Compliance) ? f.Compliance.Status : undefined),
  ResourceId: (f) =>
    Array.isArray(f.Resources) ? f.Resources.flatMap((r) => strings(isRecord(r) ? r.Id : undefined)) : [],
  ResourceType: (f) =>
    Array.isArray(f.Resources) ? f.Resources.flatMap((r) => strings(isRecord(r) ? r.Type : undefined)) : [],
};

function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

function compareString(actual: string, comparison: string, expected: string): boolean {
  switch (comparison) {
    case 'EQUALS':
    case 'NOT_EQUALS':
      return actual === expected;
    case 'PREFIX':
    case 'PREFIX_NOT_EQUALS':
      return actual.startsWith(expected);
    case 'CONTAINS':
    case 'NOT_CONTAINS':
      return actual.includes(expected);
    case 'CONTAINS_WORD':
      return actual.split(/\s+/).includes(expected);
    default:
      return false;
  }
}

const NEGATIVE = new Set(['NOT_EQUALS', 'PREFIX_NOT_EQUALS', 'NOT_CONTAINS']);

/**
 * Applies GetFindings StringFilters the way Security Hub combines them: positive comparisons on one
 * field are OR-ed, negative ones AND-ed, fields AND-ed. Returns an error text for what it cannot do.
 */
export function filterFindings(findings: AsffFinding[], filters: unknown): AsffFinding[] | string {
  if (filters === undefined) return findings;
  if (!isRecord(filters)) return 'Filters must be an object';
  const tests: Array<(f: AsffFinding) => boolean> = [];
  for (const [field, conditions] of Object.entries(filters)) {
    const read = STRING_FILTER_FIELDS[field];
    if (read === undefined) return `filter ${field} is not supported by the fault proxy's memory backend`;
    if (!Array.isArray(conditions)) return `filter ${field} must be a list`;
    const parsed: Array<{ value: string; comparison: string }> = [];
    for (const condition of conditions) {
      if (
        !isRecord(condition) ||
        typeof condition.Value !== 'string' ||
        typeof condition.Comparison !== 'string'
      ) {
        return `filter ${field} needs Value and Comparison`;
      }
      parsed.push({ value: condition.Value, comparison: condition.Comparison });
    }
    const positive = parsed.filter((c) => !NEGATIVE.has(c.comparison));
    const negative = parsed.filter((c) => NEGATIVE.has(c.comparison));
    tests.push((finding) => {
      const values = read(finding);
      const positiveOk =
        positive.length === 0 ||
        positive.some((c) => values.some((v) => compareString(v, c.comparison, c.value)));
      const negativeOk = negative.every((c) => values.every((v) => !compareString(v, c.comparison, c.value)));
      return positiveOk && negativeOk;
    });
  }
  return findings.filter((finding) => tests.every((test) => test(finding)));
}

function missingRequired(finding: AsffFinding): string | undefined {
  const missing = ASFF_REQUIRED.find((key) => finding[key] === undefined || finding[key] === null);
  if (missing !== undefined) return missing;
  if (!Array.isArray(finding.Resources) || finding.Resources.length === 0) return 'Resources';
  return undefined;
}

function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|quot|amp|lt|gt|apos);/gi, (_whole, entity: string) => {
    const named: Record<string, string> = { quot: '"', amp: '&', lt: '<', gt: '>', apos: "'" };
    const lower = entity.toLowerCase();
    if (lower.startsWith('#x')) return String.fromCodePoint(Number.parseInt(lower.slice(2), 16));
    if (lower.startsWith('#')) return String.fromCodePoint(Number.parseInt(lower.slice(1), 10));
    return named[lower] ?? '';
  });
}

function asList(value: unknown): unknown[] {
  return Array.isArray(value) ? value : value === undefined ? [] : [value];
}

function globMatches(pattern: string, value: string): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replaceAll('*', '.*')
    .replaceAll('?', '.');
  return new RegExp(`^${source}$`, 's').test(value);
}

function externalIdTest(operator: string, expected: string[], actual: string | undefined): boolean {
  const ifExists = operator.endsWith('IfExists');
  const base = (ifExists ? operator.slice(0, -'IfExists'.length) : operator).replace(
    /^ForAnyValue:|^ForAllValues:/,
    '',
  );
  const negated = base.startsWith('StringNot');
  if (actual === undefined) return ifExists || negated;
  const equalIgnoringCase = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
  switch (base) {
    case 'StringEquals':
      return expected.includes(actual);
    case 'StringNotEquals':
      return !expected.includes(actual);
    case 'StringEqualsIgnoreCase':
      return expected.some((value) => equalIgnoringCase(value, actual));
    case 'StringNotEqualsIgnoreCase':
      return !expected.some((value) => equalIgnoringCase(value, actual));
    case 'StringLike':
      return expected.some((value) => globMatches(value, actual));
    case 'StringNotLike':
      return !expected.some((value) => globMatches(value, actual));
    default:
      // An operator this evaluator does not know is treated as not satisfied, as IAM does for a typo.
      return false;
  }
}

/**
 * Whether a role trust policy lets AssumeRole through for this ExternalId (undefined: none sent),
 * looking only at `sts:ExternalId` conditions of Allow statements for `sts:AssumeRole`; principals and
 * other condition keys are not evaluated (moto's callers are not real principals).
 */
export function trustPolicyAllowsExternalId(policy: unknown, externalId: string | undefined): boolean {
  if (!isRecord(policy)) return false;
  return asList(policy.Statement).some((statement) => {
    if (!isRecord(statement) || statement.Effect !== 'Allow') return false;
    const actions = asList(statement.Action).filter((a): a is string => typeof a === 'string');
    if (!actions.some((action) => globMatches(action.toLowerCase(), 'sts:assumerole'))) return false;
    const conditions = isRecord(statement.Condition) ? statement.Condition : {};
    return Object.entries(conditions).every(([operator, block]) => {
      if (!isRecord(block)) return true;
      return Object.entries(block).every(([key, value]) => {
        if (key.toLowerCase() !== 'sts:externalid') return true;
        const expected = asList(value).filter((v): v is string => typeof v === 'string');
        return externalIdTest(operator, expected, externalId);
      });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The proxy

export interface FaultProxy {
  endpoint: string;
  port: number;
  /** Replaces every rule (validated); token buckets, random streams and `times` budgets restart. */
  setRules(rules: FaultRules): void;
  stats(): FaultProxyStats;
  /** Counters for one operation (zeros when it was never seen). */
  operationStats(service: string, operation: string): OperationStats;
  resetStats(): void;
  /** Findings held by the memory Security Hub for one account and region. */
  memoryFindings(accountId: string, region: string): AsffFinding[];
  /** Closes the server and every open socket, held requests included. Idempotent. */
  stop(): Promise<void>;
}

interface ImportFailure {
  Id: string;
  ErrorCode: string;
  ErrorMessage: string;
}

interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  body: Buffer;
  info: RequestInfo;
  stats: OperationStats;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'content-length',
]);

function copyHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        resolve(undefined);
        req.removeAllListeners('data');
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
    // A client that hangs up mid-body emits neither 'end' nor always 'error'; without this the
    // exchange would wait forever. After 'end' this is a no-op.
    req.on('close', () => reject(new Error('client closed the request before sending its body')));
  });
}

function send(res: ServerResponse, response: WireResponse): void {
  if (res.headersSent || res.destroyed || res.writableEnded) return;
  const body = Buffer.from(response.body, 'utf8');
  res.writeHead(response.status, { ...response.headers, 'content-length': body.length });
  res.end(body);
}

function jsonResponse(payload: unknown): WireResponse {
  return {
    status: 200,
    headers: { 'content-type': 'application/json', 'x-amzn-requestid': randomUUID() },
    body: JSON.stringify(payload),
  };
}

interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

class FaultProxyServer {
  private rules: Rules;
  private buckets = new Map<string, TokenBucket>();
  private randoms = new Map<string, () => number>();
  private budgets = new Map<string, number>();
  private findingFailures = new Map<string, number>();
  private operations = new Map<string, OperationStats>();
  private imports = new Map<string, SecurityHubImportStats & { ids: Set<string> }>();
  private entries = new Map<string, Map<string, FindingEntryStats>>();
  /** `account/region` → ids Security Hub accepted at least once: its state, so resetStats keeps it. */
  private accepted = new Map<string, Set<string>>();
  private store = new Map<string, Map<string, AsffFinding>>();
  private hubs = new Map<string, string>();
  private callers = new Map<string, Promise<string>>();
  private readonly upstream: URL | undefined;
  private readonly agent = new Agent({ keepAlive: true });
  private readonly clock: () => number;

  constructor(private readonly options: Options) {
    this.rules = options.rules;
    this.upstream = options.upstream === undefined ? undefined : new URL(options.upstream);
    this.clock = options.clock ?? (() => performance.now());
  }

  close(): void {
    this.agent.destroy();
  }

  setRules(rules: Rules): void {
    this.rules = rules;
    this.buckets.clear();
    this.randoms.clear();
    this.budgets.clear();
    this.findingFailures.clear();
  }

  snapshot(): FaultProxyStats {
    const operations: FaultProxyStats['operations'] = {};
    for (const [key, stats] of this.operations) {
      const [service = '', operation = ''] = key.split('\u0000');
      operations[service] ??= {};
      operations[service][operation] = { ...stats };
    }
    const securityHub: FaultProxyStats['securityHub'] = {};
    for (const [key, { ids: _ids, ...stats }] of this.imports) securityHub[key] = { ...stats };
    const findingEntries: FaultProxyStats['findingEntries'] = {};
    for (const [key, byId] of this.entries) {
      const copy: Record<string, FindingEntryStats> = {};
      for (const [id, counts] of byId) copy[id] = { ...counts };
      findingEntries[key] = copy;
    }
    return { operations, securityHub, findingEntries };
  }

  operationStats(service: string, operation: string): OperationStats {
    return { ...(this.operations.get(`${service}\u0000${operation}`) ?? emptyOperationStats()) };
  }

  resetStats(): void {
    this.operations.clear();
    this.imports.clear();
    this.entries.clear();
  }

  /** Counts every entry of a BatchImportFindings request as it arrives, before any fault is rolled. */
  private countEntries(hubKey: string, body: Buffer): void {
    const parsed = parseJson(body);
    const findings = isRecord(parsed) ? parsed.Findings : undefined;
    if (!Array.isArray(findings)) return;
    let byId = this.entries.get(hubKey);
    if (byId === undefined) {
      byId = new Map();
      this.entries.set(hubKey, byId);
    }
    const accepted = this.accepted.get(hubKey);
    for (const finding of findings) {
      const id = isRecord(finding) && typeof finding.Id === 'string' ? finding.Id : undefined;
      if (id === undefined) continue;
      let counts = byId.get(id);
      if (counts === undefined) {
        counts = { sent: 0, afterAccepted: 0 };
        byId.set(id, counts);
      }
      counts.sent++;
      if (accepted?.has(id)) counts.afterAccepted++;
    }
  }

  memoryFindings(accountId: string, region: string): AsffFinding[] {
    return [...(this.store.get(`${accountId}/${region}`)?.values() ?? [])].map((f) => structuredClone(f));
  }

  private statsFor(info: RequestInfo): OperationStats {
    const key = `${info.service}\u0000${info.operation}`;
    let stats = this.operations.get(key);
    if (stats === undefined) {
      stats = emptyOperationStats();
      this.operations.set(key, stats);
    }
    return stats;
  }

  private random(stream: string): number {
    let next = this.randoms.get(stream);
    if (next === undefined) {
      let hash = this.options.seed >>> 0;
      for (const char of stream) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193) >>> 0;
      next = seededRandom(hash);
      this.randoms.set(stream, next);
    }
    return next();
  }

  /** The first rule of a kind that matches, rolled against its rate and budget. */
  private roll<R extends { match: Match; rate: number; times?: number | undefined }>(
    kind: string,
    rules: R[],
    info: RequestInfo,
  ): R | undefined {
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

  private latencyFor(info: RequestInfo): number {
    const index = this.rules.latency.findIndex((rule) => ruleMatches(rule.match, info));
    const rule = this.rules.latency[index];
    if (rule === undefined) return 0;
    if (rule.maxMs === undefined || rule.maxMs === rule.minMs) return rule.minMs;
    return rule.minMs + Math.floor(this.random(`latency#${index}`) * (rule.maxMs - rule.minMs + 1));
  }

  private throttleFor(info: RequestInfo, account: string): z.output<typeof throttleRuleSchema> | undefined {
    if (this.rules.throttle === false) return undefined;
    const index = this.rules.throttle.findIndex(
      (rule) => rule.service === info.service && (rule.operations?.includes(info.operation) ?? true),
    );
    const rule = this.rules.throttle[index];
    if (rule === undefined) return undefined;
    const key = `${index}|${info.operation}|${account}|${info.region ?? 'unknown'}`;
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = new TokenBucket(rule.ratePerSecond, rule.burst, this.clock());
      this.buckets.set(key, bucket);
    }
    return bucket.tryTake(this.clock()) ? undefined : rule;
  }

  /** The caller's account for a SigV4 access key: moto's own answer to GetCallerIdentity, cached. */
  private callerAccount(accessKeyId: string | undefined): Promise<string> {
    if (accessKeyId === undefined || this.upstream === undefined)
      return Promise.resolve(MOTO_DEFAULT_ACCOUNT_ID);
    let account = this.callers.get(accessKeyId);
    if (account === undefined) {
      account = this.askCallerIdentity(accessKeyId);
      this.callers.set(accessKeyId, account);
    }
    return account;
  }

  private async askCallerIdentity(accessKeyId: string): Promise<string> {
    // moto does not verify signatures; it only reads the key from the credential scope.
    const body = Buffer.from('Action=GetCallerIdentity&Version=2011-06-15');
    const headers = {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/20240101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=0`,
    };
    try {
      const answer = await this.forwardRaw('POST', '/', headers, body);
      return (
        /<Account>(\d{12})<\/Account>/.exec(answer.body.toString('utf8'))?.[1] ?? MOTO_DEFAULT_ACCOUNT_ID
      );
    } catch {
      return MOTO_DEFAULT_ACCOUNT_ID;
    }
  }

  private forwardRaw(
    method: string,
    path: string,
    headers: OutgoingHttpHeaders,
    body: Buffer,
  ): Promise<UpstreamResponse> {
    const upstream = this.upstream;
    if (upstream === undefined) return Promise.reject(new Error('no upstream configured'));
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          host: upstream.hostname,
          port: upstream.port,
          method,
          path,
          headers: { ...headers, 'content-length': body.length },
          agent: this.agent,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  private async forward(
    exchange: Exchange,
    body: Buffer = exchange.body,
  ): Promise<UpstreamResponse | undefined> {
    const { req, res, info, stats } = exchange;
    try {
      const answer = await this.forwardRaw(
        req.method ?? 'GET',
        req.url ?? '/',
        copyHeaders(req.headers),
        body,
      );
      stats.forwarded++;
      return answer;
    } catch (error) {
      stats.upstreamErrors++;
      send(
        res,
        awsErrorResponse(info, 502, 'BadGateway', `fault proxy: upstream unreachable (${String(error)})`),
      );
      return undefined;
    }
  }

  private relay(res: ServerResponse, answer: UpstreamResponse, body: Buffer = answer.body): void {
    if (res.headersSent || res.destroyed || res.writableEnded) return;
    res.writeHead(answer.status, { ...copyHeaders(answer.headers), 'content-length': body.length });
    res.end(body);
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const info = classifyRequest(req.method ?? 'GET', req.url ?? '/', req.headers, body ?? Buffer.alloc(0));
    const stats = this.statsFor(info);
    stats.requests++;
    if (body === undefined) {
      stats.answeredLocally++;
      send(
        res,
        awsErrorResponse(info, 413, 'RequestEntityTooLarge', 'Request body too large for the fault proxy'),
      );
      return;
    }
    const exchange: Exchange = { req, res, body, info, stats };
    if (info.service === 'securityhub' && info.operation === 'BatchImportFindings') {
      const caller = await this.callerAccount(info.accessKeyId);
      this.countEntries(`${caller}/${info.region ?? 'unknown'}`, body);
    }

    const delay = this.latencyFor(info);
    if (delay > 0) {
      stats.delayed++;
      await sleep(delay);
      if (res.destroyed) return;
    }
    if (this.roll('resets', this.rules.resets, info) !== undefined) {
      stats.resets++;
      req.socket.resetAndDestroy();
      return;
    }
    const timeout = this.roll('timeouts', this.rules.timeouts, info);
    if (timeout !== undefined) {
      stats.timeouts++;
      this.hold(req, res, timeout.holdMs);
      return;
    }
    const account = info.service === 'securityhub' ? await this.callerAccount(info.accessKeyId) : 'any';
    const throttle = this.throttleFor(info, account);
    if (throttle !== undefined) {
      stats.throttled++;
      send(res, awsErrorResponse(info, 429, throttle.errorCode, throttle.message));
      return;
    }
    const failure = this.roll('errors', this.rules.errors, info);
    if (failure !== undefined) {
      stats.injected5xx++;
      send(res, serverErrorResponse(info, failure.status));
      return;
    }
    if (this.options.enforceExternalId && info.service === 'sts' && info.operation === 'AssumeRole') {
      const denial = await this.externalIdDenial(body, info);
      if (denial !== undefined) {
        stats.answeredLocally++;
        send(res, awsErrorResponse(info, 403, 'AccessDenied', denial));
        return;
      }
    }
    if (info.service === 'securityhub') {
      if (info.operation === 'BatchImportFindings') return this.importFindings(exchange, account);
      if (this.options.securityHub === 'memory') {
        const local = this.memorySecurityHub(info, body, account);
        if (local !== undefined) {
          stats.answeredLocally++;
          send(res, local);
          return;
        }
      }
    }
    const answer = await this.forward(exchange);
    if (answer !== undefined) this.relay(res, answer);
  }

  /**
   * Why IAM would refuse this AssumeRole for its ExternalId (undefined: it would not): the role is read
   * from moto's IAM in the role's own account (`x-moto-account-id`; moto checks no signature) and its trust
   * policy evaluated with `trustPolicyAllowsExternalId`.
   */
  private async externalIdDenial(body: Buffer, info: RequestInfo): Promise<string | undefined> {
    const form = new URLSearchParams(body.toString('utf8'));
    const roleArn = form.get('RoleArn') ?? '';
    const externalId = form.get('ExternalId') ?? undefined;
    const denied = `User: ${info.accessKeyId ?? 'unknown'} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`;
    const match = /^arn:[^:]+:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(roleArn);
    if (match === null) return denied;
    const [, roleAccount = '', roleName = ''] = match;
    const query = new URLSearchParams({ Action: 'GetRole', Version: '2010-05-08', RoleName: roleName });
    let answer: UpstreamResponse;
    try {
      answer = await this.forwardRaw(
        'POST',
        '/',
        {
          'content-type': 'application/x-www-form-urlencoded',
          'x-moto-account-id': roleAccount,
          authorization: `AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0`,
        },
        Buffer.from(query.toString()),
      );
    } catch {
      return denied;
    }
    if (answer.status !== 200) return denied;
    const encoded = /<AssumeRolePolicyDocument>([\s\S]*?)<\/AssumeRolePolicyDocument>/.exec(
      answer.body.toString('utf8'),
    )?.[1];
    if (encoded === undefined) return denied;
    let policy: unknown;
    try {
      const unescaped = unescapeXml(encoded);
      policy = JSON.parse(unescaped.trimStart().startsWith('{') ? unescaped : decodeURIComponent(unescaped));
    } catch {
      return denied;
    }
    return trustPolicyAllowsExternalId(policy, externalId) ? undefined : denied;
  }

  private hold(req: IncomingMessage, res: ServerResponse, holdMs: number | undefined): void {
    if (holdMs === undefined) return;
    const timer = setTimeout(() => req.socket.destroy(), holdMs);
    res.once('close', () => clearTimeout(timer));
  }

  private importStats(account: string, region: string): SecurityHubImportStats & { ids: Set<string> } {
    const key = `${account}/${region}`;
    let stats = this.imports.get(key);
    if (stats === undefined) {
      stats = {
        importRequests: 0,
        findingsReceived: 0,
        distinctIds: 0,
        reimports: 0,
        failedFindings: 0,
        ids: new Set(),
      };
      this.imports.set(key, stats);
    }
    return stats;
  }

  private injectedFailure(finding: AsffFinding): ImportFailure | undefined {
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

  private async importFindings(exchange: Exchange, account: string): Promise<void> {
    const { res, info, stats, body } = exchange;
    const region = info.region ?? 'unknown';
    const memory = this.options.securityHub === 'memory';
    const parsed = parseJson(body);
    const request = isRecord(parsed) ? parsed : {};
    const findings = request.Findings;
    if (!Array.isArray(findings) || !findings.every(isRecord)) {
      if (!memory) {
        const answer = await this.forward(exchange);
        if (answer !== undefined) this.relay(res, answer);
        return;
      }
      stats.answeredLocally++;
      send(res, awsErrorResponse(info, 400, 'InvalidInputException', 'Findings must be a list of findings'));
      return;
    }
    const reject = (status: number, code: string, message: string): void => {
      stats.answeredLocally++;
      send(res, awsErrorResponse(info, status, code, message));
    };
    if (findings.length < 1 || findings.length > 100) {
      return reject(400, 'InvalidInputException', 'Findings must contain between 1 and 100 findings');
    }
    if (this.rules.accountChecks) {
      const foreign = findings.find((f) => {
        const arn = typeof f.ProductArn === 'string' ? ARN.exec(f.ProductArn) : null;
        return f.AwsAccountId !== account || (arn !== null && arn[1] !== region);
      });
      if (foreign !== undefined) {
        return reject(
          403,
          'AccessDeniedException',
          `User is not authorized to perform: securityhub:BatchImportFindings on resource: ${String(foreign.ProductArn)} (account ${account}, region ${region})`,
        );
      }
    }
    if (memory && this.options.requireEnabledHub && !this.hubs.has(`${account}/${region}`)) {
      return reject(
        401,
        'InvalidAccessException',
        `Account ${account} is not subscribed to AWS Security Hub`,
      );
    }

    const failed: ImportFailure[] = [];
    const passing: AsffFinding[] = [];
    for (const finding of findings) {
      const injected = this.injectedFailure(finding);
      if (injected === undefined) passing.push(finding);
      else failed.push(injected);
    }
    stats.failedFindings += failed.length;

    let succeeded: string[];
    let upstreamFailed: ImportFailure[] = [];
    if (memory) {
      ({ succeeded, failed: upstreamFailed } = this.storeFindings(account, region, passing));
      stats.answeredLocally++;
    } else if (passing.length === 0) {
      succeeded = [];
      stats.answeredLocally++;
    } else {
      const forwardedBody = Buffer.from(JSON.stringify({ ...request, Findings: passing }));
      const answer = await this.forward(exchange, forwardedBody);
      if (answer === undefined) return;
      const result = parseJson(answer.body);
      if (answer.status !== 200 || !isRecord(result)) return this.relay(res, answer);
      upstreamFailed = Array.isArray(result.FailedFindings) ? (result.FailedFindings as ImportFailure[]) : [];
      const failedIds = new Set(upstreamFailed.map((f) => f.Id));
      succeeded = passing.map((f) => String(f.Id)).filter((id) => !failedIds.has(id));
    }

    const counters = this.importStats(account, region);
    counters.importRequests++;
    counters.findingsReceived += findings.length;
    counters.failedFindings += failed.length + upstreamFailed.length;
    let accepted = this.accepted.get(`${account}/${region}`);
    if (accepted === undefined) {
      accepted = new Set();
      this.accepted.set(`${account}/${region}`, accepted);
    }
    for (const id of succeeded) {
      accepted.add(id);
      if (counters.ids.has(id)) counters.reimports++;
      else counters.ids.add(id);
    }
    counters.distinctIds = counters.ids.size;

    const allFailed = [...upstreamFailed, ...failed];
    send(
      res,
      jsonResponse({
        FailedCount: allFailed.length,
        SuccessCount: succeeded.length,
        FailedFindings: allFailed,
      }),
    );
  }

  private storeFindings(
    account: string,
    region: string,
    findings: AsffFinding[],
  ): { succeeded: string[]; failed: ImportFailure[] } {
    const key = `${account}/${region}`;
    let store = this.store.get(key);
    if (store === undefined) {
      store = new Map();
      this.store.set(key, store);
    }
    const succeeded: string[] = [];
    const failed: ImportFailure[] = [];
    const now = new Date().toISOString();
    for (const finding of findings) {
      const id = typeof finding.Id === 'string' ? finding.Id : '';
      const missing = missingRequired(finding);
      if (missing !== undefined) {
        failed.push({
          Id: id,
          ErrorCode: 'InvalidInput',
          ErrorMessage: `Finding does not adhere to Amazon Finding Format. data should have required property '${missing}'.`,
        });
        continue;
      }
      if (Buffer.byteLength(JSON.stringify(finding)) > MAX_FINDING_BYTES) {
        failed.push({
          Id: id,
          ErrorCode: 'InvalidInput',
          ErrorMessage: 'Finding exceeds the 240 KB size limit.',
        });
        continue;
      }
      const previous = store.get(id);
      const stored: AsffFinding = {
        RecordState: 'ACTIVE',
        Workflow: { Status: 'NEW' },
        Region: region,
        ...structuredClone(finding),
        ProcessedAt: now,
      };
      if (previous !== undefined) {
        for (const field of CUSTOMER_OWNED) {
          if (previous[field] === undefined) delete stored[field];
          else stored[field] = previous[field];
        }
      }
      store.set(id, stored);
      succeeded.push(id);
    }
    return { succeeded, failed };
  }

  /** The memory Security Hub's answers; undefined for operations it leaves to the upstream. */
  private memorySecurityHub(info: RequestInfo, body: Buffer, account: string): WireResponse | undefined {
    const region = info.region ?? 'unknown';
    const hubKey = `${account}/${region}`;
    const notSubscribed = (): WireResponse =>
      awsErrorResponse(
        info,
        401,
        'InvalidAccessException',
        `Account ${account} is not subscribed to AWS Security Hub`,
      );
    switch (info.operation) {
      case 'EnableSecurityHub':
        if (this.hubs.has(hubKey)) {
          return awsErrorResponse(
            info,
            409,
            'ResourceConflictException',
            'Account is already subscribed to Security Hub',
          );
        }
        this.hubs.set(hubKey, new Date().toISOString());
        return jsonResponse({});
      case 'DescribeHub': {
        const subscribedAt = this.hubs.get(hubKey);
        if (subscribedAt === undefined) return notSubscribed();
        return jsonResponse({
          HubArn: `arn:aws:securityhub:${region}:${account}:hub/default`,
          SubscribedAt: subscribedAt,
          AutoEnableControls: true,
          ControlFindingGenerator: 'SECURITY_CONTROL',
        });
      }
      case 'DisableSecurityHub':
        if (!this.hubs.delete(hubKey)) return notSubscribed();
        return jsonResponse({});
      case 'GetFindings': {
        if (this.options.requireEnabledHub && !this.hubs.has(hubKey)) return notSubscribed();
        const request = parseJson(body);
        if (!isRecord(request))
          return awsErrorResponse(info, 400, 'InvalidInputException', 'Invalid JSON body');
        const maxResults = request.MaxResults ?? 100;
        if (
          typeof maxResults !== 'number' ||
          !Number.isInteger(maxResults) ||
          maxResults < 1 ||
          maxResults > 100
        ) {
          return awsErrorResponse(
            info,
            400,
            'InvalidInputException',
            'MaxResults must be a number between 1 and 100',
          );
        }
        const offset = typeof request.NextToken === 'string' ? Number.parseInt(request.NextToken, 36) : 0;
        if (!Number.isInteger(offset) || offset < 0) {
          return awsErrorResponse(info, 400, 'InvalidInputException', 'The NextToken is invalid');
        }
        const all = [...(this.store.get(hubKey)?.values() ?? [])];
        const matched = filterFindings(all, request.Filters);
        if (typeof matched === 'string') return awsErrorResponse(info, 400, 'InvalidInputException', matched);
        const page = matched.slice(offset, offset + maxResults);
        const next = offset + maxResults < matched.length ? (offset + maxResults).toString(36) : undefined;
        return jsonResponse(next === undefined ? { Findings: page } : { Findings: page, NextToken: next });
      }
      default:
        return undefined;
    }
  }
}

/** Starts the fault-injecting AWS proxy on a free 127.0.0.1 port (see docs/adr/0010-fault-injecting-proxy.md). */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const parsed = parseOrThrow(optionsSchema, options);
  const proxy = new FaultProxyServer(parsed);
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    proxy.handle(req, res).catch((error: unknown) => {
      // A bug or a malformed exchange must cost one request, never the proxy.
      if (!res.headersSent && !res.destroyed) {
        send(res, {
          status: 500,
          headers: { 'content-type': 'application/json', 'x-amzn-errortype': 'InternalFailure' },
          body: JSON.stringify({ Code: 'InternalFailure', Message: `fault proxy error: ${String(error)}` }),
        });
      } else {
        res.destroy();
      }
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  });
  server.on('clientError', (_error, socket) => {
    if (socket.writable)
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(new FaultProxyError('listen_failed', String(error), { cause: error })),
    );
    server.listen({ host: '127.0.0.1', port: 0 }, resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  let stopping: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    setRules: (rules) => proxy.setRules(parseOrThrow(rulesSchema, rules)),
    stats: () => proxy.snapshot(),
    operationStats: (service, operation) => proxy.operationStats(service, operation),
    resetStats: () => proxy.resetStats(),
    memoryFindings: (accountId, region) => proxy.memoryFindings(accountId, region),
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        proxy.close();
      });
      return stopping;
    },
  };
}
