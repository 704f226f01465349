import type { SeverityLabel } from './risk.ts';

/** AWS partitions Security Hub findings can name. */
export const PARTITIONS = ['aws', 'aws-cn', 'aws-us-gov'] as const;
export type Partition = (typeof PARTITIONS)[number];

/**
 * A product AWS assigned to a Security Hub partner (ADR 0121): findings are imported under it from the
 * partner's own allow-listed account, into the hub of each finding's `AwsAccountId`.
 */
export interface PartnerProduct {
  /** The partner's account, in the product ARN (12 digits). */
  readonly accountId: string;
  /** `company/product` as AWS assigned it, e.g. `data443/vaikora`. */
  readonly name: string;
}

/** Where findings go: the tenant's account and region (a Security Hub hub). */
export interface Destination {
  readonly accountId: string;
  readonly region: string;
  readonly partition: Partition;
  /** Partner-product mode (ADR 0121): the product findings are imported under; absent: the account's own default product. */
  readonly product?: PartnerProduct | undefined;
}

export const ASFF_SCHEMA_VERSION = '2018-10-08';
export const PRODUCT_NAME = 'Vaikora AI Agent Security';
export const COMPANY_NAME = 'Data443';
export const FINDING_TYPE = 'Software and Configuration Checks/AI Agent Security';
export const ANOMALY_FINDING_TYPE = 'Unusual Behaviors/Application/AI Agent Anomaly';
export const FINDING_ID_PREFIX = 'vaikora-';

/** The ProductFields keys this connector writes (every one well within Security Hub's 128 characters). */
export const PRODUCT_FIELD_KEYS = [
  'vaikora/action_id',
  'vaikora/agent_id',
  'vaikora/action_type',
  'vaikora/resource_type',
  'vaikora/resource_id',
  'vaikora/status',
  'vaikora/risk_level',
  'vaikora/risk_level_source',
  'vaikora/risk_score',
  'vaikora/is_anomaly',
  'vaikora/anomaly_score',
  'vaikora/anomaly_reason',
  'vaikora/threat_detected',
  'vaikora/threat_score',
  'vaikora/policy_id',
  'vaikora/policy_decision',
  'vaikora/log_hash',
  'vaikora/user_name',
  'vaikora/target',
  'vaikora/url',
  'vaikora/warnings',
  'vaikora/severity_floor',
] as const;
export type ProductFieldKey = (typeof PRODUCT_FIELD_KEYS)[number];

/**
 * The product ARN findings are imported under: the account's own default product (findings imported
 * as the customer's account, through its role), or in partner-product mode Data443's product in the
 * destination's region (ADR 0121).
 */
export function productArn(destination: Destination): string {
  const { partition, region, accountId, product } = destination;
  if (product !== undefined) {
    return `arn:${partition}:securityhub:${region}:${product.accountId}:product/${product.name}`;
  }
  return `arn:${partition}:securityhub:${region}:${accountId}:product/${accountId}/default`;
}

/** A partner product's `company/product` name as AWS assigns them (lower-case words and dashes). */
export const PARTNER_PRODUCT_NAME = /^[a-z0-9][a-z0-9-]{0,63}\/[a-z0-9][a-z0-9-]{0,63}$/;

/** The stable finding id for an action: reruns update the same finding instead of duplicating it. */
export function findingId(actionId: string): string {
  return `${FINDING_ID_PREFIX}${actionId}`;
}

export interface AsffSeverity {
  Label: SeverityLabel;
  Normalized: number;
  Original: string;
}

export interface AsffResource {
  Type: string;
  Id: string;
  Partition: Partition;
  Region: string;
  Details?: { Other: Record<string, string> };
}

export interface AsffNetwork {
  Direction?: 'IN' | 'OUT';
  SourceIpV4?: string;
  SourceIpV6?: string;
  SourceDomain?: string;
  DestinationIpV4?: string;
  DestinationIpV6?: string;
  DestinationDomain?: string;
}

export interface AsffProcess {
  Name?: string;
  Path?: string;
}

/** The subset of AwsSecurityFinding this connector emits (never Workflow, Note, UserDefinedFields, VerificationState). */
export interface AsffFinding {
  SchemaVersion: string;
  Id: string;
  ProductArn: string;
  ProductName: string;
  CompanyName: string;
  Region: string;
  GeneratorId: string;
  AwsAccountId: string;
  Types: string[];
  CreatedAt: string;
  UpdatedAt: string;
  FirstObservedAt: string;
  LastObservedAt: string;
  Severity: AsffSeverity;
  Confidence?: number;
  Title: string;
  Description: string;
  SourceUrl?: string;
  ProductFields: Record<string, string>;
  Resources: AsffResource[];
  Network?: AsffNetwork;
  Process?: AsffProcess;
  RecordState: 'ACTIVE';
  FindingProviderFields: {
    Severity: { Label: SeverityLabel; Original: string };
    Types: string[];
    Confidence?: number;
  };
}

/** Security Hub's documented limits, from the API reference (AwsSecurityFinding, BatchImportFindings). */
export const ASFF_LIMITS = {
  findingsPerRequest: 100,
  /** 240 KB per finding, serialized. */
  findingBytes: 240 * 1024,
  /** 6 MB per request. */
  requestBytes: 6 * 1024 * 1024,
  id: 512,
  generatorId: 512,
  productName: 128,
  companyName: 128,
  region: 16,
  title: 256,
  description: 1024,
  severityOriginal: 64,
  resourceType: 256,
  resourceId: 512,
  productFieldsEntries: 50,
  productFieldKey: 128,
  productFieldValue: 2048,
  sourceUrl: 2048,
  networkDomain: 128,
  processName: 64,
  processPath: 512,
  otherDetailKey: 128,
  otherDetailValue: 1024,
} as const;
