import { z } from '@hono/zod-openapi';
import { ServiceError, type ServiceErrorCode } from './services/errors.ts';

/** Every reason the API answers with an error (closed set); the HTTP status follows from the code. */
export const API_ERROR_CODES = [
  'VALIDATION_FAILED',
  'MALFORMED_JSON',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'CONFLICT',
  'TENANT_OFFBOARDED',
  'NOT_CONFIGURED',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'ACCOUNT_MISMATCH',
  'PARTITION_MISMATCH',
  'ROLE_NAME_NOT_ALLOWED',
  'BASE_URL_NOT_ALLOWED',
  'VAIKORA_VERIFICATION_FAILED',
  'VAIKORA_KEY_UNREADABLE',
  'RATE_LIMITED',
  'NOT_READY',
  'INTERNAL',
  'NOT_AVAILABLE',
  'LOCAL_DEPLOY_FAILED',
  'REGISTRATION_TOKEN_EXPIRED',
] as const;
export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

export type ErrorStatus = 400 | 401 | 403 | 404 | 405 | 409 | 413 | 415 | 422 | 429 | 500 | 502 | 503;

/** The one code-to-status map; `satisfies` makes a missing or unknown code a type error. */
export const STATUS_OF = {
  VALIDATION_FAILED: 400,
  MALFORMED_JSON: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  TENANT_OFFBOARDED: 409,
  NOT_CONFIGURED: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  ACCOUNT_MISMATCH: 422,
  PARTITION_MISMATCH: 422,
  ROLE_NAME_NOT_ALLOWED: 422,
  BASE_URL_NOT_ALLOWED: 422,
  VAIKORA_VERIFICATION_FAILED: 422,
  VAIKORA_KEY_UNREADABLE: 409,
  RATE_LIMITED: 429,
  NOT_READY: 503,
  INTERNAL: 500,
  NOT_AVAILABLE: 409,
  LOCAL_DEPLOY_FAILED: 502,
  REGISTRATION_TOKEN_EXPIRED: 401,
} as const satisfies Record<ApiErrorCode, ErrorStatus>;

/**
 * The API's one error type. The message is shown to the caller as is, so it must never carry a
 * secret, a stack or an internal detail; `headers` go on the response (e.g. `Retry-After`).
 */
export class ApiError extends Error {
  override name = 'ApiError';
  readonly status: ErrorStatus;

  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.status = STATUS_OF[code];
  }
}

/** The API code of each refusal of the application layer: the one ServiceError-to-HTTP mapping. */
const API_CODE_OF = {
  invalid_input: 'VALIDATION_FAILED',
  not_found: 'NOT_FOUND',
  conflict: 'CONFLICT',
  tenant_offboarded: 'TENANT_OFFBOARDED',
  not_configured: 'NOT_CONFIGURED',
  not_available: 'NOT_AVAILABLE',
  account_mismatch: 'ACCOUNT_MISMATCH',
  partition_mismatch: 'PARTITION_MISMATCH',
  role_name_not_allowed: 'ROLE_NAME_NOT_ALLOWED',
  base_url_not_allowed: 'BASE_URL_NOT_ALLOWED',
  vaikora_verification_failed: 'VAIKORA_VERIFICATION_FAILED',
  vaikora_key_unreadable: 'VAIKORA_KEY_UNREADABLE',
  local_deploy_failed: 'LOCAL_DEPLOY_FAILED',
  token_invalid: 'UNAUTHORIZED',
  token_expired: 'REGISTRATION_TOKEN_EXPIRED',
} as const satisfies Record<ServiceErrorCode, ApiErrorCode>;

/** The API error a service's refusal answers with: same message, the code and status of API_CODE_OF. */
export function apiErrorOf(err: ServiceError): ApiError {
  return new ApiError(API_CODE_OF[err.code], err.message, {}, { cause: err });
}

/** A thrown value as the API error it answers with; undefined for an unexpected one (a 500). */
export function asApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (err instanceof ServiceError) return apiErrorOf(err);
  return undefined;
}

/** The body of every error response. */
const errorBodySchema = z
  .object({
    error: z.object({
      code: z.enum(API_ERROR_CODES),
      message: z.string(),
      requestId: z.string(),
    }),
  })
  .openapi('Error');

export type ErrorBody = z.infer<typeof errorBodySchema>;

/** Builds the error body for a code, message and request id. */
export function errorBody(code: ApiErrorCode, message: string, requestId: string): ErrorBody {
  return { error: { code, message, requestId } };
}

const DESCRIPTIONS: Record<ErrorStatus, string> = {
  400: 'The request is malformed or a field is invalid (VALIDATION_FAILED, MALFORMED_JSON).',
  401: 'No API key, or an unknown or revoked one (UNAUTHORIZED).',
  403: 'The key may not use this operation (FORBIDDEN).',
  404: 'No such resource for this key (NOT_FOUND).',
  405: 'The path exists but not with this method (METHOD_NOT_ALLOWED).',
  409: 'The resource is in a state that refuses the change (CONFLICT, TENANT_OFFBOARDED, NOT_CONFIGURED, NOT_AVAILABLE).',
  413: 'The body is larger than the limit (PAYLOAD_TOO_LARGE).',
  415: 'The body is not JSON (UNSUPPORTED_MEDIA_TYPE).',
  422: 'The request is well formed but cannot be applied (see the code).',
  429: 'Too many requests for this key; see Retry-After (RATE_LIMITED).',
  500: 'An unexpected error (INTERNAL); the request id identifies it in the logs.',
  502: 'A service this operation depends on failed (LOCAL_DEPLOY_FAILED); the request id identifies it in the logs.',
  503: 'Not ready to serve (NOT_READY).',
};

/** OpenAPI `responses` entries for the given error statuses, all with the one error body. */
export function errorResponses(...statuses: ErrorStatus[]) {
  const out: Record<
    string,
    { description: string; content: { 'application/json': { schema: typeof errorBodySchema } } }
  > = {};
  for (const status of statuses) {
    out[String(status)] = {
      description: DESCRIPTIONS[status],
      content: { 'application/json': { schema: errorBodySchema } },
    };
  }
  return out;
}
