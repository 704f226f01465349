/**
 * Connector health findings (ADR 0116): when a tenant's connection breaks, the connector says so in
 * the tenant's own Security Hub, one finding per condition and destination, archived when the
 * condition clears. Pure: the time, the tenant and the facts come in as arguments.
 */
import type { VaikoraAction } from './action.ts';
import {
  ASFF_LIMITS,
  ASFF_SCHEMA_VERSION,
  type AsffFinding,
  COMPANY_NAME,
  type Destination,
  FINDING_ID_PREFIX,
  PRODUCT_NAME,
  productArn,
} from './asff.ts';
import type { PreparedFinding } from './pipeline.ts';
import { type Rejection, reject } from './rejection.ts';
import { NORMALIZED_BY_LABEL, type SeverityLabel } from './risk.ts';
import { safeText, safeTextOr } from './sanitize.ts';
import { checkFinding, textProblem } from './validate.ts';

/** The conditions a health finding reports: a closed set, each with its own finding per destination. */
export const HEALTH_CONDITIONS = [
  'vaikora_auth',
  'vaikora_unreachable',
  'retention_gap',
  'rejected_above_threshold',
] as const;
export type HealthCondition = (typeof HEALTH_CONDITIONS)[number];

/** Every health finding's Types entry starts with this; the condition's name follows. */
export const HEALTH_FINDING_TYPE_PREFIX = 'Software and Configuration Checks/Vaikora Connector Health/';

/**
 * Where health finding ids live: `vaikora-health {tenant}/{destination}/{condition}`. The space puts
 * them out of reach of action findings (`vaikora-{action id}`): the parser refuses an action id with
 * whitespace, so no action can ever overwrite a health finding or be overwritten by one.
 */
export const HEALTH_FINDING_ID_PREFIX = `${FINDING_ID_PREFIX}health `;

/** Security Hub's limit on `Remediation.Recommendation.Text`. */
export const REMEDIATION_TEXT_LIMIT = 512;

interface ConditionText {
  readonly typeName: string;
  readonly severity: SeverityLabel;
  readonly title: string;
  readonly problem: string;
  readonly remediation: string;
}

// Severity (ADR 0116): a refused key or an unreachable Vaikora stops every finding of the tenant (HIGH);
// a retention gap loses some actions for good but the connection works (MEDIUM); rejected records are
// individual actions kept for review in the console (LOW).
const CONDITIONS: Readonly<Record<HealthCondition, ConditionText>> = {
  vaikora_auth: {
    typeName: 'Vaikora API Key Refused',
    severity: 'HIGH',
    title: 'Vaikora connector: Vaikora refused the API key',
    problem:
      'Vaikora refused the API key this connector uses for the tenant (HTTP 401 or 403). No AI agent action reaches Security Hub until the key is accepted again.',
    remediation:
      'Create a new API key in the Vaikora console (or renew the expired one) and save it in the Data443 connector under Settings > Vaikora connection. The next run uses it and archives this finding once Vaikora accepts the key.',
  },
  vaikora_unreachable: {
    typeName: 'Vaikora Unreachable',
    severity: 'HIGH',
    title: 'Vaikora connector: Vaikora has been unreachable',
    problem:
      'The connector has not reached Vaikora for longer than its threshold. No AI agent action reaches Security Hub meanwhile; the connector catches up when Vaikora answers, within Vaikora\u2019s retention.',
    remediation:
      'Check the Vaikora base URL in the Data443 connector under Settings > Vaikora connection and Vaikora\u2019s service status. If your Vaikora is behind a firewall, allow the connector\u2019s egress addresses. This finding is archived once a run reaches Vaikora.',
  },
  retention_gap: {
    typeName: 'Retention Gap',
    severity: 'MEDIUM',
    title: 'Vaikora connector: some actions may have expired before they were read',
    problem:
      'The connector fell behind by more than Vaikora\u2019s retention: actions in the period named below may have expired from Vaikora before they could be imported.',
    remediation:
      'Review the period named in the description in the Vaikora console, which may still show a summary. Keep the connector running on schedule (the status page shows its last runs); this finding is archived once the connector is within retention again.',
  },
  rejected_above_threshold: {
    typeName: 'Rejected Records',
    severity: 'LOW',
    title: 'Vaikora connector: many records could not become findings',
    problem:
      'More of Vaikora\u2019s records than the threshold could not be turned into findings or were refused by Security Hub; they are kept for review and are not in Security Hub.',
    remediation:
      'Open Rejected records in the Data443 connector (or GET /v1/tenants/{tenantId}/rejected-records of its API) to see why each was refused, and contact Data443 support with one of them if the reason is not one you can fix in Vaikora. This finding is archived by the first complete run whose rejections are below the threshold.',
  },
};

/** The heartbeat (ADR 0118): not a condition, a sign of life the SOC alerts on when it goes stale. */
const HEARTBEAT: ConditionText = {
  typeName: 'Heartbeat',
  severity: 'INFORMATIONAL',
  title: 'Vaikora connector: heartbeat',
  problem:
    'The Data443 Vaikora connector runs for this account and can import into this Security Hub. It updates this finding about once an hour; an UpdatedAt older than two hours means the connector no longer reaches this hub.',
  remediation:
    'No action while UpdatedAt is recent. Alert on this finding\u2019s UpdatedAt being older than two hours; then open the connector\u2019s status page, which shows the destination\u2019s last error. Turn the heartbeat off in the connector under Destinations to stop it.',
};

/**
 * The delivery check (ADR 0121): what verifying a partner-product destination imports into each of
 * its hubs to learn whether the hub takes the product's findings. ARCHIVED at once: nothing to act on.
 */
const DELIVERY_CHECK: ConditionText = {
  typeName: 'Delivery Check',
  severity: 'INFORMATIONAL',
  title: 'Vaikora connector: delivery to this Security Hub checked',
  problem:
    'Data443 checked that this Security Hub accepts findings from the Data443 Vaikora product when the account was verified. This finding is archived at once: it records the check and needs no action.',
  remediation: 'No action needed. Findings of Vaikora AI agent actions arrive under the same product.',
};

/** The `condition` segment of the delivery check finding's id and its ProductFields. */
export const DELIVERY_CHECK_KIND = 'delivery_check';

/** What the delivery check finding of one destination's hub says. */
export interface DeliveryCheckFindingInput {
  readonly tenantId: string;
  readonly destinationId: string;
  readonly destination: Destination;
  readonly now: string;
}

/** Builds the delivery check finding of one destination's hub (ADR 0121): ARCHIVED, INFORMATIONAL. */
export function buildDeliveryCheckFinding(input: DeliveryCheckFindingInput): HealthFinding {
  return build(
    { ...input, state: 'cleared', openedAt: input.now, facts: undefined },
    DELIVERY_CHECK_KIND,
    DELIVERY_CHECK,
  );
}

/** The `condition` segment of the heartbeat finding's id and its ProductFields: never a HealthCondition. */
export const HEARTBEAT_KIND = 'heartbeat';

/** How often the heartbeat finding is imported again at most (each import is billed to the customer). */
export const HEARTBEAT_INTERVAL_MS = 60 * 60_000;

/**
 * When a run's rejected records open `rejected_above_threshold` (ADR 0118): at least `minRecords` new
 * rejections and at least `minShare` of the records read, or `alwaysAt` new rejections whatever the share.
 */
export interface RejectedRecordsThreshold {
  readonly minRecords: number;
  readonly minShare: number;
  readonly alwaysAt: number;
}

/** The defaults of the rejected-records threshold, in one place (reasoned in ADR 0118). */
export const DEFAULT_REJECTED_RECORDS_THRESHOLD: RejectedRecordsThreshold = {
  minRecords: 10,
  minShare: 0.05,
  alwaysAt: 1000,
};

/** What a run saw of rejected records: new rejections, every record read (parsed or not), the stages. */
export interface RejectedRecordsTally {
  readonly rejected: number;
  readonly read: number;
  readonly stages: readonly string[];
}

/** True when a run's rejected records are above the threshold (the `rejected_above_threshold` condition). */
export function rejectedAboveThreshold(
  tally: Pick<RejectedRecordsTally, 'rejected' | 'read'>,
  threshold: RejectedRecordsThreshold = DEFAULT_REJECTED_RECORDS_THRESHOLD,
): boolean {
  const { rejected, read } = tally;
  if (!(rejected > 0)) return false;
  if (rejected >= threshold.alwaysAt) return true;
  return rejected >= threshold.minRecords && rejected >= threshold.minShare * Math.max(read, rejected);
}

const STAGE_NAME = /^[a-z][a-z_-]{0,31}$/;

/**
 * The facts of a `rejected_above_threshold` finding: counts and stage names only, never a record's
 * content (records are hostile input). A stage that is not a plain name is left out.
 */
export function rejectedRecordsFacts(tally: RejectedRecordsTally): string {
  const stages = [...new Set(tally.stages.filter((s) => STAGE_NAME.test(s)))].sort().slice(0, 8);
  const read = Math.max(tally.read, tally.rejected);
  const counts = `${Math.trunc(tally.rejected)} of ${Math.trunc(read)} records read in one run were rejected`;
  return stages.length === 0 ? `${counts}.` : `${counts} (stages: ${stages.join(', ')}).`;
}

/** What a health finding says about one condition of one tenant's destination. */
export interface HealthFindingInput {
  readonly tenantId: string;
  readonly destinationId: string;
  /** The destination's account, partition and the region of the hub this finding goes to. */
  readonly destination: Destination;
  readonly condition: HealthCondition;
  /** `open`: the condition holds (ACTIVE); `cleared`: it no longer does (ARCHIVED). */
  readonly state: 'open' | 'cleared';
  /** RFC 3339 UTC time the condition was first seen: CreatedAt and FirstObservedAt, kept when it clears. */
  readonly openedAt: string;
  /** RFC 3339 UTC time of this import: UpdatedAt (and LastObservedAt while open). */
  readonly now: string;
  /** What was observed (an error code and message, a period, a count), shown in the description. */
  readonly facts?: string | undefined;
}

/** A health finding: the action findings' shape, plus archiving and Remediation. */
export interface HealthFinding extends Omit<AsffFinding, 'RecordState'> {
  RecordState: 'ACTIVE' | 'ARCHIVED';
  Remediation: { Recommendation: { Text: string } };
}

/** The stable id of a condition's (or the heartbeat's) finding for a tenant's destination, the same in every region's hub. */
export function healthFindingId(
  tenantId: string,
  destinationId: string,
  condition: HealthCondition | typeof HEARTBEAT_KIND | typeof DELIVERY_CHECK_KIND,
): string {
  return `${HEALTH_FINDING_ID_PREFIX}${tenantId}/${destinationId}/${condition}`;
}

/** The `Types` entry of a condition's (or the heartbeat's) finding. */
export function healthFindingType(condition: HealthCondition | typeof HEARTBEAT_KIND): string {
  const text = condition === HEARTBEAT_KIND ? HEARTBEAT : CONDITIONS[condition];
  return `${HEALTH_FINDING_TYPE_PREFIX}${text.typeName}`;
}

/** The severity a condition's finding carries (see ADR 0116 for why). */
export function healthSeverity(condition: HealthCondition): SeverityLabel {
  return CONDITIONS[condition].severity;
}

/** Builds the ASFF finding for one condition of one destination, ACTIVE while open and ARCHIVED once cleared. */
export function buildHealthFinding(input: HealthFindingInput): HealthFinding {
  return build(input, input.condition, CONDITIONS[input.condition]);
}

/** What the heartbeat finding of one destination's hub says: who, where, since when, and now. */
export type HeartbeatFindingInput = Omit<HealthFindingInput, 'condition' | 'facts'>;

/**
 * Builds the heartbeat finding of one destination's hub (ADR 0118): INFORMATIONAL, ACTIVE while the
 * heartbeat is on (its UpdatedAt is what a SOC alerts on), ARCHIVED once it is turned off.
 */
export function buildHeartbeatFinding(input: HeartbeatFindingInput): HealthFinding {
  return build({ ...input, facts: undefined }, HEARTBEAT_KIND, HEARTBEAT);
}

function build(
  input: Omit<HealthFindingInput, 'condition'>,
  condition: HealthCondition | typeof HEARTBEAT_KIND | typeof DELIVERY_CHECK_KIND,
  text: ConditionText,
): HealthFinding {
  const { destination } = input;
  const open = input.state === 'open';
  // UpdatedAt must not be before CreatedAt: a clock that stepped back does not make the finding invalid.
  const updatedAt = Date.parse(input.now) >= Date.parse(input.openedAt) ? input.now : input.openedAt;
  const types = [`${HEALTH_FINDING_TYPE_PREFIX}${text.typeName}`];
  const label = text.severity;
  const original = `connector-health/${condition}`;
  const facts = input.facts === undefined ? '' : safeText(input.facts, ASFF_LIMITS.description);
  const head = open ? text.problem : `Resolved at ${updatedAt}. ${text.problem}`;
  const description = safeTextOr(
    facts === '' ? head : `${head} Observed: ${facts}`,
    ASFF_LIMITS.description,
    text.problem,
  );
  return {
    SchemaVersion: ASFF_SCHEMA_VERSION,
    Id: healthFindingId(input.tenantId, input.destinationId, condition),
    ProductArn: productArn(destination),
    ProductName: PRODUCT_NAME,
    CompanyName: COMPANY_NAME,
    Region: destination.region,
    GeneratorId: `vaikora/connector-health/${condition}`,
    AwsAccountId: destination.accountId,
    Types: types,
    CreatedAt: input.openedAt,
    UpdatedAt: updatedAt,
    FirstObservedAt: input.openedAt,
    LastObservedAt: updatedAt,
    Severity: { Label: label, Normalized: NORMALIZED_BY_LABEL[label], Original: original },
    Title: open ? text.title : `Resolved: ${text.title}`,
    Description: description,
    ProductFields: {
      'vaikora/health_condition': condition,
      'vaikora/tenant_id': safeTextOr(input.tenantId, ASFF_LIMITS.productFieldValue, 'unknown'),
      'vaikora/destination_id': safeTextOr(input.destinationId, ASFF_LIMITS.productFieldValue, 'unknown'),
    },
    Resources: [
      {
        Type: 'AwsAccount',
        Id: `AWS::::Account:${destination.accountId}`,
        Partition: destination.partition,
        Region: destination.region,
      },
    ],
    RecordState: open ? 'ACTIVE' : 'ARCHIVED',
    Remediation: { Recommendation: { Text: text.remediation } },
    FindingProviderFields: { Severity: { Label: label, Original: original }, Types: types },
  };
}

/**
 * Checks a health finding with the project's ASFF validator (which knows action findings, so it sees
 * the finding as ACTIVE) and the two members only health findings carry. Its size in bytes, or why not.
 */
export function checkHealthFinding(finding: HealthFinding): number | Rejection {
  const problem =
    (finding.RecordState === 'ACTIVE' || finding.RecordState === 'ARCHIVED'
      ? undefined
      : 'RecordState must be ACTIVE or ARCHIVED') ??
    textProblem(
      'Remediation.Recommendation.Text',
      finding.Remediation?.Recommendation?.Text,
      REMEDIATION_TEXT_LIMIT,
    ) ??
    (finding.Id.startsWith(HEALTH_FINDING_ID_PREFIX) ? undefined : 'Id is not a health finding id') ??
    (finding.Types.every((t) => t.startsWith(HEALTH_FINDING_TYPE_PREFIX))
      ? undefined
      : 'Types must be connector health types');
  if (problem !== undefined) return reject('INVALID_FINDING', 'validate', problem, null);
  return checkFinding({ ...finding, RecordState: 'ACTIVE' });
}

/**
 * A health finding in the shape the importer takes (a prepared action finding), or why it cannot be
 * sent. `action` only names the finding in a rejection: there is no Vaikora action behind it.
 */
export function prepareHealthFinding(
  finding: HealthFinding,
): { ok: true; value: PreparedFinding } | { ok: false; rejection: Rejection } {
  const bytes = checkHealthFinding(finding);
  if (typeof bytes !== 'number') return { ok: false, rejection: bytes };
  // The importer sends `finding` as it is; AsffFinding types only what action findings carry
  // (RecordState ACTIVE, no Remediation), which Security Hub's BatchImportFindings takes alike.
  const asImported = finding as unknown as AsffFinding;
  return { ok: true, value: { finding: asImported, bytes, action: stubAction(finding) } };
}

function stubAction(finding: HealthFinding): VaikoraAction {
  return {
    id: finding.Id.slice(FINDING_ID_PREFIX.length),
    timestamp: finding.UpdatedAt,
    timestampMs: Date.parse(finding.UpdatedAt),
    agentId: undefined,
    actionType: undefined,
    resourceType: undefined,
    resourceId: undefined,
    status: undefined,
    riskLevel: undefined,
    riskLevelSource: 'none',
    riskScore: undefined,
    policyId: undefined,
    policyDecision: undefined,
    isAnomaly: false,
    anomalyScore: undefined,
    anomalyReason: undefined,
    threatDetected: false,
    threatScore: undefined,
    logHash: undefined,
    title: undefined,
    description: undefined,
    userName: undefined,
    sourceIp: undefined,
    sourceHost: undefined,
    destinationIp: undefined,
    destinationHost: undefined,
    url: undefined,
    target: undefined,
    processName: undefined,
    filePath: undefined,
    confidenceScore: undefined,
    extra: {},
    warnings: [],
  };
}
