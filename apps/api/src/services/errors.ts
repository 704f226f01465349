import { CodedError } from '@vsh/core';

/**
 * Every reason a service refuses (closed set). Services know nothing of HTTP: the API maps each code to
 * its error code and status in one place (errors.ts), and the pages map it to what they show.
 */
export const SERVICE_ERROR_CODES = [
  'invalid_input',
  'not_found',
  'conflict',
  'tenant_offboarded',
  'not_configured',
  'not_available',
  'account_mismatch',
  'partition_mismatch',
  'role_name_not_allowed',
  'base_url_not_allowed',
  'vaikora_verification_failed',
  'vaikora_key_unreadable',
  'local_deploy_failed',
  'token_invalid',
  'token_expired',
] as const;
export type ServiceErrorCode = (typeof SERVICE_ERROR_CODES)[number];

/**
 * The application layer's one error type. The message is shown to the caller as is (API body, page),
 * so it must never carry a secret, a stack or an internal detail.
 */
export class ServiceError extends CodedError<ServiceErrorCode> {
  override name = 'ServiceError';
}
