import {
  AccessDeniedException,
  InternalException,
  InvalidAccessException,
  InvalidInputException,
  LimitExceededException,
  SecurityHubServiceException,
} from '@aws-sdk/client-securityhub';
import { RegionDisabledException, STSServiceException } from '@aws-sdk/client-sts';
import { CodedError } from '@vsh/core';
import { describe, expect, it } from 'vitest';
import { AwsError, type AwsErrorCode, classifyAwsError } from './errors.ts';

const meta = (httpStatusCode: number) => ({ $metadata: { httpStatusCode } });

function serviceError(name: string, httpStatusCode: number, fault: 'client' | 'server' = 'client') {
  return new SecurityHubServiceException({
    name,
    $fault: fault,
    message: `${name} happened`,
    ...meta(httpStatusCode),
  });
}

function nodeError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:1`), { code });
}

const cases: Array<[string, unknown, AwsErrorCode, boolean]> = [
  [
    'STS AccessDenied (trust policy or ExternalId)',
    new STSServiceException({
      name: 'AccessDenied',
      $fault: 'client',
      message: 'not authorized',
      ...meta(403),
    }),
    'ROLE_UNUSABLE',
    false,
  ],
  [
    'STS RegionDisabledException',
    new RegionDisabledException({ $metadata: { httpStatusCode: 403 }, message: 'STS is not activated' }),
    'REGION_UNUSABLE',
    false,
  ],
  [
    'STS InvalidClientTokenId (opt-in region)',
    new STSServiceException({
      name: 'InvalidClientTokenId',
      $fault: 'client',
      message: 'invalid',
      ...meta(403),
    }),
    'REGION_UNUSABLE',
    false,
  ],
  [
    'Security Hub InvalidAccessException',
    new InvalidAccessException({ $metadata: { httpStatusCode: 401 }, message: 'not subscribed' }),
    'SECURITY_HUB_NOT_ENABLED',
    false,
  ],
  [
    'Security Hub AccessDeniedException',
    new AccessDeniedException({ $metadata: { httpStatusCode: 403 }, message: 'not authorized' }),
    'ACCESS_DENIED',
    false,
  ],
  [
    'Security Hub InvalidInputException',
    new InvalidInputException({ $metadata: { httpStatusCode: 400 }, message: 'bad' }),
    'INVALID_INPUT',
    false,
  ],
  [
    'Security Hub InternalException',
    new InternalException({ $metadata: { httpStatusCode: 500 }, message: 'oops' }),
    'TRANSIENT',
    true,
  ],
  [
    'Security Hub LimitExceededException (its modeled throttle)',
    new LimitExceededException({ $metadata: { httpStatusCode: 429 }, message: 'limit' }),
    'THROTTLED',
    true,
  ],
  ['HTTP 429 TooManyRequestsException', serviceError('TooManyRequestsException', 429), 'THROTTLED', true],
  ['ThrottlingException by name', serviceError('ThrottlingException', 400), 'THROTTLED', true],
  ['an unmodeled 503', serviceError('ServiceUnavailable', 503, 'server'), 'TRANSIENT', true],
  ['an unmodeled 501 server fault', serviceError('NotImplemented', 501, 'server'), 'TRANSIENT', true],
  ['connection reset', nodeError('ECONNRESET'), 'TRANSIENT', true],
  ['connection refused', nodeError('ECONNREFUSED'), 'TRANSIENT', true],
  ['a request timeout', Object.assign(new Error('timed out'), { name: 'TimeoutError' }), 'TRANSIENT', true],
  ['an abort by the caller', Object.assign(new Error('aborted'), { name: 'AbortError' }), 'UNKNOWN', false],
  ['an unknown client error', serviceError('SomethingNew', 400), 'UNKNOWN', false],
  ['not an Error at all', 'boom', 'UNKNOWN', false],
];

describe('classifyAwsError', () => {
  it.each(cases)('classifies %s', (_label, err, code, retryable) => {
    const classified = classifyAwsError(err);

    expect(classified).toBeInstanceOf(AwsError);
    expect(classified.code).toBe(code);
    expect(classified.retryable).toBe(retryable);
    expect(classified.cause).toBe(err);
  });

  it('keeps the AWS code and message in the error', () => {
    const err = new AccessDeniedException({
      $metadata: { httpStatusCode: 403 },
      message: 'User is not authorized',
    });

    const classified = classifyAwsError(err);

    expect(classified.awsCode).toBe('AccessDeniedException');
    expect(classified.message).toBe('AccessDeniedException: User is not authorized');
    expect(classified.name).toBe('AwsError');
  });

  it('returns an AwsError unchanged', () => {
    const original = new AwsError('ROLE_UNUSABLE', 'no', false);

    expect(classifyAwsError(original)).toBe(original);
  });

  it('marks exactly the access and enablement codes as stopping the destination', () => {
    const stops = (
      ['ROLE_UNUSABLE', 'REGION_UNUSABLE', 'SECURITY_HUB_NOT_ENABLED', 'ACCESS_DENIED'] as const
    ).map((code) => new AwsError(code, code).stopsDestination);
    const continues = (['THROTTLED', 'TRANSIENT', 'INVALID_INPUT', 'UNKNOWN'] as const).map(
      (code) => new AwsError(code, code).stopsDestination,
    );

    expect(stops).toEqual([true, true, true, true]);
    expect(continues).toEqual([false, false, false, false]);
  });
});

describe('AwsError', () => {
  it('is a CodedError that keeps its name, code, retryability, AWS code and cause', () => {
    const cause = new Error('boom');

    const error = new AwsError('THROTTLED', 'slow down', undefined, {
      cause,
      awsCode: 'ThrottlingException',
    });

    expect(error).toBeInstanceOf(CodedError);
    expect(error).toMatchObject({
      name: 'AwsError',
      code: 'THROTTLED',
      message: 'slow down',
      retryable: true,
      awsCode: 'ThrottlingException',
      cause,
    });
  });
});
