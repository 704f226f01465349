import { CANONICAL_TIMESTAMP, canonicalMs } from './action.ts';
import {
  ANOMALY_FINDING_TYPE,
  ASFF_LIMITS,
  type AsffFinding,
  COMPANY_NAME,
  FINDING_ID_PREFIX,
  FINDING_TYPE,
  PARTITIONS,
  PARTNER_PRODUCT_NAME,
  PRODUCT_FIELD_KEYS,
  PRODUCT_NAME,
} from './asff.ts';
import { isAccountId, isAwsRegion, isRfc3339DateTime } from './identifiers.ts';
import { type Rejection, reject } from './rejection.ts';
import { SEVERITY_LABELS } from './risk.ts';
import { utf8Length } from './sanitize.ts';

/** A finding that passed validation, with its serialized size (what batching needs). */
export interface ValidFinding {
  readonly finding: AsffFinding;
  /** UTF-8 size of the serialized finding: a safe upper bound below 64 KiB, exact above. */
  readonly bytes: number;
}

const EXACT_SIZE_ABOVE = 64 * 1024;

/**
 * An upper bound on the UTF-8 size of `JSON.stringify(value)` without serializing it: each UTF-16
 * unit of a string is at most 3 bytes once escaped (`"` and `\` become 2; control characters, which
 * would become 6, are refused by validation before this runs).
 */
export function jsonSizeBound(value: unknown): number {
  switch (typeof value) {
    case 'string':
      return 3 * value.length + 2;
    case 'number':
      return 24;
    case 'boolean':
      return 5;
    case 'object': {
      if (value === null) return 4;
      // Strings, most members, are sized inline rather than by a call each (a measured third of this).
      let size = 2;
      if (Array.isArray(value)) {
        for (const item of value)
          size += (typeof item === 'string' ? 3 * item.length + 2 : jsonSizeBound(item)) + 1;
        return size;
      }
      for (const key in value) {
        const item = (value as Record<string, unknown>)[key];
        if (typeof item === 'string') size += 3 * (key.length + item.length) + 6;
        else if (item !== undefined) size += 3 * key.length + 4 + jsonSizeBound(item);
      }
      return size;
    }
    default:
      return 0;
  }
}

export type ValidationResult = { ok: true; value: ValidFinding } | { ok: false; rejection: Rejection };

/**
 * The connector's own constant strings skip the per-string checks (a measured tenth of validation);
 * `validate.test.ts` proves each of them passes those checks.
 */
const KNOWN_PRODUCT_FIELD_KEYS: ReadonlySet<string> = new Set(PRODUCT_FIELD_KEYS);

const NAMESPACES = [
  'Software and Configuration Checks',
  'TTPs',
  'Effects',
  'Unusual Behaviors',
  'Sensitive Data Identifications',
];
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it detects
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const NON_BLANK = /\S/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it detects
const SUSPECT = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\ud800-\udfff]/;

/**
 * Checks a finding against Security Hub's contract (required members, enums, lengths, timestamps,
 * 240 KB) independently of how it was built. Returns the finding with its size, or a rejection.
 */
export function validateFinding(finding: AsffFinding): ValidationResult {
  const checked = checkFinding(finding);
  return typeof checked === 'number'
    ? { ok: true, value: { finding, bytes: checked } }
    : { ok: false, rejection: checked };
}

/**
 * validateFinding without the result wrappers (the pipeline's hot path): the finding's size in
 * bytes when it is valid, else the rejection.
 */
export function checkFinding(finding: AsffFinding): number | Rejection {
  const problem = findProblem(finding);
  if (problem !== undefined) return reject('INVALID_FINDING', 'validate', problem, actionIdOf(finding));
  // A cheap upper bound first (no serialization); the exact size only when the bound is near a limit.
  const bound = jsonSizeBound(finding);
  const bytes = bound <= EXACT_SIZE_ABOVE ? bound : utf8Length(JSON.stringify(finding));
  if (bytes > ASFF_LIMITS.findingBytes) {
    return reject(
      'FINDING_TOO_LARGE',
      'validate',
      `finding is ${bytes} bytes, over Security Hub's ${ASFF_LIMITS.findingBytes}`,
      actionIdOf(finding),
    );
  }
  return bytes;
}

/** The action id a rejected finding came from, when its Id has the connector's form. */
function actionIdOf(finding: AsffFinding): string | null {
  const id: unknown = finding.Id;
  return typeof id === 'string' && id.startsWith(FINDING_ID_PREFIX)
    ? id.slice(FINDING_ID_PREFIX.length)
    : null;
}

/** What is wrong with a string member of a finding (type, length, blank, controls, unicode), if anything. */
function text(name: string, value: unknown, max: number): string | undefined {
  if (typeof value !== 'string') return `${name} must be a string`;
  if (value.length > max) return `${name} is longer than ${max} characters`;
  // One scan for the common case: no control character and no surrogate at all means well-formed
  // too, and a printable ASCII first character means not blank (no second scan for that).
  const first = value.charCodeAt(0);
  if (!SUSPECT.test(value) && ((first > 0x20 && first < 0x7f) || NON_BLANK.test(value))) return undefined;
  if (!NON_BLANK.test(value)) return `${name} must not be blank`;
  if (CONTROL.test(value)) return `${name} contains control characters`;
  if (!value.isWellFormed()) return `${name} is not well-formed unicode`;
  return undefined;
}

export { text as textProblem };

let lastTimestamp = '';
let lastTimestampMs = Number.NaN;

/** Epoch ms of an RFC 3339 date-time, or NaN. The last valid one is remembered (UpdatedAt is one per run). */
function timestampMs(value: unknown): number {
  if (typeof value !== 'string') return Number.NaN;
  if (value === lastTimestamp) return lastTimestampMs;
  // The canonical form (every timestamp the mapper writes) by digit arithmetic, the rest by Date.parse,
  // but only after isRfc3339DateTime: Date.parse rolls Feb 30 and hour 24 over instead of refusing them.
  const ms =
    (CANONICAL_TIMESTAMP.test(value) ? canonicalMs(value) : null) ??
    (isRfc3339DateTime(value) ? Date.parse(value) : Number.NaN);
  if (!Number.isNaN(ms)) {
    lastTimestamp = value;
    lastTimestampMs = ms;
  }
  return ms;
}

function timestamp(name: string, value: unknown): string | undefined {
  return Number.isNaN(timestampMs(value)) ? `${name} must be an RFC 3339 date-time` : undefined;
}

// The last ARN found to be the default product of (region, account): one destination per run.
let checkedArn = { arn: '', region: '', account: '' };

/**
 * Whether the ARN is `arn:{partition}:securityhub:{region}:{account}:product/{account}/default`, or a
 * partner product of the finding's region, `arn:{partition}:securityhub:{region}:{partner account}:product/{company}/{product}`
 * (ADR 0121: Security Hub itself refuses a partner product the caller is not allow-listed for).
 */
function isDefaultProductArn(arn: string, region: string, account: string): boolean {
  const last = checkedArn;
  if (last.arn === arn && last.region === region && last.account === account) return true;
  const tail = `:securityhub:${region}:${account}:product/${account}/default`;
  const ok = PARTITIONS.some((p) => arn === `arn:${p}${tail}`) || isPartnerProductArn(arn, region);
  if (ok) checkedArn = { arn, region, account };
  return ok;
}

function isPartnerProductArn(arn: string, region: string): boolean {
  const parts = arn.split(':');
  if (parts.length !== 6) return false;
  const [scheme, partition, service, arnRegion, partnerAccount, resource] = parts;
  return (
    scheme === 'arn' &&
    (PARTITIONS as readonly string[]).includes(partition ?? '') &&
    service === 'securityhub' &&
    arnRegion === region &&
    isAccountId(partnerAccount ?? '') &&
    resource?.startsWith('product/') === true &&
    PARTNER_PRODUCT_NAME.test(resource.slice('product/'.length)) &&
    // Another account's default product is not a partner's: only the finding's own account may use it.
    !/^product\/\d{12}\/default$/.test(resource)
  );
}

function findProblem(f: AsffFinding): string | undefined {
  if (f.SchemaVersion !== '2018-10-08') return 'SchemaVersion must be 2018-10-08';
  const basics =
    text('Id', f.Id, ASFF_LIMITS.id) ??
    text('ProductArn', f.ProductArn, 2048) ??
    (f.ProductName === PRODUCT_NAME
      ? undefined
      : text('ProductName', f.ProductName, ASFF_LIMITS.productName)) ??
    (f.CompanyName === COMPANY_NAME
      ? undefined
      : text('CompanyName', f.CompanyName, ASFF_LIMITS.companyName)) ??
    text('Region', f.Region, ASFF_LIMITS.region) ??
    text('GeneratorId', f.GeneratorId, ASFF_LIMITS.generatorId) ??
    text('Title', f.Title, ASFF_LIMITS.title) ??
    text('Description', f.Description, ASFF_LIMITS.description);
  if (basics) return basics;
  const createdMs = timestampMs(f.CreatedAt);
  if (Number.isNaN(createdMs)) return 'CreatedAt must be an RFC 3339 date-time';
  const updatedMs = timestampMs(f.UpdatedAt);
  if (Number.isNaN(updatedMs)) return 'UpdatedAt must be an RFC 3339 date-time';
  const observed =
    (f.FirstObservedAt === f.CreatedAt ? undefined : timestamp('FirstObservedAt', f.FirstObservedAt)) ??
    (f.LastObservedAt === f.CreatedAt ? undefined : timestamp('LastObservedAt', f.LastObservedAt));
  if (observed) return observed;
  if (!f.Id.startsWith(FINDING_ID_PREFIX)) return `Id must start with ${FINDING_ID_PREFIX}`;
  if (!isAccountId(f.AwsAccountId)) return 'AwsAccountId must be 12 digits';
  if (!isAwsRegion(f.Region)) return 'Region is not an AWS region name';
  if (!isDefaultProductArn(f.ProductArn, f.Region, f.AwsAccountId)) {
    return "ProductArn must be the default product of the finding's account and region, or a partner product of its region";
  }
  if (updatedMs < createdMs) return 'UpdatedAt must not be before CreatedAt';
  if (!Array.isArray(f.Types) || f.Types.length < 1 || f.Types.length > 50)
    return 'Types must hold 1 to 50 entries';
  for (const t of f.Types) {
    if (t === FINDING_TYPE || t === ANOMALY_FINDING_TYPE) continue;
    const p = text('Types[]', t, 256);
    if (p) return p;
    if (!NAMESPACES.includes(t.slice(0, t.indexOf('/')))) return `Types entry "${t}" has no valid namespace`;
  }
  const sev = f.Severity;
  if (!sev || !SEVERITY_LABELS.includes(sev.Label)) return 'Severity.Label is not a severity label';
  if (!Number.isInteger(sev.Normalized) || sev.Normalized < 0 || sev.Normalized > 100) {
    return 'Severity.Normalized must be an integer 0-100';
  }
  const orig = text('Severity.Original', sev.Original, ASFF_LIMITS.severityOriginal);
  if (orig) return orig;
  if (
    f.Confidence !== undefined &&
    (!Number.isInteger(f.Confidence) || f.Confidence < 0 || f.Confidence > 100)
  ) {
    return 'Confidence must be an integer 0-100';
  }
  if (f.SourceUrl !== undefined) {
    const p = text('SourceUrl', f.SourceUrl, ASFF_LIMITS.sourceUrl);
    if (p) return p;
  }
  let entries = 0;
  for (const k in f.ProductFields) {
    if (++entries > ASFF_LIMITS.productFieldsEntries) return 'ProductFields has more than 50 entries';
    const p =
      (KNOWN_PRODUCT_FIELD_KEYS.has(k)
        ? undefined
        : text('ProductFields key', k, ASFF_LIMITS.productFieldKey)) ??
      text('ProductFields value', f.ProductFields[k], ASFF_LIMITS.productFieldValue);
    if (p) return p;
  }
  if (!Array.isArray(f.Resources) || f.Resources.length < 1 || f.Resources.length > 32) {
    return 'Resources must hold 1 to 32 entries';
  }
  for (const r of f.Resources) {
    const p =
      text('Resources[].Type', r.Type, ASFF_LIMITS.resourceType) ??
      text('Resources[].Id', r.Id, ASFF_LIMITS.resourceId) ??
      text('Resources[].Region', r.Region, ASFF_LIMITS.region);
    if (p) return p;
    if (!PARTITIONS.includes(r.Partition)) return 'Resources[].Partition is not an AWS partition';
    const other = r.Details?.Other;
    for (const k in other) {
      const q =
        text('Resources[].Details.Other key', k, ASFF_LIMITS.otherDetailKey) ??
        text('Resources[].Details.Other value', other[k], ASFF_LIMITS.otherDetailValue);
      if (q) return `${q} (key ${JSON.stringify(k.slice(0, 64))})`;
    }
  }
  const n = f.Network;
  if (n) {
    if (n.Direction !== undefined && n.Direction !== 'IN' && n.Direction !== 'OUT')
      return 'Network.Direction must be IN or OUT';
    for (const key of ['SourceIpV4', 'SourceIpV6', 'DestinationIpV4', 'DestinationIpV6'] as const) {
      const value = n[key];
      if (value !== undefined) {
        const p = text(`Network.${key}`, value, 45);
        if (p) return p;
      }
    }
    for (const key of ['SourceDomain', 'DestinationDomain'] as const) {
      const value = n[key];
      if (value !== undefined) {
        const p = text(`Network.${key}`, value, ASFF_LIMITS.networkDomain);
        if (p) return p;
      }
    }
  }
  if (f.Process) {
    if (f.Process.Name !== undefined) {
      const p = text('Process.Name', f.Process.Name, ASFF_LIMITS.processName);
      if (p) return p;
    }
    if (f.Process.Path !== undefined) {
      const p = text('Process.Path', f.Process.Path, ASFF_LIMITS.processPath);
      if (p) return p;
    }
  }
  const fp = f.FindingProviderFields;
  if (!fp || !SEVERITY_LABELS.includes(fp.Severity.Label))
    return 'FindingProviderFields.Severity.Label is invalid';
  return text('FindingProviderFields.Severity.Original', fp.Severity.Original, ASFF_LIMITS.severityOriginal);
}
