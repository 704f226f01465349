import { describe, expect, it } from 'vitest';
import { dbErrorCause, isConnectionError, pgErrorOf } from './errors.ts';

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

describe('dbErrorCause', () => {
  it("keeps the server's code and message, never drizzle's SQL and parameters or the driver's query fields", () => {
    const driver = Object.assign(
      new Error('unsupported Unicode escape sequence\nDETAIL: \\u0000 cannot be converted'),
      {
        code: '22P05',
        query: 'insert into "rejected_records" values ($1)',
        parameters: ['{"secret":"raw"}'],
      },
    );
    const drizzle = new Error(
      'Failed query: insert into "rejected_records" values ($1)\nparams: {"secret":"raw"}',
      {
        cause: driver,
      },
    );

    const cause = dbErrorCause(drizzle);

    expect(cause).toEqual({
      code: '22P05',
      message: 'unsupported Unicode escape sequence',
      constraint: undefined,
    });
    expect(JSON.stringify(cause)).not.toMatch(/insert|secret|params/);
  });

  it("keeps a lost connection's driver code, and only the name of an error without a code", () => {
    const lost = new Error('Failed query: select 1', { cause: withCode('CONNECTION_ENDED') });

    expect(dbErrorCause(lost)).toMatchObject({ code: 'CONNECTION_ENDED' });
    expect(dbErrorCause(new TypeError('Failed query: select $1 params: secret'))).toEqual({
      code: 'unknown',
      message: 'TypeError',
      constraint: undefined,
    });
    expect(dbErrorCause(null)).toEqual({ code: 'unknown', message: 'object', constraint: undefined });
  });
});
