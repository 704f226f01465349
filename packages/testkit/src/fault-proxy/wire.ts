/**
 * The AWS wire protocols as the fault proxy meets them: naming a request's service and operation
 * (SigV4 scope, X-Amz-Target, Action=, Security Hub's REST routes) and writing error and JSON
 * answers in the request's own protocol, as the AWS SDK v3 deserializers expect them. Pure.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/** One ASFF finding as the memory Security Hub stores it (validated only as far as Security Hub checks). */
export type AsffFinding = Record<string, unknown>;

type WireProtocol = 'rest-json' | 'json' | 'query' | 'other';

export interface RequestInfo {
  /** SigV4 signing name (`securityhub`, `sts`, `dynamodb`, ...), `moto-api`, or `unknown`. */
  service: string;
  operation: string;
  region: string | undefined;
  accessKeyId: string | undefined;
  protocol: WireProtocol;
}

export interface WireResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

// Security Hub's REST routes (method + path) from its service model: the ones with fixed paths
// that this project can meet, plus templated ones by prefix.
const SECURITY_HUB_ROUTES: Record<string, string> = {
  'DELETE /accounts': 'DisableSecurityHub',
  'GET /accounts': 'DescribeHub',
  'PATCH /accounts': 'UpdateSecurityHubConfiguration',
  'POST /accounts': 'EnableSecurityHub',
  'POST /findingHistory/get': 'GetFindingHistory',
  'PATCH /findings': 'UpdateFindings',
  'POST /findings': 'GetFindings',
  'PATCH /findings/batchupdate': 'BatchUpdateFindings',
  'POST /findings/import': 'BatchImportFindings',
  'POST /findingsv2': 'GetFindingsV2',
  'POST /insights': 'CreateInsight',
  'POST /insights/get': 'GetInsights',
  'GET /administrator': 'GetAdministratorAccount',
  'GET /master': 'GetMasterAccount',
  'GET /members': 'ListMembers',
  'POST /members': 'CreateMembers',
  'POST /members/get': 'GetMembers',
  'GET /productSubscriptions': 'ListEnabledProductsForImport',
  'POST /productSubscriptions': 'EnableImportFindingsForProduct',
  'GET /products': 'DescribeProducts',
  'GET /standards': 'DescribeStandards',
  'POST /standards/deregister': 'BatchDisableStandards',
  'POST /standards/get': 'GetEnabledStandards',
  'POST /standards/register': 'BatchEnableStandards',
  'GET /organization/configuration': 'DescribeOrganizationConfiguration',
  'POST /organization/configuration': 'UpdateOrganizationConfiguration',
};
const SECURITY_HUB_PREFIX_ROUTES: ReadonlyArray<readonly [string, string, string]> = [
  ['PATCH', '/standards/control/', 'UpdateStandardsControl'],
  ['GET', '/standards/controls/', 'DescribeStandardsControls'],
  ['DELETE', '/productSubscriptions/', 'DisableImportFindingsForProduct'],
  ['GET', '/insights/results/', 'GetInsightResults'],
  ['GET', '/tags/', 'ListTagsForResource'],
  ['POST', '/tags/', 'TagResource'],
  ['DELETE', '/tags/', 'UntagResource'],
];

const SIGV4_CREDENTIAL = /Credential=([^/,\s]+)\/\d{8}\/([^/,\s]+)\/([^/,\s]+)\/aws4_request/;

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function securityHubOperation(method: string, path: string): string {
  const exact = SECURITY_HUB_ROUTES[`${method} ${path}`];
  if (exact !== undefined) return exact;
  const prefixed = SECURITY_HUB_PREFIX_ROUTES.find(([m, prefix]) => m === method && path.startsWith(prefix));
  return prefixed?.[2] ?? `${method} ${path}`;
}

/** Names the AWS service (SigV4 scope) and operation (X-Amz-Target, Action=, or REST route) of a request. */
export function classifyRequest(
  method: string,
  rawUrl: string,
  headers: IncomingHttpHeaders,
  body: Buffer,
): RequestInfo {
  let url: URL;
  try {
    url = new URL(rawUrl, 'http://proxy.invalid');
  } catch {
    url = new URL('http://proxy.invalid/');
  }
  const path = url.pathname;
  const scope = SIGV4_CREDENTIAL.exec(
    headerValue(headers, 'authorization') ?? `Credential=${url.searchParams.get('X-Amz-Credential') ?? ''}`,
  );
  const accessKeyId = scope?.[1];
  const region = scope?.[2];
  const signedService = scope?.[3];
  if (path.startsWith('/moto-api')) {
    return { service: 'moto-api', operation: path, region, accessKeyId, protocol: 'other' };
  }
  const service = signedService ?? 'unknown';
  const target = headerValue(headers, 'x-amz-target');
  if (target !== undefined) {
    const operation = target.slice(target.lastIndexOf('.') + 1) || target;
    return { service, operation, region, accessKeyId, protocol: 'json' };
  }
  const contentType = headerValue(headers, 'content-type') ?? '';
  const action =
    url.searchParams.get('Action') ??
    (contentType.includes('application/x-www-form-urlencoded')
      ? new URLSearchParams(body.toString('utf8')).get('Action')
      : null);
  if (action) return { service, operation: action, region, accessKeyId, protocol: 'query' };
  if (service === 'securityhub') {
    return {
      service,
      operation: securityHubOperation(method, path),
      region,
      accessKeyId,
      protocol: 'rest-json',
    };
  }
  return { service, operation: `${method} ${path}`, region, accessKeyId, protocol: 'other' };
}

const SERVER_ERROR_CODES: Record<number, string> = {
  500: 'InternalFailure',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'GatewayTimeout',
};

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The text of an XML element's content with its character and entity references resolved. */
export function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|quot|amp|lt|gt|apos);/gi, (_whole, entity: string) => {
    const named: Record<string, string> = { quot: '"', amp: '&', lt: '<', gt: '>', apos: "'" };
    const lower = entity.toLowerCase();
    if (lower.startsWith('#x')) return String.fromCodePoint(Number.parseInt(lower.slice(2), 16));
    if (lower.startsWith('#')) return String.fromCodePoint(Number.parseInt(lower.slice(1), 10));
    return named[lower] ?? '';
  });
}

/** An AWS error answer in the request's own wire protocol, as the AWS SDK v3 deserializers expect it. */
export function awsErrorResponse(
  info: RequestInfo,
  status: number,
  code: string,
  message: string,
): WireResponse {
  const requestId = randomUUID();
  switch (info.protocol) {
    case 'json':
      return {
        status,
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': requestId },
        body: JSON.stringify({ __type: code, message }),
      };
    case 'query':
      return {
        status,
        headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
        body: `<ErrorResponse><Error><Type>${status >= 500 ? 'Receiver' : 'Sender'}</Type><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
      };
    default:
      // restJson1 (and anything unknown): the code travels in x-amzn-ErrorType; Security Hub's error
      // shapes carry Code and Message.
      return {
        status,
        headers: {
          'content-type': 'application/json',
          'x-amzn-errortype': code,
          'x-amzn-requestid': requestId,
        },
        body: JSON.stringify({ Code: code, Message: message }),
      };
  }
}

/** The injected 5xx answer: the code each service sends for that status (Security Hub: InternalException). */
export function serverErrorResponse(info: RequestInfo, status: number): WireResponse {
  const code =
    info.service === 'securityhub' && status === 500
      ? 'InternalException'
      : (SERVER_ERROR_CODES[status] ?? 'InternalFailure');
  return awsErrorResponse(info, status, code, 'Injected server error (fault proxy)');
}

/** A 200 answer with a JSON body. */
export function jsonResponse(payload: unknown): WireResponse {
  return {
    status: 200,
    headers: { 'content-type': 'application/json', 'x-amzn-requestid': randomUUID() },
    body: JSON.stringify(payload),
  };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A JSON body: `{}` when empty, undefined when it is not JSON. */
export function parseJson(body: Buffer): unknown {
  if (body.length === 0) return {};
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'content-length',
]);

/** The end-to-end headers of a message (hop-by-hop ones and content-length dropped), for relaying. */
export function copyHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}
