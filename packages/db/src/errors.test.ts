import { describe, expect, it } from 'vitest';
import { isConnectionError, pgErrorOf } from './errors.ts';

const withCode = (code: string, cause?: unknown) => Object.assign(new Error(code), { code, cause });

describe('isConnectionError', () => {
  it.each([
    ['a reset socket', withCode('ECONNRESET')],
    ['a refused connection', withCode('ECONNREFUSED')],
    ["postgres-js's closed connection", withCode('CONNECTION_CLOSED')],
    ['SQLSTATE 08006 (connection failure)', withCode('08006')],
    ['SQLSTATE 57P01 (admin shutdown)', withCode('57P01')],
    ['a drizzle query error over a reset', new Error('Failed query', { cause: withCode('ECONNRESET') })],
  ])('%s is one', (_name, error) => {
    expect(isConnectionError(error)).toBe(true);
  });

  it.each([
    ['a unique violation', withCode('23505')],
    ['a plain error', new Error('boom')],
    ['not an error', 'ECONNRESET'],
    ['null', null],
  ])('%s is not', (_name, error) => {
    expect(isConnectionError(error)).toBe(false);
  });
});

describe('pgErrorOf', () => {
  it('finds the SQLSTATE and constraint under a drizzle error', () => {
    const driver = Object.assign(new Error('duplicate'), {
      code: '23505',
      constraint_name: 'tenants_name_key',
    });

    expect(pgErrorOf(new Error('Failed query', { cause: driver }))).toEqual({
      code: '23505',
      constraint: 'tenants_name_key',
    });
  });
});
