import { CodedError } from '@vsh/core';

export type SecretsErrorCode = 'DECRYPT_FAILED' | 'KEY_NOT_FOUND' | 'MALFORMED' | 'KMS_UNAVAILABLE';

/**
 * Every failure of this package. Messages say what went wrong and name key ids or tenant ids at most;
 * they never carry a plaintext, a data key or the sealed value itself.
 */
export class SecretsError extends CodedError<SecretsErrorCode> {
  override name = 'SecretsError';
  constructor(
    code: SecretsErrorCode,
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}
