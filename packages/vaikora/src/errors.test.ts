import { CodedError } from '@vsh/core';
import { describe, expect, it } from 'vitest';
import { VaikoraError } from './errors.ts';

describe('VaikoraError', () => {
  it('is a CodedError that keeps its name, code, details and cause', () => {
    const cause = new Error('socket hang up');

    const error = new VaikoraError('RATE_LIMITED', 'too many requests', true, {
      status: 429,
      retryAfterMs: 2000,
      attempts: 3,
      cause,
    });

    expect(error).toBeInstanceOf(CodedError);
    expect(error).toMatchObject({
      name: 'VaikoraError',
      code: 'RATE_LIMITED',
      message: 'too many requests',
      retryable: true,
      status: 429,
      retryAfterMs: 2000,
      attempts: 3,
      cause,
    });
    expect(error.toJSON()).toMatchObject({ code: 'RATE_LIMITED', cause: { message: 'socket hang up' } });
  });
});
