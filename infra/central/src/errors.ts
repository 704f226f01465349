import { CodedError } from '@vsh/core';

export type CentralStackErrorCode =
  | 'invalid_worker_role_name'
  | 'invalid_secret_arn'
  | 'invalid_template_url'
  | 'invalid_partner_product'
  | 'invalid_allowed_hosts'
  | 'invalid_concurrency'
  | 'invalid_email'
  | 'invalid_alarm_threshold'
  | 'invalid_context';

/** A central-stack property or context value that cannot produce a working stack. */
export class CentralStackError extends CodedError<CentralStackErrorCode> {
  override name = 'CentralStackError';
}
