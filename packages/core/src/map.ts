import { z } from 'zod';
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
  type ProductFieldKey,
  productArn,
} from './asff.ts';
import type { Thresholds } from './filter.ts';
import {
  DEFAULT_THREAT_SEVERITY_FLOOR,
  NORMALIZED_BY_LABEL,
  SEVERITY_BY_RISK_LEVEL,
  type SeverityLabel,
  severityLabelFromScore,
  severityRank,
  type ThreatSeverityFloor,
} from './risk.ts';
import { safeText, safeTextOr } from './sanitize.ts';
import { threatTypesFor } from './threat.ts';

/** What mapping needs besides the action: the destination and the time of this import. */
export interface MapContext {
  readonly destination: Destination;
  /** RFC 3339 UTC time of this import; becomes UpdatedAt (never earlier than CreatedAt). */
  readonly now: string;
  /** Optional link to the action in Vaikora's console; `{id}` is replaced by the URL-encoded action id. */
  readonly sourceUrlTemplate?: string | undefined;
  /**
   * The tenant's thresholds; mapping reads only the threat floor (absent: HIGH). The same object the
   * pipeline filters with, so `prepareAction(action, { destination, now, thresholds })` carries it.
   */
  readonly thresholds?: Pick<Thresholds, 'threatSeverityFloor'> | undefined;
}

/** A finding's severity: Security Hub's label and normalized score, and Vaikora's own value. */
export interface FindingSeverity {
  label: SeverityLabel;
  normalized: number;
  original: string;
  /** Set when the label is the tenant's threat floor rather than Vaikora's risk. */
  raisedToFloor?: ThreatSeverityFloor;
}

/**
 * Severity for an action: from its risk level, else its score; unscored threats HIGH, anomalies MEDIUM;
 * and a confirmed threat never below the tenant's floor (Original stays Vaikora's value).
 */
export function severityFor(
  action: VaikoraAction,
  threatFloor: ThreatSeverityFloor = DEFAULT_THREAT_SEVERITY_FLOOR,
): FindingSeverity {
  const mapped = riskSeverity(action);
  if (!action.threatDetected || severityRank(mapped.label) >= severityRank(threatFloor)) return mapped;
  return {
    label: threatFloor,
    normalized: NORMALIZED_BY_LABEL[threatFloor],
    original: mapped.original,
    raisedToFloor: threatFloor,
  };
}

/** The seed's mapping of Vaikora's risk, unchanged since ADR 0002. */
function riskSeverity(action: VaikoraAction): FindingSeverity {
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
  const severity = severityFor(action, ctx.thresholds?.threatSeverityFloor);
  const agent = safeTextOr(action.agentId, 200, 'unknown-agent');
  const actionType = safeTextOr(action.actionType, 200, 'action');
  const types = action.isAnomaly ? [FINDING_TYPE, ANOMALY_FINDING_TYPE] : [FINDING_TYPE];
  if (action.threatDetected) types.push(...threatTypesFor(action));
  const updatedAt = nowMs(ctx.now) > action.timestampMs ? ctx.now : action.timestamp;
  const fixed = destinationStrings(destination);

  const finding: AsffFinding = {
    SchemaVersion: ASFF_SCHEMA_VERSION,
    Id: findingId(action.id),
    ProductArn: fixed.productArn,
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
    ProductFields: productFields(action, severity),
    Resources: [
      {
        Type: 'Other',
        Id: safeText(`vaikora:agent/${agent}`, ASFF_LIMITS.resourceId),
        Partition: destination.partition,
        Region: destination.region,
        Details: {
          Other: action.agentId === undefined ? { source: 'vaikora' } : { source: 'vaikora', agentId: agent },
        },
      },
      {
        Type: 'AwsAccount',
        Id: fixed.accountResourceId,
        Partition: destination.partition,
        Region: destination.region,
      },
    ],
    RecordState: 'ACTIVE',
    FindingProviderFields: {
      Severity: { Label: severity.label, Original: severity.original },
      Types: types,
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

/** Strings that depend on the destination only, built once per destination rather than per finding. */
interface DestinationStrings {
  readonly destination: Destination;
  readonly productArn: string;
  readonly accountResourceId: string;
}
let lastDestination: DestinationStrings | undefined;

function destinationStrings(destination: Destination): DestinationStrings {
  const last = lastDestination;
  if (
    last !== undefined &&
    last.destination.accountId === destination.accountId &&
    last.destination.region === destination.region &&
    last.destination.partition === destination.partition &&
    last.destination.product?.accountId === destination.product?.accountId &&
    last.destination.product?.name === destination.product?.name
  ) {
    return last;
  }
  lastDestination = {
    destination: { ...destination, product: destination.product && { ...destination.product } },
    productArn: productArn(destination),
    accountResourceId: `AWS::::Account:${destination.accountId}`,
  };
  return lastDestination;
}

let lastNow = '';
let lastNowMs = Number.NaN;
/** Date.parse of the import time, once per run rather than once per finding. */
function nowMs(now: string): number {
  if (now !== lastNow) {
    lastNow = now;
    lastNowMs = Date.parse(now);
  }
  return lastNowMs;
}

/**
 * Vaikora's own title, when it has one, leads; the generated one (severity, action, agent) follows. One
 * 256-character budget for both: a title that fills it hides the generated part, which Severity,
 * Resources and Description still carry.
 */
function title(action: VaikoraAction, agent: string, actionType: string, label: SeverityLabel): string {
  const generated = generatedTitle(action, agent, actionType, label);
  if (action.title === undefined) return generated;
  const lead = safeText(action.title, ASFF_LIMITS.title);
  return lead === '' ? generated : safeText(`${lead} — ${generated}`, ASFF_LIMITS.title);
}

function generatedTitle(
  action: VaikoraAction,
  agent: string,
  actionType: string,
  label: SeverityLabel,
): string {
  const flags = action.threatDetected
    ? action.isAnomaly
      ? 'threat detected, anomaly'
      : 'threat detected'
    : action.isAnomaly
      ? 'anomaly'
      : '';
  const risk = label === 'INFORMATIONAL' ? 'Unscored' : `${label[0]}${label.slice(1).toLowerCase()}-risk`;
  const head = `${risk} AI agent action ${actionType} by ${agent}`;
  return safeText(flags ? `${head} (${flags})` : head, ASFF_LIMITS.title);
}

/** Longest piece of any one field that can reach the 1024-character description. */
const PART = ASFF_LIMITS.description;
const part = (value: string | undefined): string | undefined =>
  value === undefined || value.length <= PART ? value : value.slice(0, PART + 1);

function description(action: VaikoraAction, agent: string, actionType: string): string {
  // Built by concatenation rather than parts.join: no array, and one flat copy when it is scanned.
  let out = `AI agent ${agent} performed ${actionType}`;
  if (action.resourceType !== undefined && action.resourceId !== undefined) {
    out += ` on ${part(action.resourceType)} ${part(action.resourceId)}`;
  } else if (action.resourceType !== undefined || action.resourceId !== undefined) {
    out += ` on ${part(action.resourceType ?? action.resourceId)}`;
  }
  out += '.';
  if (action.riskScore !== undefined || action.riskLevel !== undefined) {
    const score = action.riskScore === undefined ? 'n/a' : num(action.riskScore);
    out += ` Risk score ${score} (${action.riskLevel ?? 'unknown'}).`;
  }
  if (action.isAnomaly) {
    out += ' Anomaly: yes';
    if (action.anomalyScore !== undefined) out += ` score ${num(action.anomalyScore)}`;
    if (action.anomalyReason !== undefined) out += `: ${part(action.anomalyReason)}`;
    out += '.';
  } else {
    out += ' Anomaly: no.';
  }
  if (action.threatDetected) {
    out +=
      action.threatScore === undefined
        ? ' Threat detected: yes.'
        : ` Threat detected: yes (confidence ${num(action.threatScore)}).`;
  } else {
    out += ' Threat detected: no.';
  }
  if (action.policyId !== undefined || action.policyDecision !== undefined) {
    out += ` Policy ${part(action.policyId) ?? 'n/a'}: ${part(action.policyDecision) ?? 'no decision'}.`;
  }
  if (action.status !== undefined) out += ` Status: ${part(action.status)}.`;
  if (action.description !== undefined) out += ` Vaikora: ${part(action.description)}`;
  return safeTextOr(out, ASFF_LIMITS.description, `AI agent action ${action.id}.`);
}

/**
 * Written out member by member rather than from a table of getters: one call site per field lets
 * V8 inline each, where the shared call site of a table was a measured tenth of the mapping time.
 */
function productFields(a: VaikoraAction, severity: FindingSeverity): Record<string, string> {
  const out: Record<string, string> = {};
  putText(out, 'vaikora/action_id', a.id);
  putText(out, 'vaikora/agent_id', a.agentId);
  putText(out, 'vaikora/action_type', a.actionType);
  putText(out, 'vaikora/resource_type', a.resourceType);
  putText(out, 'vaikora/resource_id', a.resourceId);
  putText(out, 'vaikora/status', a.status);
  putText(out, 'vaikora/risk_level', a.riskLevel);
  putText(out, 'vaikora/risk_level_source', a.riskLevelSource);
  putNumber(out, 'vaikora/risk_score', a.riskScore);
  out['vaikora/is_anomaly'] = a.isAnomaly ? 'true' : 'false';
  putNumber(out, 'vaikora/anomaly_score', a.anomalyScore);
  putText(out, 'vaikora/anomaly_reason', a.anomalyReason);
  out['vaikora/threat_detected'] = a.threatDetected ? 'true' : 'false';
  putNumber(out, 'vaikora/threat_score', a.threatScore);
  putText(out, 'vaikora/policy_id', a.policyId);
  putText(out, 'vaikora/policy_decision', a.policyDecision);
  putText(out, 'vaikora/log_hash', a.logHash);
  putText(out, 'vaikora/user_name', a.userName);
  putText(out, 'vaikora/target', a.target);
  putText(out, 'vaikora/url', a.url);
  if (a.warnings.length > 0) putText(out, 'vaikora/warnings', a.warnings.join('; '));
  // Says why Label is above what risk_level/risk_score would give: an analyst must not read it as a bug.
  if (severity.raisedToFloor !== undefined) out['vaikora/severity_floor'] = severity.raisedToFloor;
  return out;
}

function putText(out: Record<string, string>, key: ProductFieldKey, value: string | undefined): void {
  if (value === undefined) return;
  const text = safeText(value, ASFF_LIMITS.productFieldValue);
  if (text.length > 0) out[key] = text;
}

function putNumber(out: Record<string, string>, key: ProductFieldKey, value: number | undefined): void {
  if (value !== undefined) out[key] = num(value);
}

function confidenceOf(action: VaikoraAction): number | undefined {
  if (action.threatDetected && action.threatScore !== undefined) return Math.round(action.threatScore * 100);
  if (action.confidenceScore !== undefined) return Math.round(action.confidenceScore);
  return undefined;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
// A cheap shape test first (most values are IPv4 or absent), then zod's full IPv6 grammar: the shape
// alone let ':::' and nine groups through as addresses (found by the OCSF mapper's stricter check).
const IPV6_SHAPE = /^(?=.*:)[0-9A-Fa-f:.]{2,45}$/;
const IPV6 = z.ipv6();

function ipField(ip: string | undefined): { v4?: string; v6?: string } {
  if (ip === undefined) return {};
  const trimmed = ip.trim();
  if (IPV4.test(trimmed)) return { v4: trimmed };
  if (IPV6_SHAPE.test(trimmed) && IPV6.safeParse(trimmed).success) return { v6: trimmed };
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
