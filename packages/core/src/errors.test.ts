import { describe, expect, it } from 'vitest';
import { CodedError, errorInfo, errorMessage } from './errors.ts';

class SampleError extends CodedError<'bad_input' | 'gone'> {
  override name = 'SampleError';
}

describe('errorMessage', () => {
  it('takes an Error message and the string form of anything else', () => {
    expect(errorMessage(new Error('boom'))).toBe('boom');
    expect(errorMessage('plain')).toBe('plain');
    expect(errorMessage(42)).toBe('42');
    expect(errorMessage(undefined)).toBe('undefined');
  });
});

describe('errorInfo', () => {
  it('keeps a string code and drops any other', () => {
    expect(errorInfo(new SampleError('gone', 'it left'))).toEqual({
      name: 'SampleError',
      message: 'it left',
      code: 'gone',
    });
    const numeric = Object.assign(new Error('x'), { code: 5 });
    expect(errorInfo(numeric)).toEqual({ name: 'Error', message: 'x' });
    expect(errorInfo({ not: 'an error' })).toEqual({ name: 'unknown', message: '[object Object]' });
  });
});

describe('CodedError', () => {
  it('carries its code, name, message and cause', () => {
    const cause = new Error('root');
    const err = new SampleError('bad_input', 'field x is wrong', { cause });
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('bad_input');
    expect(err.name).toBe('SampleError');
    expect(err.message).toBe('field x is wrong');
    expect(err.cause).toBe(cause);
  });
});
