import { z } from 'zod';
import { type Rejection, reject } from './rejection.ts';
import { RISK_LEVELS, type RiskLevel, riskLevelFromScore } from './risk.ts';

/** Where an action's risk level came from. */
export type RiskLevelSource = 'risk_level' | 'severity' | 'risk_score' | 'none';

/** A Vaikora agent action after parsing: typed, normalized, with unknown fields kept in `extra`. */
export interface VaikoraAction {
  readonly id: string;
  /** RFC 3339 UTC with milliseconds (`2026-01-02T03:04:05.000Z`). */
  readonly timestamp: string;
  readonly timestampMs: number;
  readonly agentId: string | undefined;
  readonly actionType: string | undefined;
  readonly resourceType: string | undefined;
  readonly resourceId: string | undefined;
  readonly status: string | undefined;
  /** The level as sent (`risk_level` or its alias `severity`), or derived from `risk_score`. */
  readonly riskLevel: RiskLevel | undefined;
  readonly riskLevelSource: RiskLevelSource;
  readonly riskScore: number | undefined;
  readonly policyId: string | undefined;
  readonly policyDecision: string | undefined;
  readonly isAnomaly: boolean;
  readonly anomalyScore: number | undefined;
  readonly anomalyReason: string | undefined;
  readonly threatDetected: boolean;
  readonly threatScore: number | undefined;
  readonly logHash: string | undefined;
  readonly title: string | undefined;
  readonly description: string | undefined;
  readonly userName: string | undefined;
  readonly sourceIp: string | undefined;
  readonly sourceHost: string | undefined;
  readonly destinationIp: string | undefined;
  readonly destinationHost: string | undefined;
  readonly url: string | undefined;
  readonly target: string | undefined;
  readonly processName: string | undefined;
  readonly filePath: string | undefined;
  readonly confidenceScore: number | undefined;
  /** Fields this connector does not know; kept, never dropped. */
  readonly extra: Readonly<Record<string, unknown>>;
  /** Fields that were present but unusable (wrong type, out of range), by name and why. */
  readonly warnings: readonly string[];
}

export type ParseResult = { ok: true; action: VaikoraAction } | { ok: false; rejection: Rejection };

/** Longest action id that still fits the finding id `vaikora-{id}` (512 characters). */
export const MAX_ACTION_ID_LENGTH = 512 - 'vaikora-'.length;

const numericString = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const stringField = z.union([z.string(), z.number().transform(String), z.bigint().transform(String)]);
/**
 * An id sent as a number must be an integer a double holds exactly: 1.0000000000000001 and 1, or 1e400
 * and 2e400, would be one id (one finding, one action lost). Larger integers reach here as their digits
 * (the Vaikora page reader keeps them).
 */
const idField = z.union([
  z.string(),
  z
    .number()
    .refine(Number.isSafeInteger, 'an id sent as a number must be a whole number below 2^53')
    .transform(String),
  z.bigint().transform(String),
]);
const numberField = z.union([
  z.number(),
  z
    .string()
    .trim()
    .regex(numericString)
    .transform((s) => Number(s)),
]);
const booleanField = z.union([
  z.boolean(),
  z.literal(1).transform(() => true),
  z.literal(0).transform(() => false),
  z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(['true', 'false', 'yes', 'no', '1', '0']))
    .transform((s) => s === 'true' || s === 'yes' || s === '1'),
]);
const riskLevelField = z.string().trim().toLowerCase().pipe(z.enum(RISK_LEVELS));
/**
 * The envelope: a record must at least be a JSON object. A predicate rather than `z.record`, which
 * copies every key of every record (measured: a third of the parse time).
 */
function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
const RISK_LEVEL_SET: ReadonlySet<string> = new Set(RISK_LEVELS);

const iso8601 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;
/** `YYYY-MM-DDTHH:MM:SS.mmmZ`: the form parsing gives every timestamp. */
export const CANONICAL_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const MIN_TIMESTAMP_MS = Date.UTC(1970, 0, 1);
const MAX_TIMESTAMP_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** Field names the parser understands; everything else goes to `extra`. */
const KNOWN_FIELDS = [
  'id',
  'timestamp',
  'agent_id',
  'action_type',
  'resource_type',
  'resource_id',
  'status',
  'risk_level',
  'severity',
  'risk_score',
  'policy_id',
  'policy_decision',
  'is_anomaly',
  'anomaly_score',
  'anomaly_reason',
  'threat_detected',
  'threat_score',
  'log_hash',
  'ip_address',
  'target_ip',
  'url',
  'target_url',
  'target',
  'title',
  'description',
  'user_name',
  'source_ip',
  'source_host',
  'destination_ip',
  'destination_host',
  'process_name',
  'file_path',
  'confidence_score',
] as const;
type KnownField = (typeof KNOWN_FIELDS)[number];
const FIELD_INDEX: ReadonlyMap<string, number> = new Map(KNOWN_FIELDS.map((name, i) => [name, i]));
/**
 * The record's known fields by index, filled by one pass over its keys. Reading each of ~35 names
 * off records of many shapes (what JSON.parse gives) was the costliest part of parsing; one pass
 * over the keys a record actually has, with an index lookup each, is cheaper. Reused across calls
 * (parseAction is synchronous and not re-entrant).
 */
const SLOTS: unknown[] = new Array(KNOWN_FIELDS.length).fill(undefined);

/** Index of each known field in SLOTS. */
const F = Object.fromEntries(KNOWN_FIELDS.map((name, i) => [name, i])) as {
  readonly [K in KnownField]: number;
};

/**
 * Parses a timestamp: an ISO 8601 string (a missing zone means UTC) or epoch seconds/milliseconds.
 * Returns epoch milliseconds, or a reason.
 */
export function parseTimestamp(value: unknown): number | string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return 'is not a finite number';
    const ms = Math.abs(value) < 1e11 ? value * 1000 : value;
    if (ms < MIN_TIMESTAMP_MS || ms > MAX_TIMESTAMP_MS) return 'is out of range';
    return Math.trunc(ms);
  }
  if (typeof value !== 'string') return `must be an ISO 8601 string, got ${typeName(value)}`;
  if (CANONICAL_TIMESTAMP.test(value)) {
    // Already in the canonical form (the common case): read the fields directly, no Date parsing.
    const ms = canonicalMs(value);
    if (ms !== null) return ms;
  }
  const trimmed = value.trim();
  if (numericString.test(trimmed)) return parseTimestamp(Number(trimmed));
  const m = iso8601.exec(trimmed);
  if (!m) return 'is not an ISO 8601 date-time';
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', zone = 'Z'] = m;
  const offset = zone === 'Z' || zone === 'z' ? 'Z' : normalizeOffset(zone);
  // A leap second (23:59:60, valid RFC 3339) is read as the last millisecond before it: Date cannot hold it.
  const leapSecond = s === '60';
  const canonical = `${y}-${mo}-${d}T${h}:${mi}:${leapSecond ? '59.999' : `${s}${frac.slice(0, 4)}`}${offset}`;
  const ms = Date.parse(canonical);
  if (Number.isNaN(ms)) return 'is not a valid calendar date-time';
  // Date.parse rolls invalid days over (Feb 30); reject those by round-tripping the date part, in the
  // timestamp's own offset.
  const offsetMs =
    offset === 'Z'
      ? 0
      : (offset[0] === '-' ? -1 : 1) *
        (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6))) *
        60_000;
  if (new Date(ms + offsetMs).toISOString().slice(0, 10) !== `${y}-${mo}-${d}`) {
    return 'is not a valid calendar date';
  }
  if (ms < MIN_TIMESTAMP_MS || ms > MAX_TIMESTAMP_MS) return 'is out of range';
  return ms;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The number written by the ASCII digits of value[start, end) (the caller checked they are digits). */
function digits(value: string, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) n = n * 10 + (value.charCodeAt(i) - 48);
  return n;
}

/** Epoch ms of a CANONICAL_TIMESTAMP string, or null when a field is out of range (Feb 30, hour 24). */
export function canonicalMs(value: string): number | null {
  // Digit arithmetic rather than Number(value.slice(...)): no string per field on the hot path.
  const year = digits(value, 0, 4);
  const month = digits(value, 5, 7);
  const day = digits(value, 8, 10);
  const hour = digits(value, 11, 13);
  const minute = digits(value, 14, 16);
  const second = digits(value, 17, 19);
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
  if (month < 1 || day < 1 || day > days || hour > 23 || minute > 59 || second > 59) return null;
  const ms = Date.UTC(year, month - 1, day, hour, minute, second, digits(value, 20, 23));
  return ms < MIN_TIMESTAMP_MS || ms > MAX_TIMESTAMP_MS ? null : ms;
}

function normalizeOffset(zone: string): string {
  const digits = zone.slice(1).replace(':', '');
  const hh = digits.slice(0, 2);
  const mm = digits.length > 2 ? digits.slice(2, 4) : '00';
  return `${zone[0]}${hh}:${mm}`;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/**
 * Parses one Vaikora action record. Never throws: a record that cannot become a finding
 * (not an object, no usable id, no usable timestamp) is returned as a rejection with its reason;
 * an unusable optional field is dropped and named in `warnings`.
 */
export function parseAction(raw: unknown): ParseResult {
  // The envelope and the id are checked by plain predicates on the hot path (a zod call per record
  // was a measured fifth of the parse time); zod still parses every value that is not plainly typed.
  if (!isRecord(raw)) {
    return {
      ok: false,
      rejection: reject(
        'MALFORMED_RECORD',
        'parse',
        `record must be a JSON object, got ${typeName(raw)}`,
        null,
        raw,
      ),
    };
  }
  const rec = raw;
  if (rec.id === undefined || rec.id === null) {
    return { ok: false, rejection: reject('MISSING_ID', 'parse', 'record has no id', null, raw) };
  }
  const idResult = typeof rec.id === 'string' ? null : idField.safeParse(rec.id);
  if (idResult !== null && !idResult.success) {
    const reason =
      typeof rec.id === 'number'
        ? `id ${rec.id} is a number that is not a whole number below 2^53; send it as a string`
        : `id must be a string, got ${typeName(rec.id)}`;
    return { ok: false, rejection: reject('INVALID_ID', 'parse', reason, null, raw) };
  }
  // Never trimmed: "act-1 " and "act-1" are two ids, and one trimmed into the other would be dropped as a
  // repeat of it; an id with whitespace around it is refused below, with its reason.
  const id = idResult === null ? (rec.id as string) : idResult.data;
  const idProblem = checkId(id);
  if (idProblem) {
    return {
      ok: false,
      rejection: reject('INVALID_ID', 'parse', `id ${idProblem}`, safeIdForReport(id), raw),
    };
  }
  if (rec.timestamp === undefined || rec.timestamp === null || rec.timestamp === '') {
    return { ok: false, rejection: reject('MISSING_TIMESTAMP', 'parse', 'record has no timestamp', id, raw) };
  }
  const ts = parseTimestamp(rec.timestamp);
  if (typeof ts === 'string') {
    return { ok: false, rejection: reject('INVALID_TIMESTAMP', 'parse', `timestamp ${ts}`, id, raw) };
  }
  const timestamp =
    typeof rec.timestamp === 'string' && CANONICAL_TIMESTAMP.test(rec.timestamp)
      ? rec.timestamp
      : new Date(ts).toISOString();

  // One pass over the record's keys: known fields into SLOTS, the rest into `extra`.
  SLOTS.fill(undefined);
  let extra: Record<string, unknown> = NO_EXTRA;
  for (const key in rec) {
    const index = FIELD_INDEX.get(key);
    if (index !== undefined) {
      SLOTS[index] = rec[key];
      continue;
    }
    if (extra === NO_EXTRA) extra = {};
    // defineProperty, not assignment: a record's own "__proto__" key must stay data, not become a prototype.
    if (key === '__proto__') {
      Object.defineProperty(extra, key, {
        value: rec[key],
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else extra[key] = rec[key];
  }

  // Plain calls rather than per-record closures: a closure per field reader per record was a
  // measured tenth of the parse time (allocation, and tsx's keepNames wrapper on each).
  const warnings = SCRATCH_WARNINGS;
  warnings.length = 0;
  const riskScore = readNumber(SLOTS[F.risk_score], 'risk_score', 0, 100, warnings);
  const explicitLevel = readLevel(SLOTS[F.risk_level], 'risk_level', warnings);
  const aliasLevel =
    explicitLevel === undefined ? readLevel(SLOTS[F.severity], 'severity', warnings) : undefined;
  let riskLevel: RiskLevel | undefined;
  let riskLevelSource: RiskLevelSource = 'none';
  if (explicitLevel !== undefined) {
    riskLevel = explicitLevel;
    riskLevelSource = 'risk_level';
  } else if (aliasLevel !== undefined) {
    riskLevel = aliasLevel;
    riskLevelSource = 'severity';
  } else if (riskScore !== undefined) {
    riskLevel = riskLevelFromScore(riskScore);
    riskLevelSource = 'risk_score';
  }

  const action: VaikoraAction = {
    id,
    timestamp,
    timestampMs: ts,
    agentId: readString(SLOTS[F.agent_id], 'agent_id', warnings),
    actionType: readString(SLOTS[F.action_type], 'action_type', warnings),
    resourceType: readString(SLOTS[F.resource_type], 'resource_type', warnings),
    resourceId: readString(SLOTS[F.resource_id], 'resource_id', warnings),
    status: readString(SLOTS[F.status], 'status', warnings),
    riskLevel,
    riskLevelSource,
    riskScore,
    policyId: readString(SLOTS[F.policy_id], 'policy_id', warnings),
    policyDecision: readString(SLOTS[F.policy_decision], 'policy_decision', warnings),
    isAnomaly: readBoolean(SLOTS[F.is_anomaly], 'is_anomaly', warnings),
    anomalyScore: readNumber(
      SLOTS[F.anomaly_score],
      'anomaly_score',
      Number.NEGATIVE_INFINITY,
      Number.POSITIVE_INFINITY,
      warnings,
    ),
    anomalyReason: readString(SLOTS[F.anomaly_reason], 'anomaly_reason', warnings),
    threatDetected: readBoolean(SLOTS[F.threat_detected], 'threat_detected', warnings),
    threatScore: readNumber(SLOTS[F.threat_score], 'threat_score', 0, 1, warnings),
    logHash: readString(SLOTS[F.log_hash], 'log_hash', warnings),
    title: readString(SLOTS[F.title], 'title', warnings),
    description: readString(SLOTS[F.description], 'description', warnings),
    userName: readString(SLOTS[F.user_name], 'user_name', warnings),
    sourceIp:
      readString(SLOTS[F.source_ip], 'source_ip', warnings) ??
      readString(SLOTS[F.ip_address], 'ip_address', warnings),
    sourceHost: readString(SLOTS[F.source_host], 'source_host', warnings),
    destinationIp:
      readString(SLOTS[F.destination_ip], 'destination_ip', warnings) ??
      readString(SLOTS[F.target_ip], 'target_ip', warnings),
    destinationHost: readString(SLOTS[F.destination_host], 'destination_host', warnings),
    url: readString(SLOTS[F.target_url], 'target_url', warnings) ?? readString(SLOTS[F.url], 'url', warnings),
    target: readString(SLOTS[F.target], 'target', warnings),
    processName: readString(SLOTS[F.process_name], 'process_name', warnings),
    filePath: readString(SLOTS[F.file_path], 'file_path', warnings),
    confidenceScore: readNumber(SLOTS[F.confidence_score], 'confidence_score', 0, 100, warnings),
    extra,
    warnings: warnings.length === 0 ? NO_WARNINGS : warnings.slice(),
  };
  return { ok: true, action };
}

const NO_EXTRA: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;
const NO_WARNINGS: readonly string[] = Object.freeze([]);
/**
 * Warnings of the record being parsed, copied out only when there are some. Reused across calls
 * (parseAction is synchronous and not re-entrant) so the common record allocates no array.
 */
const SCRATCH_WARNINGS: string[] = [];

function readLevel(value: unknown, name: string, warnings: string[]): RiskLevel | undefined {
  return typeof value === 'string' && RISK_LEVEL_SET.has(value)
    ? (value as RiskLevel)
    : optional(value, name, riskLevelField, warnings);
}

function readString(value: unknown, name: string, warnings: string[]): string | undefined {
  return typeof value === 'string' && value !== ''
    ? value
    : optional(value, name, stringField, warnings, 'string');
}

function readNumber(
  value: unknown,
  name: string,
  min: number,
  max: number,
  warnings: string[],
): number | undefined {
  const n = optional(value, name, numberField, warnings, 'number');
  if (n === undefined) return undefined;
  if (!Number.isFinite(n) || n < min || n > max) {
    warnings.push(`${name}: ${n} is outside ${min}..${max}`);
    return undefined;
  }
  return n;
}

function readBoolean(value: unknown, name: string, warnings: string[]): boolean {
  return typeof value === 'boolean'
    ? value
    : (optional(value, name, booleanField, warnings, 'boolean') ?? false);
}

/**
 * Reads an optional field through its zod schema. `fast` names the JS type that the schema passes
 * through unchanged, so the common, already well-typed value skips the schema (a measured 2x on
 * the mapping benchmark); every other value goes through zod.
 */
function optional<T>(
  value: unknown,
  name: string,
  schema: z.ZodType<T>,
  warnings: string[],
  fast?: 'string' | 'number' | 'boolean',
): T | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (fast !== undefined && typeof value === fast) return value as T;
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  warnings.push(`${name}: unusable ${typeName(value)} value`);
  return undefined;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it detects
const ID_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\s]/;
const SURROGATE = /[\ud800-\udfff]/;

function checkId(id: string): string | undefined {
  if (id.length === 0) return 'is empty';
  if (id.length > MAX_ACTION_ID_LENGTH) return `is longer than ${MAX_ACTION_ID_LENGTH} characters`;
  // Ids key findings and appear in ARNs-like strings: control and separator characters are refused
  // rather than rewritten, because rewriting could make two actions share a finding.
  if (ID_UNSAFE.test(id)) return 'contains whitespace or control characters';
  if (SURROGATE.test(id) && !id.isWellFormed()) return 'is not well-formed unicode';
  // U+FFFD is what bytes that are not UTF-8 decode to: act-\xff and act-\xfe would be one id.
  if (id.includes('\ufffd')) return 'contains U+FFFD (bytes that were not UTF-8)';
  return undefined;
}

function safeIdForReport(id: string): string | null {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it removes
  const cleaned = id.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?').slice(0, 128);
  return cleaned.length > 0 ? cleaned : null;
}
