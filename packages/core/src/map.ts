import type { VaikoraAction } from './action.ts';
import {
  ANOMALY_FINDING_TYPE,
  ASFF_LIMITS,
  ASFF_SCHEMA_VERSION,
  type AsffFinding,
  type AsffNetwork,
  type AsffProcess,
  COMPANY_NAME,
  type Destination,
  FINDING_TYPE,
  findingId,
  PRODUCT_NAME,
  productArn,
} from './asff.ts';
import {
  NORMALIZED_BY_LABEL,
  SEVERITY_BY_RISK_LEVEL,
  type SeverityLabel,
  severityLabelFromScore,
} from './risk.ts';
import { safeText, safeTextOr } from './sanitize.ts';

/** What mapping needs besides the action: the destination and the time of this import. */
export interface MapContext {
  readonly destination: Destination;
  /** RFC 3339 UTC time of this import; becomes UpdatedAt (never earlier than CreatedAt). */
  readonly now: string;
  /** Optional link to the action in Vaikora's console; `{id}` is replaced by the URL-encoded action id. */
  readonly sourceUrlTemplate?: string | undefined;
}

/** Severity for an action: from its risk level, else its score; unscored threats HIGH, anomalies MEDIUM. */
export function severityFor(action: VaikoraAction): {
  label: SeverityLabel;
  normalized: number;
  original: string;
} {
  if (action.riskLevelSource === 'risk_level' || action.riskLevelSource === 'severity') {
    const level = action.riskLevel ?? 'low';
    const mapped = SEVERITY_BY_RISK_LEVEL[level];
    return { label: mapped.label, normalized: mapped.normalized, original: originalOf(action, level) };
  }
  if (action.riskScore !== undefined) {
    const label = severityLabelFromScore(action.riskScore);
    return { label, normalized: NORMALIZED_BY_LABEL[label], original: String(action.riskScore) };
  }
  // No risk information at all. A confirmed threat or an anomaly must not read as INFORMATIONAL
  // in the SOC's queue (ADR 0002).
  const label: SeverityLabel = action.threatDetected ? 'HIGH' : action.isAnomaly ? 'MEDIUM' : 'INFORMATIONAL';
  return { label, normalized: NORMALIZED_BY_LABEL[label], original: 'unscored' };
}

function originalOf(action: VaikoraAction, level: string): string {
  return action.riskScore === undefined ? level : `${level} (score ${action.riskScore})`;
}

const num = (n: number): string => String(Math.round(n * 1e6) / 1e6);

/** Maps a parsed action to an ASFF finding for one destination, with every string made safe. */
export function mapAction(action: VaikoraAction, ctx: MapContext): AsffFinding {
  const { destination } = ctx;
  const severity = severityFor(action);
  const agent = safeTextOr(action.agentId, 200, 'unknown-agent');
  const actionType = safeTextOr(action.actionType, 200, 'action');
  const types = action.isAnomaly ? [FINDING_TYPE, ANOMALY_FINDING_TYPE] : [FINDING_TYPE];
  const updatedAt = Date.parse(ctx.now) > action.timestampMs ? ctx.now : action.timestamp;

  const finding: AsffFinding = {
    SchemaVersion: ASFF_SCHEMA_VERSION,
    Id: findingId(action.id),
    ProductArn: productArn(destination),
    ProductName: PRODUCT_NAME,
    CompanyName: COMPANY_NAME,
    Region: destination.region,
    GeneratorId: generatorId(action),
    AwsAccountId: destination.accountId,
    Types: types,
    CreatedAt: action.timestamp,
    UpdatedAt: updatedAt,
    FirstObservedAt: action.timestamp,
    LastObservedAt: action.timestamp,
    Severity: { Label: severity.label, Normalized: severity.normalized, Original: severity.original },
    Title: title(action, agent, actionType, severity.label),
    Description: description(action, agent, actionType),
    ProductFields: productFields(action),
    Resources: [
      {
        Type: 'Other',
        Id: safeText(`vaikora:agent/${agent}`, ASFF_LIMITS.resourceId),
        Partition: destination.partition,
        Region: destination.region,
        Details: { Other: agentDetails(action) },
      },
      {
        Type: 'AwsAccount',
        Id: `AWS::::Account:${destination.accountId}`,
        Partition: destination.partition,
        Region: destination.region,
      },
    ],
    RecordState: 'ACTIVE',
    FindingProviderFields: {
      Severity: { Label: severity.label, Original: severity.original },
      Types: [...types],
    },
  };
  const confidence = confidenceOf(action);
  if (confidence !== undefined) {
    finding.Confidence = confidence;
    finding.FindingProviderFields.Confidence = confidence;
  }
  const network = networkOf(action);
  if (network) finding.Network = network;
  const process = processOf(action);
  if (process) finding.Process = process;
  if (ctx.sourceUrlTemplate) {
    finding.SourceUrl = safeText(
      ctx.sourceUrlTemplate.replaceAll('{id}', encodeURIComponent(action.id)),
      ASFF_LIMITS.sourceUrl,
    );
  }
  return finding;
}

function generatorId(action: VaikoraAction): string {
  if (action.policyId !== undefined) {
    return safeTextOr(`vaikora/policy/${action.policyId}`, ASFF_LIMITS.generatorId, 'vaikora/policy');
  }
  return safeTextOr(`vaikora/${action.actionType ?? 'action'}`, ASFF_LIMITS.generatorId, 'vaikora/action');
}

function title(action: VaikoraAction, agent: string, actionType: string, label: SeverityLabel): string {
  const flags = [action.threatDetected ? 'threat detected' : '', action.isAnomaly ? 'anomaly' : '']
    .filter(Boolean)
    .join(', ');
  const risk = label === 'INFORMATIONAL' ? 'Unscored' : `${label[0]}${label.slice(1).toLowerCase()}-risk`;
  const head = `${risk} AI agent action ${actionType} by ${agent}`;
  return safeText(flags ? `${head} (${flags})` : head, ASFF_LIMITS.title);
}

/** Longest piece of any one field that can reach the 1024-character description. */
const PART = ASFF_LIMITS.description;
const part = (value: string | undefined): string | undefined =>
  value === undefined || value.length <= PART ? value : value.slice(0, PART + 1);

function description(action: VaikoraAction, agent: string, actionType: string): string {
  const parts: string[] = [`AI agent ${agent} performed ${actionType}`];
  if (action.resourceType !== undefined || action.resourceId !== undefined) {
    parts[0] += ` on ${[part(action.resourceType), part(action.resourceId)].filter(Boolean).join(' ')}`;
  }
  parts[0] += '.';
  if (action.riskScore !== undefined || action.riskLevel !== undefined) {
    const score = action.riskScore === undefined ? 'n/a' : num(action.riskScore);
    parts.push(`Risk score ${score} (${action.riskLevel ?? 'unknown'}).`);
  }
  if (action.isAnomaly) {
    const score = action.anomalyScore === undefined ? '' : ` score ${num(action.anomalyScore)}`;
    const reason = action.anomalyReason === undefined ? '' : `: ${part(action.anomalyReason)}`;
    parts.push(`Anomaly: yes${score}${reason}.`);
  } else {
    parts.push('Anomaly: no.');
  }
  if (action.threatDetected) {
    const score = action.threatScore === undefined ? '' : ` (confidence ${num(action.threatScore)})`;
    parts.push(`Threat detected: yes${score}.`);
  } else {
    parts.push('Threat detected: no.');
  }
  if (action.policyId !== undefined || action.policyDecision !== undefined) {
    parts.push(`Policy ${part(action.policyId) ?? 'n/a'}: ${part(action.policyDecision) ?? 'no decision'}.`);
  }
  if (action.status !== undefined) parts.push(`Status: ${part(action.status)}.`);
  if (action.description !== undefined) parts.push(`Vaikora: ${part(action.description)}`);
  return safeTextOr(parts.join(' '), ASFF_LIMITS.description, `AI agent action ${action.id}.`);
}

const PRODUCT_FIELD_SOURCES: ReadonlyArray<
  readonly [string, (a: VaikoraAction) => string | number | undefined]
> = [
  ['vaikora/action_id', (a) => a.id],
  ['vaikora/agent_id', (a) => a.agentId],
  ['vaikora/action_type', (a) => a.actionType],
  ['vaikora/resource_type', (a) => a.resourceType],
  ['vaikora/resource_id', (a) => a.resourceId],
  ['vaikora/status', (a) => a.status],
  ['vaikora/risk_level', (a) => a.riskLevel],
  ['vaikora/risk_level_source', (a) => a.riskLevelSource],
  ['vaikora/risk_score', (a) => a.riskScore],
  ['vaikora/is_anomaly', (a) => String(a.isAnomaly)],
  ['vaikora/anomaly_score', (a) => a.anomalyScore],
  ['vaikora/anomaly_reason', (a) => a.anomalyReason],
  ['vaikora/threat_detected', (a) => String(a.threatDetected)],
  ['vaikora/threat_score', (a) => a.threatScore],
  ['vaikora/policy_id', (a) => a.policyId],
  ['vaikora/policy_decision', (a) => a.policyDecision],
  ['vaikora/log_hash', (a) => a.logHash],
  ['vaikora/user_name', (a) => a.userName],
  ['vaikora/target', (a) => a.target],
  ['vaikora/url', (a) => a.url],
  ['vaikora/warnings', (a) => (a.warnings.length > 0 ? a.warnings.join('; ') : undefined)],
];

function productFields(action: VaikoraAction): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, get] of PRODUCT_FIELD_SOURCES) {
    const value = get(action);
    if (value === undefined) continue;
    const text = safeText(typeof value === 'number' ? num(value) : value, ASFF_LIMITS.productFieldValue);
    if (text.length > 0) out[key] = text;
  }
  return out;
}

function agentDetails(action: VaikoraAction): Record<string, string> {
  const out: Record<string, string> = { source: 'vaikora' };
  const put = (key: string, value: string | undefined) => {
    if (value === undefined) return;
    const text = safeText(value, ASFF_LIMITS.otherDetailValue);
    if (text.length > 0) out[key] = text;
  };
  put('agentId', action.agentId);
  put('actionType', action.actionType);
  put('resourceType', action.resourceType);
  put('resourceId', action.resourceId);
  return out;
}

function confidenceOf(action: VaikoraAction): number | undefined {
  if (action.threatDetected && action.threatScore !== undefined) return Math.round(action.threatScore * 100);
  if (action.confidenceScore !== undefined) return Math.round(action.confidenceScore);
  return undefined;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^(?=.*:)[0-9A-Fa-f:.]{2,45}$/;

function ipField(ip: string | undefined): { v4?: string; v6?: string } {
  if (ip === undefined) return {};
  const trimmed = ip.trim();
  if (IPV4.test(trimmed)) return { v4: trimmed };
  if (IPV6.test(trimmed)) return { v6: trimmed };
  return {};
}

// scheme://user@HOST:port/...: only the host is kept, and only if it is a plain DNS name.
// A regex rather than `new URL`, which is several times slower here and accepts far more than a DNS name.
const URL_HOST = /^(?:[A-Za-z][A-Za-z0-9+.-]*:\/\/)?(?:[^@/?#\s]*@)?([^/:?#\s]+)/;
const DNS_NAME =
  /^(?=.{1,128}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

function domainOf(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const host = URL_HOST.exec(value.trim())?.[1]?.toLowerCase();
  return host !== undefined && DNS_NAME.test(host) ? host : undefined;
}

function networkOf(action: VaikoraAction): AsffNetwork | undefined {
  const network: AsffNetwork = {};
  const src = ipField(action.sourceIp);
  const dst = ipField(action.destinationIp);
  if (src.v4) network.SourceIpV4 = src.v4;
  if (src.v6) network.SourceIpV6 = src.v6;
  if (dst.v4) network.DestinationIpV4 = dst.v4;
  if (dst.v6) network.DestinationIpV6 = dst.v6;
  const sourceDomain = domainOf(action.sourceHost);
  if (sourceDomain) network.SourceDomain = sourceDomain;
  const destinationDomain =
    domainOf(action.destinationHost) ?? domainOf(action.url) ?? domainOf(action.target);
  if (destinationDomain) network.DestinationDomain = destinationDomain;
  if (Object.keys(network).length === 0) return undefined;
  if (network.DestinationIpV4 || network.DestinationIpV6 || network.DestinationDomain)
    network.Direction = 'OUT';
  return network;
}

function processOf(action: VaikoraAction): AsffProcess | undefined {
  const process: AsffProcess = {};
  if (action.processName !== undefined) {
    const name = safeText(action.processName, ASFF_LIMITS.processName);
    if (name) process.Name = name;
  }
  if (action.filePath !== undefined) {
    const path = safeText(action.filePath, ASFF_LIMITS.processPath);
    if (path) process.Path = path;
  }
  return Object.keys(process).length > 0 ? process : undefined;
}
