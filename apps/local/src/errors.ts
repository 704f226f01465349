import { CodedError } from '@vsh/core';

export type LocalStackErrorCode =
  | 'data_dir_locked'
  | 'port_in_use'
  | 'aborted'
  | 'demo_failed'
  | 'not_local'
  | 'api_failed';

/** The local stack (`pnpm start` without configuration, `pnpm local deploy-role`) could not do its job. */
export class LocalStackError extends CodedError<LocalStackErrorCode> {
  override name = 'LocalStackError';
}

export { UsageError } from '@vsh/cli/dispatch';
