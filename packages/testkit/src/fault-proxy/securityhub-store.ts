/**
 * The memory Security Hub: hub enablement and the findings of each account and region, with
 * BatchImportFindings' request checks and per-finding validation and GetFindings' filters and pages,
 * as the real service answers them. Pure apart from the wall clock it is given (for ProcessedAt).
 */
import { filterFindings } from './findings-filter.ts';
import {
  awsErrorResponse,
  isRecord,
  jsonResponse,
  parseJson,
  type RequestInfo,
  type WireResponse,
} from './wire.ts';

/** A finding as it travels in BatchImportFindings / GetFindings (ASFF JSON). */
export type { AsffFinding } from './wire.ts';

import type { AsffFinding } from './wire.ts';

/** One entry of BatchImportFindings' FailedFindings. */
export interface ImportFailure {
  Id: string;
  ErrorCode: string;
  ErrorMessage: string;
}

/** An error answer: status, AWS error code and message. */
export interface Refusal {
  status: number;
  code: string;
  message: string;
}

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
const ARN = /^arn:[^:]+:securityhub:([^:]*):(\d{12})?:/;

function missingRequired(finding: AsffFinding): string | undefined {
  const missing = ASFF_REQUIRED.find((key) => finding[key] === undefined || finding[key] === null);
  if (missing !== undefined) return missing;
  if (!Array.isArray(finding.Resources) || finding.Resources.length === 0) return 'Resources';
  return undefined;
}

const notSubscribed = (account: string): Refusal => ({
  status: 401,
  code: 'InvalidAccessException',
  message: `Account ${account} is not subscribed to AWS Security Hub`,
});

/** What a BatchImportFindings request must satisfy as a whole before any finding is looked at. */
export interface ImportCheck {
  account: string;
  region: string;
  /** The caller's partner product ARN in this region when it is an allow-listed partner (ADR 0121). */
  partnerProductArn?: string | undefined;
  /** Refuse findings of another account, or with a ProductArn in another region (403), as AWS does. */
  accountChecks: boolean;
  /** Refuse when the hub is not enabled (401); undefined: not checked (the upstream decides). */
  hubEnabled: boolean | undefined;
}

/** Why Security Hub refuses a whole BatchImportFindings request, or undefined when it does not. */
export function importRefusal(findings: readonly AsffFinding[], check: ImportCheck): Refusal | undefined {
  const { account, region } = check;
  if (findings.length < 1 || findings.length > 100) {
    return {
      status: 400,
      code: 'InvalidInputException',
      message: 'Findings must contain between 1 and 100 findings',
    };
  }
  if (check.accountChecks) {
    const foreign = findings.find((f) => {
      // An allow-listed partner imports other accounts' findings under its own product (ADR 0121).
      if (check.partnerProductArn !== undefined && f.ProductArn === check.partnerProductArn) return false;
      const arn = typeof f.ProductArn === 'string' ? ARN.exec(f.ProductArn) : null;
      return f.AwsAccountId !== account || (arn !== null && arn[1] !== region);
    });
    if (foreign !== undefined) {
      return {
        status: 403,
        code: 'AccessDeniedException',
        message: `User is not authorized to perform: securityhub:BatchImportFindings on resource: ${String(foreign.ProductArn)} (account ${account}, region ${region})`,
      };
    }
  }
  if (check.hubEnabled === false && check.partnerProductArn === undefined) return notSubscribed(account);
  return undefined;
}

/** A partner product's ARN in a region: `arn:aws:securityhub:{region}:{partner account}:product/{name}`. */
export function partnerProductArn(region: string, account: string, name: string): string {
  return `arn:aws:securityhub:${region}:${account}:product/${name}`;
}

/** The ARN of an account's subscription to a product: the product's `company/product` under the account. */
function subscriptionArn(region: string, account: string, productArn: string): string {
  const name = productArn.slice(productArn.indexOf(':product/') + ':product/'.length);
  return `arn:aws:securityhub:${region}:${account}:product-subscription/${name}`;
}

/** Hubs and findings per `account/region`. */
export class SecurityHubStore {
  private readonly hubs = new Map<string, string>();
  private readonly findings = new Map<string, Map<string, AsffFinding>>();
  /** `account/region` → product ARNs whose findings the hub accepts (EnableImportFindingsForProduct). */
  private readonly subscriptions = new Map<string, Set<string>>();

  constructor(
    private readonly options: {
      /** Importing or reading findings requires EnableSecurityHub first, as in AWS. */
      requireEnabledHub: boolean;
      now?: () => Date;
    },
  ) {}

  private now(): string {
    return (this.options.now?.() ?? new Date()).toISOString();
  }

  isEnabled(account: string, region: string): boolean {
    return this.hubs.has(`${account}/${region}`);
  }

  /** Whether an import must be refused for a hub that is not enabled (see ImportCheck.hubEnabled). */
  hubEnabledForImport(account: string, region: string): boolean | undefined {
    return this.options.requireEnabledHub ? this.isEnabled(account, region) : undefined;
  }

  /**
   * A partner's import (ADR 0121): each finding goes to its AwsAccountId's hub in the region when that
   * hub is enabled and accepts `productArn`; otherwise it fails per finding with InvalidAccess.
   */
  importForPartner(
    region: string,
    productArn: string,
    findings: readonly AsffFinding[],
  ): { succeeded: string[]; failed: ImportFailure[] } {
    const succeeded: string[] = [];
    const failed: ImportFailure[] = [];
    for (const finding of findings) {
      const owner = String(finding.AwsAccountId);
      const hubKey = `${owner}/${region}`;
      if (finding.ProductArn === productArn && !this.subscriptions.get(hubKey)?.has(productArn)) {
        failed.push({
          Id: typeof finding.Id === 'string' ? finding.Id : '',
          ErrorCode: 'InvalidAccess',
          ErrorMessage: this.isEnabled(owner, region)
            ? `Account ${owner} has not enabled the import of findings from ${productArn} in ${region}`
            : `Account ${owner} is not subscribed to AWS Security Hub in ${region}`,
        });
        continue;
      }
      const one = this.import(owner, region, [finding]);
      succeeded.push(...one.succeeded);
      failed.push(...one.failed);
    }
    return { succeeded, failed };
  }

  /** Copies of the findings held for one account and region. */
  list(account: string, region: string): AsffFinding[] {
    return [...(this.findings.get(`${account}/${region}`)?.values() ?? [])].map((f) => structuredClone(f));
  }

  /**
   * Stores the findings that are valid ASFF and fit the size limit; the others fail per finding.
   * A finding imported again keeps its customer-owned fields (Note, Workflow, ...).
   */
  import(
    account: string,
    region: string,
    findings: readonly AsffFinding[],
  ): { succeeded: string[]; failed: ImportFailure[] } {
    const key = `${account}/${region}`;
    let store = this.findings.get(key);
    if (store === undefined) {
      store = new Map();
      this.findings.set(key, store);
    }
    const succeeded: string[] = [];
    const failed: ImportFailure[] = [];
    const now = this.now();
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

  /** Answers hub enablement and GetFindings; undefined for operations it leaves to the upstream. */
  answer(info: RequestInfo, body: Buffer, account: string): WireResponse | undefined {
    const region = info.region ?? 'unknown';
    const hubKey = `${account}/${region}`;
    const refuse = ({ status, code, message }: Refusal) => awsErrorResponse(info, status, code, message);
    const invalid = (message: string) => awsErrorResponse(info, 400, 'InvalidInputException', message);
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
        this.hubs.set(hubKey, this.now());
        return jsonResponse({});
      case 'DescribeHub': {
        const subscribedAt = this.hubs.get(hubKey);
        if (subscribedAt === undefined) return refuse(notSubscribed(account));
        return jsonResponse({
          HubArn: `arn:aws:securityhub:${region}:${account}:hub/default`,
          SubscribedAt: subscribedAt,
          AutoEnableControls: true,
          ControlFindingGenerator: 'SECURITY_CONTROL',
        });
      }
      case 'DisableSecurityHub':
        if (!this.hubs.delete(hubKey)) return refuse(notSubscribed(account));
        this.subscriptions.delete(hubKey);
        return jsonResponse({});
      case 'EnableImportFindingsForProduct': {
        if (!this.hubs.has(hubKey)) return refuse(notSubscribed(account));
        const request = parseJson(body);
        const product = isRecord(request) ? request.ProductArn : undefined;
        if (
          typeof product !== 'string' ||
          !/^arn:[^:]+:securityhub:[^:]+:\d{12}:product\/[^/]+\/[^/]+$/.test(product)
        ) {
          return invalid('ProductArn must be a Security Hub product ARN');
        }
        const accepted = this.subscriptions.get(hubKey) ?? new Set<string>();
        if (accepted.has(product)) {
          return awsErrorResponse(
            info,
            409,
            'ResourceConflictException',
            'The product subscription already exists',
          );
        }
        accepted.add(product);
        this.subscriptions.set(hubKey, accepted);
        return jsonResponse({ ProductSubscriptionArn: subscriptionArn(region, account, product) });
      }
      case 'ListEnabledProductsForImport':
        if (!this.hubs.has(hubKey)) return refuse(notSubscribed(account));
        return jsonResponse({
          ProductSubscriptions: [...(this.subscriptions.get(hubKey) ?? [])].map((p) =>
            subscriptionArn(region, account, p),
          ),
        });
      case 'GetFindings': {
        if (this.options.requireEnabledHub && !this.hubs.has(hubKey)) return refuse(notSubscribed(account));
        const request = parseJson(body);
        if (!isRecord(request)) return invalid('Invalid JSON body');
        const maxResults = request.MaxResults ?? 100;
        if (
          typeof maxResults !== 'number' ||
          !Number.isInteger(maxResults) ||
          maxResults < 1 ||
          maxResults > 100
        ) {
          return invalid('MaxResults must be a number between 1 and 100');
        }
        const offset = typeof request.NextToken === 'string' ? Number.parseInt(request.NextToken, 36) : 0;
        if (!Number.isInteger(offset) || offset < 0) return invalid('The NextToken is invalid');
        const all = [...(this.findings.get(hubKey)?.values() ?? [])];
        const matched = filterFindings(all, request.Filters);
        if (typeof matched === 'string') return invalid(matched);
        const page = matched.slice(offset, offset + maxResults);
        const next = offset + maxResults < matched.length ? (offset + maxResults).toString(36) : undefined;
        return jsonResponse(next === undefined ? { Findings: page } : { Findings: page, NextToken: next });
      }
      default:
        return undefined;
    }
  }
}
