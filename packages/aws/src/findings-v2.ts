import { setTimeout as delay } from 'node:timers/promises';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { awsRegionSchema, CodedError, type OcsfDetectionFinding } from '@vsh/core';
import { z } from 'zod';
import { timedRequestHandler } from './request-handler.ts';

/**
 * `BatchImportFindingsV2` is in partner preview and absent from the public SDK and API reference: its
 * path, body and answer here are assumptions (ADR 0120) modelled on the published V2 operations
 * (`GetFindingsV2` at `POST /findingsv2`, `BatchUpdateFindingsV2` at `PATCH /findingsv2/batchupdatev2`).
 */
export const FINDINGS_V2_IMPORT_PATH = '/findingsv2/import';
/** Findings per call (the issue's limit, as for BatchImportFindings). */
export const FINDINGS_V2_BATCH_LIMIT = 100;

/** The closed set of reasons a BatchImportFindingsV2 call fails for as a whole. */
export const FINDINGS_V2_ERROR_CODES = [
  /** The preview flag is off: nothing is sent. */
  'PREVIEW_DISABLED',
  /** 401/403: the caller may not import (not allow-listed for the preview, policy, credentials). */
  'ACCESS_DENIED',
  /** 404: the operation or the account's Security Hub is not there (preview not enabled in the region). */
  'NOT_FOUND',
  /** 400/413/422 and other 4xx: the request itself is refused. */
  'INVALID_INPUT',
  /** 429 after every attempt. */
  'THROTTLED',
  /** 5xx, timeouts and network errors after every attempt. */
  'TRANSIENT',
  'UNKNOWN',
] as const;
export type FindingsV2ErrorCode = (typeof FINDINGS_V2_ERROR_CODES)[number];

/** The one error type of the BatchImportFindingsV2 sender. */
export class FindingsV2Error extends CodedError<FindingsV2ErrorCode> {
  override name = 'FindingsV2Error';
  constructor(
    code: FindingsV2ErrorCode,
    message: string,
    /** The HTTP status and the service's error type, when there was an answer. */
    readonly status?: number,
    readonly awsCode?: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }

  get retryable(): boolean {
    return this.code === 'THROTTLED' || this.code === 'TRANSIENT';
  }
}

/** Per-finding error codes that a later call can fix; the rest (ValidationException, ...) cannot. */
const RETRYABLE_FINDING_CODES: ReadonlySet<string> = new Set([
  'InternalServerException',
  'InternalFailure',
  'ThrottlingException',
  'ConflictException',
  'ServiceUnavailableException',
]);

const identifierSchema = z.looseObject({ FindingInfoUid: z.string().optional() });
/** The assumed answer: BatchUpdateFindingsV2's shape (Processed/Unprocessed) plus BatchImportFindings' counts. */
const responseSchema = z.looseObject({
  ProcessedFindings: z
    .array(
      z.looseObject({ FindingIdentifier: identifierSchema.optional(), MetadataUid: z.string().optional() }),
    )
    .optional(),
  UnprocessedFindings: z
    .array(
      z.looseObject({
        FindingIdentifier: identifierSchema.optional(),
        MetadataUid: z.string().optional(),
        ErrorCode: z.string().optional(),
        ErrorMessage: z.string().optional(),
      }),
    )
    .optional(),
  FailedCount: z.number().int().nonnegative().optional(),
});

export interface FindingsV2Failure {
  /** `finding_info.uid`. */
  readonly findingId: string;
  /** The service's per-finding error code, or THROTTLED/TRANSIENT when the call itself ran out of attempts. */
  readonly errorCode: string;
  readonly message: string;
  /** Whether sending the finding again later can help. */
  readonly retryable: boolean;
}

export interface FindingsV2Result {
  readonly imported: string[];
  readonly failed: FindingsV2Failure[];
  readonly stats: { requests: number; retries: number };
}

export interface FindingsV2SenderOptions {
  /** The preview flag: the sender refuses to exist without it. */
  readonly previewEnabled: boolean;
  readonly region: string;
  /** The destination's credentials (the assumed role's provider, shared with its other clients). */
  readonly credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Default `https://securityhub.<region>.amazonaws.com`; tests point it at a local server. */
  readonly endpoint?: string | undefined;
  /** HTTP attempts per call on 429, 5xx and network errors; default 4. */
  readonly maxAttempts?: number | undefined;
  readonly backoffBaseMs?: number | undefined;
  readonly backoffMaxMs?: number | undefined;
  readonly requestTimeoutMs?: number | undefined;
  readonly sleep?: ((ms: number) => Promise<void>) | undefined;
  readonly random?: (() => number) | undefined;
}

export interface FindingsV2Sender {
  /**
   * Imports OCSF findings with BatchImportFindingsV2, at most 100 per call. Per-finding failures (and
   * findings of a call that ran out of attempts on 429/5xx) are data; a 4xx refusal of a call throws
   * FindingsV2Error, as it would refuse every other call too.
   */
  send(findings: readonly OcsfDetectionFinding[]): Promise<FindingsV2Result>;
  /** Closes the sockets. */
  destroy(): void;
}

/** Creates the BatchImportFindingsV2 sender of one destination (one account and region). */
export function createFindingsV2Sender(options: FindingsV2SenderOptions): FindingsV2Sender {
  if (!options.previewEnabled) {
    throw new FindingsV2Error(
      'PREVIEW_DISABLED',
      'BatchImportFindingsV2 is a partner preview and its flag is off',
    );
  }
  const region = awsRegionSchema.parse(options.region);
  const endpoint = new URL(options.endpoint ?? `https://securityhub.${region}.amazonaws.com`);
  const maxAttempts = options.maxAttempts ?? 4;
  const backoffBaseMs = options.backoffBaseMs ?? 200;
  const backoffMaxMs = options.backoffMaxMs ?? 5_000;
  const sleep = options.sleep ?? ((ms: number) => delay(ms));
  const random = options.random ?? Math.random;
  if (!(maxAttempts >= 1)) throw new RangeError('maxAttempts must be >= 1');
  // Signed by hand because no SDK client has this operation; the SDK's own signer, hash and handler.
  const signer = new SignatureV4({
    service: 'securityhub',
    region,
    credentials: options.credentials,
    sha256: Sha256,
  });
  const handler = timedRequestHandler(options.requestTimeoutMs ?? 30_000);

  const post = async (
    body: string,
  ): Promise<{ status: number; headers: Record<string, string>; text: string }> => {
    const request = new HttpRequest({
      method: 'POST',
      protocol: endpoint.protocol,
      hostname: endpoint.hostname,
      ...(endpoint.port === '' ? {} : { port: Number(endpoint.port) }),
      path: FINDINGS_V2_IMPORT_PATH,
      headers: {
        host: endpoint.host,
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
      },
      body,
    });
    const signed = await signer.sign(request);
    const { response } = await handler.handle(signed as HttpRequest);
    const chunks: Buffer[] = [];
    for await (const chunk of response.body as AsyncIterable<Buffer>) chunks.push(chunk);
    return {
      status: response.statusCode,
      headers: response.headers,
      text: Buffer.concat(chunks).toString('utf8'),
    };
  };

  return {
    async send(findings) {
      const unique = new Map<string, OcsfDetectionFinding>();
      for (const finding of findings) unique.set(finding.finding_info.uid, finding);
      const all = [...unique.values()];
      const imported: string[] = [];
      const failed: FindingsV2Failure[] = [];
      const stats = { requests: 0, retries: 0 };

      for (let start = 0; start < all.length; start += FINDINGS_V2_BATCH_LIMIT) {
        const batch = all.slice(start, start + FINDINGS_V2_BATCH_LIMIT);
        const body = JSON.stringify({ Findings: batch });
        let outcome: { status: number; headers: Record<string, string>; text: string } | undefined;
        let lastError: FindingsV2Error | undefined;
        for (let attempt = 1; attempt <= maxAttempts; attempt++) {
          if (attempt > 1) {
            stats.retries++;
            const ceiling = Math.min(backoffMaxMs, backoffBaseMs * 2 ** (attempt - 2));
            await sleep(ceiling / 2 + random() * (ceiling / 2));
          }
          stats.requests++;
          try {
            const answer = await post(body);
            if (answer.status >= 200 && answer.status < 300) {
              outcome = answer;
              break;
            }
            lastError = httpError(answer);
            if (!lastError.retryable) throw lastError;
          } catch (err) {
            if (err instanceof FindingsV2Error && !err.retryable) throw err;
            lastError =
              err instanceof FindingsV2Error
                ? err
                : new FindingsV2Error('TRANSIENT', `network: ${errorName(err)}`, undefined, undefined, {
                    cause: err,
                  });
          }
        }
        if (outcome === undefined) {
          const error = lastError ?? new FindingsV2Error('UNKNOWN', 'no attempt made');
          for (const finding of batch) {
            failed.push({
              findingId: finding.finding_info.uid,
              errorCode: error.code,
              message: `${error.message} (gave up after ${maxAttempts} attempts)`,
              retryable: true,
            });
          }
          continue;
        }
        settle(batch, outcome.text, imported, failed);
      }
      return { imported, failed, stats };
    },
    destroy() {
      handler.destroy();
    },
  };
}

/** Splits a 2xx answer into imported and failed findings. A failure it cannot tie to a finding fails the batch's unlisted ones. */
function settle(
  batch: readonly OcsfDetectionFinding[],
  text: string,
  imported: string[],
  failed: FindingsV2Failure[],
): void {
  let json: unknown;
  try {
    json = text === '' ? {} : JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = responseSchema.safeParse(json);
  if (!parsed.success) {
    // Whether anything was imported is unknown: resending is safe (an import by the same uid updates).
    for (const finding of batch) {
      failed.push({
        findingId: finding.finding_info.uid,
        errorCode: 'UnreadableResponse',
        message: 'the answer did not parse',
        retryable: true,
      });
    }
    return;
  }
  const failures = new Map<string, { code: string; message: string }>();
  let untied = 0;
  for (const item of parsed.data.UnprocessedFindings ?? []) {
    const uid = item.FindingIdentifier?.FindingInfoUid;
    const failure = { code: item.ErrorCode ?? 'UnknownError', message: item.ErrorMessage ?? '' };
    if (uid === undefined) untied++;
    else failures.set(uid, failure);
  }
  const unexplained = untied > 0 || (parsed.data.FailedCount ?? 0) > failures.size;
  for (const finding of batch) {
    const uid = finding.finding_info.uid;
    const failure = failures.get(uid);
    if (failure !== undefined) {
      failed.push({
        findingId: uid,
        errorCode: failure.code,
        message: failure.message,
        retryable: RETRYABLE_FINDING_CODES.has(failure.code),
      });
    } else if (unexplained) {
      failed.push({
        findingId: uid,
        errorCode: 'UnlistedFailure',
        message: 'more failures than findings named',
        retryable: true,
      });
    } else {
      imported.push(uid);
    }
  }
}

/** A non-2xx answer as a FindingsV2Error: the code from the status, the service's error type kept. */
function httpError(answer: {
  status: number;
  headers: Record<string, string>;
  text: string;
}): FindingsV2Error {
  const awsCode = errorType(answer);
  const { status } = answer;
  const code: FindingsV2ErrorCode =
    status === 429 || awsCode === 'ThrottlingException' || awsCode === 'TooManyRequestsException'
      ? 'THROTTLED'
      : status >= 500
        ? 'TRANSIENT'
        : status === 401 || status === 403
          ? 'ACCESS_DENIED'
          : status === 404
            ? 'NOT_FOUND'
            : status >= 400
              ? 'INVALID_INPUT'
              : 'UNKNOWN';
  return new FindingsV2Error(code, `HTTP ${status}${awsCode ? ` ${awsCode}` : ''}`, status, awsCode);
}

/** The service's error type: the `x-amzn-errortype` header or the body's `__type`/`code`, without namespace. */
function errorType(answer: { headers: Record<string, string>; text: string }): string | undefined {
  const header = Object.entries(answer.headers).find(
    ([name]) => name.toLowerCase() === 'x-amzn-errortype',
  )?.[1];
  let raw = header;
  if (raw === undefined) {
    try {
      const body = JSON.parse(answer.text) as { __type?: unknown; code?: unknown };
      raw =
        typeof body.__type === 'string' ? body.__type : typeof body.code === 'string' ? body.code : undefined;
    } catch {
      raw = undefined;
    }
  }
  const name = raw?.split(':')[0]?.split('#').pop();
  return name === undefined || name === '' ? undefined : name.slice(0, 100);
}

function errorName(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}`.slice(0, 300) : 'unknown error';
}
