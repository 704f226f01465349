import { S3ServiceException } from '@aws-sdk/client-s3';
import { type OcsfDetectionFinding, parseAction, toOcsfDetectionFinding } from '@vsh/core';
import { parquetReadObjects } from 'hyparquet';
import { describe, expect, it } from 'vitest';
import { AwsError } from './errors.ts';
import {
  classifySecurityLakeError,
  createSecurityLakeWriter,
  encodeOcsfParquet,
  securityLakePrefix,
} from './security-lake.ts';

function s3Error(name: string, status: number, fault: 'client' | 'server' = 'client'): S3ServiceException {
  return new S3ServiceException({
    name,
    $fault: fault,
    $metadata: { httpStatusCode: status },
    message: name,
  });
}

function finding(): OcsfDetectionFinding {
  const parsed = parseAction({ id: 'a-1', timestamp: '2026-11-01T12:00:00Z', risk_score: 80 });
  if (!parsed.ok) throw new Error(parsed.rejection.reason);
  return toOcsfDetectionFinding(parsed.action, {
    destination: { accountId: '123456789012', region: 'eu-west-1', partition: 'aws' },
    now: '2026-12-04T00:00:00.000Z',
  });
}

describe('classifySecurityLakeError', () => {
  it.each([
    [s3Error('AccessDenied', 403), 'ACCESS_DENIED', false],
    [s3Error('NoSuchBucket', 404), 'NO_SUCH_BUCKET', false],
    [s3Error('SlowDown', 503, 'server'), 'THROTTLED', true],
    [s3Error('InternalError', 500, 'server'), 'TRANSIENT', true],
    [s3Error('SomethingNew', 403), 'ACCESS_DENIED', false],
    [s3Error('SomethingNew', 409), 'UNKNOWN', false],
    [new AwsError('ROLE_UNUSABLE', 'AccessDenied: not authorized to assume'), 'ROLE_UNUSABLE', false],
    [Object.assign(new Error('socket hang up'), { name: 'TimeoutError' }), 'TRANSIENT', true],
  ] as const)('maps %o to %s', (err, code, retryable) => {
    const error = classifySecurityLakeError(err);

    expect(error).toBeInstanceOf(AwsError);
    expect([error.code, error.retryable]).toEqual([code, retryable]);
    // The credential provider's own AwsError is kept as it was; anything else is wrapped.
    expect(err instanceof AwsError ? error : error.cause).toBe(err);
  });

  it('tells the credentials AccessDenied (the role) from S3 AccessDenied (the bucket)', () => {
    const fromSts = new AwsError('ROLE_UNUSABLE', 'AccessDenied: sts', false, { awsCode: 'AccessDenied' });

    expect(classifySecurityLakeError(fromSts).code).toBe('ROLE_UNUSABLE');
    expect(classifySecurityLakeError(s3Error('AccessDenied', 403)).code).toBe('ACCESS_DENIED');
  });
});

describe('encodeOcsfParquet', () => {
  it('refuses an attribute the Parquet schema does not name, as INVALID_INPUT', () => {
    const extra = { ...finding(), cloud: { provider: 'AWS' } } as OcsfDetectionFinding;

    expect(() => encodeOcsfParquet([extra])).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });

  it('refuses a missing required attribute and a wrong type', () => {
    const { message: _dropped, ...missing } = finding();
    const wrong = { ...finding(), severity_id: '5' } as unknown as OcsfDetectionFinding;

    expect(() => encodeOcsfParquet([missing as OcsfDetectionFinding])).toThrow(/message is required/);
    expect(() => encodeOcsfParquet([wrong])).toThrow(/severity_id must be an int32/);
  });

  it('encodes rows a Parquet reader returns in order', async () => {
    const rows = [finding(), { ...finding(), time: finding().time + 1 }];

    const bytes = encodeOcsfParquet(rows);
    const back = await parquetReadObjects({
      file: bytes.buffer.slice(0) as ArrayBuffer,
      columns: ['time', 'message'],
    });

    expect(back).toEqual(rows.map((r) => ({ time: BigInt(r.time), message: r.message })));
  });
});

describe('createSecurityLakeWriter', () => {
  it('validates the destination before anything is sent', () => {
    const client = {} as Parameters<typeof createSecurityLakeWriter>[0]['client'];

    for (const destination of [
      { bucket: 'Bad_Bucket', sourceName: 'vaikora', accountId: '123456789012', region: 'eu-west-1' },
      { bucket: 'lake', sourceName: 'a/b', accountId: '123456789012', region: 'eu-west-1' },
      { bucket: 'lake', sourceName: 'vaikora', accountId: '1234', region: 'eu-west-1' },
    ]) {
      expect(() => createSecurityLakeWriter({ client, destination })).toThrow(
        expect.objectContaining({ code: 'INVALID_INPUT' }),
      );
    }
  });

  it('puts each event day under the source prefix of Security Lake custom sources', () => {
    const destination = {
      bucket: 'lake',
      sourceName: 'vaikora',
      accountId: '123456789012',
      region: 'eu-west-1',
    };

    expect(securityLakePrefix(destination, '20261201')).toBe(
      'ext/vaikora/region=eu-west-1/accountId=123456789012/eventDay=20261201/',
    );
  });
});
