import { CodedError } from '@vsh/core';
import { describe, expect, it } from 'vitest';
import { SecretsError } from './errors.ts';

describe('SecretsError', () => {
  it('is a CodedError that keeps its name, code, message, retryability and cause', () => {
    const cause = new Error('kms down');

    const error = new SecretsError('KMS_UNAVAILABLE', 'KMS Decrypt failed', true, { cause });

    expect(error).toBeInstanceOf(CodedError);
    expect(error).toMatchObject({
      name: 'SecretsError',
      code: 'KMS_UNAVAILABLE',
      message: 'KMS Decrypt failed',
      retryable: true,
      cause,
    });
  });
});
