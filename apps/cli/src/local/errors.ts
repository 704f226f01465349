export type LocalStackErrorCode =
  | 'data_dir_locked'
  | 'port_in_use'
  | 'aborted'
  | 'demo_failed'
  | 'not_local'
  | 'api_failed';

/** The local stack (`connector start` without configuration, `connector local ...`) could not do its job. */
export class LocalStackError extends Error {
  override name = 'LocalStackError';
  constructor(
    readonly code: LocalStackErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
