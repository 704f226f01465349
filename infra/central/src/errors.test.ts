import { CodedError } from '@vsh/core';
import { describe, expect, it } from 'vitest';
import { CentralStackError } from './errors.ts';

describe('CentralStackError', () => {
  it('is a CodedError that keeps its name, code, message and cause', () => {
    const cause = new Error('bad context');

    const error = new CentralStackError('invalid_context', 'context x must be a string', { cause });

    expect(error).toBeInstanceOf(CodedError);
    expect(error).toMatchObject({
      name: 'CentralStackError',
      code: 'invalid_context',
      message: 'context x must be a string',
      cause,
    });
  });
});
