import { z } from 'zod';
import type { VaikoraAction } from './action.ts';
import { COMPANY_NAME, PRODUCT_NAME } from './asff.ts';
import { type MapContext, mapAction } from './map.ts';
import type { RiskLevel, SeverityLabel } from './risk.ts';
import { safeText, safeTextOr } from './sanitize.ts';

/** The OCSF schema version the mapper writes (`metadata.version`), and the one its test validates against. */
export const OCSF_VERSION = '1.6.0';

/** Detection Finding's classification: category Findings (2), class 2004, activity Create (1). */
export const OCSF_DETECTION_FINDING = {
  categoryUid: 2,
  categoryName: 'Findings',
  classUid: 2004,
  className: 'Detection Finding',
  activityId: 1,
  activityName: 'Create',
  typeUid: 200401,
  typeName: 'Detection Finding: Create',
} as const;

/** OCSF `severity_id` and its caption. 6 (Fatal) is never produced: Security Hub has no label above CRITICAL. */
const OCSF_SEVERITY_BY_LABEL: Readonly<Record<SeverityLabel, { id: 1 | 2 | 3 | 4 | 5; caption: string }>> = {
  INFORMATIONAL: { id: 1, caption: 'Informational' },
  LOW: { id: 2, caption: 'Low' },
  MEDIUM: { id: 3, caption: 'Medium' },
  HIGH: { id: 4, caption: 'High' },
  CRITICAL: { id: 5, caption: 'Critical' },
};

/** OCSF `risk_level_id` and its caption for Vaikora's risk level. */
const OCSF_RISK_LEVEL: Readonly<Record<RiskLevel, { id: 1 | 2 | 3 | 4; caption: string }>> = {
  low: { id: 1, caption: 'Low' },
  medium: { id: 2, caption: 'Medium' },
  high: { id: 3, caption: 'High' },
  critical: { id: 4, caption: 'Critical' },
};

/** Mapping context for OCSF: the ASFF one, plus the connector's version for `metadata.product.version`. */
export interface OcsfMapContext extends MapContext {
  readonly productVersion?: string | undefined;
}

interface OcsfResource {
  type: string;
  uid: string;
  name?: string;
  /**
   * Where the resource is, as ASFF's Partition and Region. Not `cloud_partition`/`region`: those belong to
   * the cloud profile, which this mapper does not apply (ADR 0115).
   */
  data?: { partition: string; region: string };
}

interface OcsfEndpoint {
  ip?: string;
  hostname?: string;
}

/** What the action itself shows: who acted, on what, from and to where. */
interface OcsfEvidence {
  actor: { app_name: string; app_uid?: string; user?: { name: string } };
  name: string;
  resources?: OcsfResource[];
  src_endpoint?: OcsfEndpoint;
  dst_endpoint?: OcsfEndpoint;
  url?: { url_string: string };
}

/** The subset of OCSF 1.6 Detection Finding (class 2004) this connector emits. */
export interface OcsfDetectionFinding {
  activity_id: 1;
  activity_name: 'Create';
  category_uid: 2;
  category_name: 'Findings';
  class_uid: 2004;
  class_name: 'Detection Finding';
  type_uid: 200401;
  type_name: 'Detection Finding: Create';
  severity_id: 1 | 2 | 3 | 4 | 5;
  severity: string;
  /** Epoch milliseconds of the action. */
  time: number;
  timezone_offset: 0;
  message: string;
  status_id: 1;
  status: 'New';
  is_alert: true;
  metadata: {
    version: string;
    product: { name: string; vendor_name: string; version?: string };
    original_time: string;
    processed_time: number;
    tenant_uid: string;
  };
  finding_info: {
    /** The ASFF finding id (`vaikora-{action id}`): both formats name one finding alike. */
    uid: string;
    title: string;
    desc: string;
    types: string[];
    created_time: number;
    first_seen_time: number;
    last_seen_time: number;
    modified_time: number;
    analytic: { type_id: 0 | 1; type: 'Unknown' | 'Rule'; name: string; uid?: string };
    src_url?: string;
  };
  resources: OcsfResource[];
  evidences: OcsfEvidence[];
  confidence_id?: 1 | 2 | 3;
  confidence?: 'Low' | 'Medium' | 'High';
  confidence_score?: number;
  risk_score?: number;
  risk_level_id?: 1 | 2 | 3 | 4;
  risk_level?: string;
  /** Vaikora's fields with no OCSF attribute, as the ASFF finding's ProductFields carry them. */
  unmapped: { vaikora: Record<string, string> };
}

const ipv4 = z.ipv4();
const ipv6 = z.ipv6();
/** OCSF's ip_t allows 40 characters; an address zod accepts but longer (IPv4-mapped forms) stays out. */
const IP_MAX = 40;

function ipOf(value: string | undefined): string | undefined {
  if (value === undefined || value.length > IP_MAX) return undefined;
  return ipv4.safeParse(value).success || ipv6.safeParse(value).success ? value : undefined;
}

function endpoint(ip: string | undefined, hostname: string | undefined): OcsfEndpoint | undefined {
  const out: OcsfEndpoint = {};
  const address = ipOf(ip);
  if (address !== undefined) out.ip = address;
  if (hostname !== undefined) out.hostname = hostname;
  return out.ip === undefined && out.hostname === undefined ? undefined : out;
}

function confidenceBand(score: number): { id: 1 | 2 | 3; caption: 'Low' | 'Medium' | 'High' } {
  if (score >= 70) return { id: 3, caption: 'High' };
  if (score >= 40) return { id: 2, caption: 'Medium' };
  return { id: 1, caption: 'Low' };
}

/** The same bounds as map.ts: OCSF sets no lengths, the ASFF limits keep both formats equally bounded. */
const AGENT_MAX = 200;
const TEXT_MAX = 1024;
const URL_MAX = 2048;

/**
 * Maps a parsed action to an OCSF 1.6 Detection Finding. Every rendered string and derived fact (id,
 * severity, title, description, types, confidence, validated network names) is the ASFF mapper's, so the
 * two formats cannot drift; numbers and times come typed from the action. Pure, like mapAction.
 */
export function toOcsfDetectionFinding(action: VaikoraAction, ctx: OcsfMapContext): OcsfDetectionFinding {
  const asff = mapAction(action, ctx);
  const { destination } = ctx;
  const severity = OCSF_SEVERITY_BY_LABEL[asff.Severity.Label];
  const time = action.timestampMs;
  const updated = Date.parse(asff.UpdatedAt);
  const agent = safeTextOr(action.agentId, AGENT_MAX, 'unknown-agent');

  const product: OcsfDetectionFinding['metadata']['product'] = {
    name: PRODUCT_NAME,
    vendor_name: COMPANY_NAME,
  };
  if (ctx.productVersion !== undefined) product.version = safeText(ctx.productVersion, 64);

  // A Vaikora policy is the rule that produced the finding; without one, how it was detected is not said.
  const policyUid = action.policyId === undefined ? '' : safeText(action.policyId, TEXT_MAX);
  const analytic: OcsfDetectionFinding['finding_info']['analytic'] =
    policyUid === ''
      ? { type_id: 0, type: 'Unknown', name: asff.GeneratorId }
      : { type_id: 1, type: 'Rule', name: asff.GeneratorId, uid: policyUid };

  const finding: OcsfDetectionFinding = {
    activity_id: OCSF_DETECTION_FINDING.activityId,
    activity_name: OCSF_DETECTION_FINDING.activityName,
    category_uid: OCSF_DETECTION_FINDING.categoryUid,
    category_name: OCSF_DETECTION_FINDING.categoryName,
    class_uid: OCSF_DETECTION_FINDING.classUid,
    class_name: OCSF_DETECTION_FINDING.className,
    type_uid: OCSF_DETECTION_FINDING.typeUid,
    type_name: OCSF_DETECTION_FINDING.typeName,
    severity_id: severity.id,
    severity: severity.caption,
    time,
    // The action's time is UTC (parseAction normalizes it to `Z`).
    timezone_offset: 0,
    message: asff.Title,
    // A new finding for the SOC to review; an analyst's own status lives in their tooling, as in ASFF's Workflow.
    status_id: 1,
    status: 'New',
    // Only actions the tenant's thresholds let through are mapped: each is meant to reach an analyst.
    is_alert: true,
    metadata: {
      version: OCSF_VERSION,
      product,
      original_time: action.timestamp,
      processed_time: Number.isFinite(updated) ? Math.max(updated, time) : time,
      tenant_uid: destination.accountId,
    },
    finding_info: {
      uid: asff.Id,
      title: asff.Title,
      desc: asff.Description,
      types: [...asff.Types],
      created_time: time,
      first_seen_time: time,
      last_seen_time: time,
      modified_time: Number.isFinite(updated) ? Math.max(updated, time) : time,
      analytic,
    },
    resources: asff.Resources.map((r) => {
      const resource: OcsfResource = {
        type: r.Type === 'Other' ? 'AI Agent' : r.Type,
        uid: r.Id,
        data: { partition: r.Partition, region: r.Region },
      };
      if (r.Type === 'Other') resource.name = agent;
      return resource;
    }),
    evidences: [evidence(action, agent, asff.Network)],
    unmapped: { vaikora: unmapped(asff.ProductFields, asff.Process) },
  };
  if (asff.SourceUrl !== undefined) finding.finding_info.src_url = asff.SourceUrl;
  if (asff.Confidence !== undefined) {
    const band = confidenceBand(asff.Confidence);
    finding.confidence_id = band.id;
    finding.confidence = band.caption;
    finding.confidence_score = asff.Confidence;
  }
  if (action.riskScore !== undefined) finding.risk_score = Math.round(action.riskScore);
  if (action.riskLevel !== undefined) {
    finding.risk_level_id = OCSF_RISK_LEVEL[action.riskLevel].id;
    finding.risk_level = OCSF_RISK_LEVEL[action.riskLevel].caption;
  }
  return finding;
}

function evidence(
  action: VaikoraAction,
  agent: string,
  network: ReturnType<typeof mapAction>['Network'],
): OcsfEvidence {
  const out: OcsfEvidence = {
    actor: { app_name: agent },
    name: safeTextOr(action.actionType, AGENT_MAX, 'action'),
  };
  const agentUid = action.agentId === undefined ? '' : safeText(action.agentId, AGENT_MAX);
  if (agentUid !== '') out.actor.app_uid = agentUid;
  if (action.userName !== undefined) {
    const name = safeText(action.userName, TEXT_MAX);
    if (name !== '') out.actor.user = { name };
  }
  if (action.resourceId !== undefined) {
    const uid = safeText(action.resourceId, TEXT_MAX);
    const type = safeTextOr(action.resourceType, TEXT_MAX, 'Unknown');
    if (uid !== '') out.resources = [{ type, uid }];
  }
  // Addresses and names only where map.ts found real ones (network); OCSF's ip_t is stricter still.
  const src = endpoint(network?.SourceIpV4 ?? network?.SourceIpV6, network?.SourceDomain);
  if (src) out.src_endpoint = src;
  const dst = endpoint(network?.DestinationIpV4 ?? network?.DestinationIpV6, network?.DestinationDomain);
  if (dst) out.dst_endpoint = dst;
  if (action.url !== undefined) {
    const url = safeText(action.url, URL_MAX);
    if (url !== '') out.url = { url_string: url };
  }
  return out;
}

/**
 * ProductFields without their `vaikora/` prefix, plus the process name and path (OCSF's process object
 * needs a pid or uid, which Vaikora does not send).
 */
function unmapped(
  fields: Readonly<Record<string, string>>,
  process: ReturnType<typeof mapAction>['Process'],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(fields)) out[key.slice(key.indexOf('/') + 1)] = value;
  if (process?.Name !== undefined) out.process_name = process.Name;
  if (process?.Path !== undefined) out.file_path = process.Path;
  return out;
}
