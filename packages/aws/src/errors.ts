import { isServerError, isThrottlingError, isTransientError } from '@smithy/core/retry';
import { CodedError } from '@vsh/core';

/** The closed set of reasons an AWS call (STS, Security Hub, DynamoDB) can fail for. */
export const AWS_ERROR_CODES = [
  /** AssumeRole refused: wrong trust policy or ExternalId, or the role does not exist. */
  'ROLE_UNUSABLE',
  /** STS is not enabled in the region (opt-in region not turned on). */
  'REGION_UNUSABLE',
  /** Security Hub is not enabled in that account and region. */
  'SECURITY_HUB_NOT_ENABLED',
  /** The assumed role may not call Security Hub (policy, SCP, wrong account or ProductArn). */
  'ACCESS_DENIED',
  /**
   * Partner-product mode (ADR 0121): the customer's hub has not accepted findings from Data443's
   * product in that region (EnableImportFindingsForProduct), or it is not enabled there.
   */
  'PRODUCT_NOT_ENABLED',
  /** A Security Lake destination's bucket does not exist (Security Lake off in that region, or a wrong name). */
  'NO_SUCH_BUCKET',
  'THROTTLED',
  /** Network errors, timeouts, 5xx, InternalException: the same call can succeed later. */
  'TRANSIENT',
  'INVALID_INPUT',
  'UNKNOWN',
] as const;
export type AwsErrorCode = (typeof AWS_ERROR_CODES)[number];

const RETRYABLE: Readonly<Record<AwsErrorCode, boolean>> = {
  ROLE_UNUSABLE: false,
  REGION_UNUSABLE: false,
  SECURITY_HUB_NOT_ENABLED: false,
  ACCESS_DENIED: false,
  PRODUCT_NOT_ENABLED: false,
  NO_SUCH_BUCKET: false,
  THROTTLED: true,
  TRANSIENT: true,
  INVALID_INPUT: false,
  UNKNOWN: false,
};

/** Codes after which nothing more is sent to the destination in this run: retrying cannot help. */
export const STOP_DESTINATION_CODES: ReadonlySet<AwsErrorCode> = new Set<AwsErrorCode>([
  'ROLE_UNUSABLE',
  'REGION_UNUSABLE',
  'SECURITY_HUB_NOT_ENABLED',
  'ACCESS_DENIED',
  'PRODUCT_NOT_ENABLED',
  'NO_SUCH_BUCKET',
]);

/** Whether an AwsError code is retryable by default. */
export function isRetryableCode(code: AwsErrorCode): boolean {
  return RETRYABLE[code];
}

/** The one error type of the AWS adapters, with a closed set of codes; the SDK error is kept as `cause`. */
export class AwsError extends CodedError<AwsErrorCode> {
  override name = 'AwsError';
  /** The AWS error code as the service sent it (the SDK error's name), when there was one. */
  readonly awsCode: string | undefined;
  /**
   * Finding ids an import call had imported before this error stopped it: they are in Security Hub, and
   * a caller that forgot them would send them again (billed again) in its next run.
   */
  readonly importedBefore: readonly string[];
  constructor(
    code: AwsErrorCode,
    message: string,
    readonly retryable: boolean = RETRYABLE[code],
    options?: { cause?: unknown; awsCode?: string | undefined; importedBefore?: readonly string[] },
  ) {
    super(code, message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.awsCode = options?.awsCode;
    this.importedBefore = options?.importedBefore ?? [];
  }

  /** True when the destination must be stopped for this run (see STOP_DESTINATION_CODES). */
  get stopsDestination(): boolean {
    return STOP_DESTINATION_CODES.has(this.code);
  }
}

// Only the service codes the SDK's own classification does not already cover: which API refused
// and why decides whether a retry can help, and the SDK cannot know that.
const CODE_BY_NAME: Readonly<Record<string, AwsErrorCode>> = {
  // STS AssumeRole: trust policy, ExternalId or role missing. Security Hub says AccessDeniedException.
  AccessDenied: 'ROLE_UNUSABLE',
  RegionDisabledException: 'REGION_UNUSABLE',
  // A regional STS endpoint in an opt-in region that the caller's account has not enabled.
  InvalidClientTokenId: 'REGION_UNUSABLE',
  InvalidAccessException: 'SECURITY_HUB_NOT_ENABLED',
  AccessDeniedException: 'ACCESS_DENIED',
  InvalidInputException: 'INVALID_INPUT',
  ValidationException: 'INVALID_INPUT',
  InternalException: 'TRANSIENT',
  // undici's errors, where nothing renamed them (ADR 0129): a stalled or cut answer, a connection not made.
  HeadersTimeoutError: 'TRANSIENT',
  BodyTimeoutError: 'TRANSIENT',
  ConnectTimeoutError: 'TRANSIENT',
  SocketError: 'TRANSIENT',
};

interface ErrorShape {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  $fault?: unknown;
  $metadata?: { httpStatusCode?: number };
  $retryable?: { throttling?: boolean };
}

/**
 * Maps any error from an AWS SDK call (service exceptions, network errors, timeouts, credential
 * provider failures) to an AwsError. Throttling, transient and server errors are recognised by the
 * SDK's own classification (`$retryable`, status codes, error names); service-specific codes by name.
 */
export function classifyAwsError(err: unknown): AwsError {
  if (err instanceof AwsError) return err;
  const shape: ErrorShape = typeof err === 'object' && err !== null ? (err as ErrorShape) : {};
  const name = typeof shape.name === 'string' ? shape.name : 'Error';
  const detail = typeof shape.message === 'string' && shape.message !== '' ? shape.message : String(err);
  const code = codeFor(name, shape);
  return new AwsError(code, `${name}: ${detail}`, RETRYABLE[code], { cause: err, awsCode: name });
}

function codeFor(name: string, shape: ErrorShape): AwsErrorCode {
  const byName = CODE_BY_NAME[name];
  if (byName !== undefined) return byName;
  // The smithy classifiers read `name`, `code`, `$metadata` and `$retryable`, all optional.
  const sdkError = shape as Parameters<typeof isThrottlingError>[0];
  if (isThrottlingError(sdkError)) return 'THROTTLED';
  if (isTransientError(sdkError) || isServerError(sdkError) || shape.$fault === 'server') return 'TRANSIENT';
  return 'UNKNOWN';
}
