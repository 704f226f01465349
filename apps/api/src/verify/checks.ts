import type { Partition, PartnerProduct } from '@vsh/core';

/** The checks a destination verification runs, in order. */
export const CHECK_NAMES = [
  'ASSUME_ROLE',
  'EXTERNAL_ID_REQUIRED',
  'SECURITY_HUB',
  'PARTNER_PRODUCT',
  'SECURITY_LAKE',
] as const;
type CheckName = (typeof CHECK_NAMES)[number];

/** The outcome of one check (closed set); only `OK` passes. */
export const CHECK_CODES = [
  'OK',
  'ROLE_NOT_ASSUMABLE',
  'EXTERNAL_ID_NOT_ENFORCED',
  'SECURITY_HUB_NOT_ENABLED',
  'SECURITY_HUB_ACCESS_DENIED',
  /** Partner-product mode (ADR 0121): the hub does not accept findings from Data443's product. */
  'PRODUCT_NOT_ENABLED',
  /** Security Lake delivery (ADR 0122): the lake's bucket does not exist in the region. */
  'SECURITY_LAKE_BUCKET_MISSING',
  /** Security Lake delivery: the role may not reach the custom source's prefix in the bucket. */
  'SECURITY_LAKE_ACCESS_DENIED',
  'REGION_UNUSABLE',
  'AWS_UNAVAILABLE',
  'SKIPPED',
] as const;
export type CheckCode = (typeof CHECK_CODES)[number];

export interface CheckResult {
  name: CheckName;
  ok: boolean;
  code: CheckCode;
  region?: string;
  /** What was found, for a person. */
  message: string;
  /** What to do about it, when the check failed. */
  fix?: string;
}

export interface VerificationResult {
  ok: boolean;
  checks: CheckResult[];
}

export interface VerifyInput {
  tenantId: string;
  destinationId: string;
  roleArn: string;
  externalId: string;
  /** Non-empty; the first is where AssumeRole is first tried. */
  regions: readonly string[];
  /**
   * Security Lake delivery (ADR 0122): instead of Security Hub in each region, the role must reach the
   * custom source's prefix (`ext/<sourceName>/`) in the lake's bucket (of the one region).
   */
  securityLake?: { bucket: string; sourceName: string } | undefined;
}

/** What verifying a partner-product destination (ADR 0121) needs: no role, Data443's product. */
export interface PartnerVerifyInput {
  tenantId: string;
  destinationId: string;
  accountId: string;
  partition: Partition;
  product: PartnerProduct;
  regions: readonly string[];
}

/** Checks that a customer's role works for us, and only for us (see ADR 0061). */
export interface DestinationVerifier {
  verify(input: VerifyInput): Promise<VerificationResult>;
  /**
   * Partner-product mode (ADR 0121): imports the archived delivery check finding into each region's hub
   * from Data443's own account, which succeeds only where the hub accepts the product's findings.
   * Absent: this deployment cannot verify partner destinations.
   */
  verifyPartner?(input: PartnerVerifyInput): Promise<VerificationResult>;
}

/** The fix shown when Security Hub is off in a region. */
export function enableSecurityHubFix(region: string): string {
  return `enable Security Hub in ${region}: aws securityhub enable-security-hub --region ${region}`;
}

/** The first failing check's code and message, as kept in `last_error`. */
export function summarizeFailure(result: VerificationResult): string | null {
  const failed = result.checks.find((check) => !check.ok && check.code !== 'SKIPPED');
  if (failed === undefined) return null;
  const where = failed.region === undefined ? '' : ` (${failed.region})`;
  return `${failed.code}${where}: ${failed.message}`;
}
