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
      'Open Rejected records in the Data443 connector to see why each was refused, and contact Data443 support with one of them if the reason is not one you can fix in Vaikora. This finding is archived once rejections fall below the threshold.',
  },
};

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

/** The stable id of a condition's finding for a tenant's destination (the same in every region's hub). */
export function healthFindingId(tenantId: string, destinationId: string, condition: HealthCondition): string {
  return `${HEALTH_FINDING_ID_PREFIX}${tenantId}/${destinationId}/${condition}`;
}

/** The `Types` entry of a condition's finding. */
export function healthFindingType(condition: HealthCondition): string {
  return `${HEALTH_FINDING_TYPE_PREFIX}${CONDITIONS[condition].typeName}`;
}

/** The severity a condition's finding carries (see ADR 0116 for why). */
export function healthSeverity(condition: HealthCondition): SeverityLabel {
  return CONDITIONS[condition].severity;
}

/** Builds the ASFF finding for one condition of one destination, ACTIVE while open and ARCHIVED once cleared. */
export function buildHealthFinding(input: HealthFindingInput): HealthFinding {
  const text = CONDITIONS[input.condition];
  const { destination } = input;
  const open = input.state === 'open';
  // UpdatedAt must not be before CreatedAt: a clock that stepped back does not make the finding invalid.
  const updatedAt = Date.parse(input.now) >= Date.parse(input.openedAt) ? input.now : input.openedAt;
  const types = [healthFindingType(input.condition)];
  const label = text.severity;
  const original = `connector-health/${input.condition}`;
  const facts = input.facts === undefined ? '' : safeText(input.facts, ASFF_LIMITS.description);
  const head = open ? text.problem : `Resolved at ${updatedAt}. ${text.problem}`;
  const description = safeTextOr(
    facts === '' ? head : `${head} Observed: ${facts}`,
    ASFF_LIMITS.description,
    text.problem,
  );
  return {
    SchemaVersion: ASFF_SCHEMA_VERSION,
    Id: healthFindingId(input.tenantId, input.destinationId, input.condition),
    ProductArn: productArn(destination),
    ProductName: PRODUCT_NAME,
    CompanyName: COMPANY_NAME,
    Region: destination.region,
    GeneratorId: `vaikora/connector-health/${input.condition}`,
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
      'vaikora/health_condition': input.condition,
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
