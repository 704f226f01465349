import { describe, expect, it } from 'vitest';
import {
  awsErrorResponse,
  classifyRequest,
  FaultProxyError,
  filterFindings,
  type RequestInfo,
  seededRandom,
  startFaultProxy,
  TokenBucket,
} from './fault-proxy.ts';

const sigv4 = (service: string, region = 'eu-west-1', key = 'AKIDEXAMPLE') =>
  `AWS4-HMAC-SHA256 Credential=${key}/20260101/${region}/${service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc`;

describe('TokenBucket', () => {
  it('lets a burst through, then one request per refill interval', () => {
    const bucket = new TokenBucket(10, 30, 0);

    const burst = Array.from({ length: 31 }, () => bucket.tryTake(0));
    const after99ms = bucket.tryTake(99);
    const after100ms = bucket.tryTake(100);

    expect(burst.filter(Boolean)).toHaveLength(30);
    expect(after99ms).toBe(false);
    expect(after100ms).toBe(true);
  });

  it('never accumulates more than the burst while idle', () => {
    const bucket = new TokenBucket(10, 5, 0);

    const taken = Array.from({ length: 10 }, () => bucket.tryTake(60_000));

    expect(taken.filter(Boolean)).toHaveLength(5);
  });

  it('passes a steady 10 requests per second forever at rate 10', () => {
    const bucket = new TokenBucket(10, 1, 0);

    const taken = Array.from({ length: 100 }, (_, i) => bucket.tryTake(i * 100));

    expect(taken.every(Boolean)).toBe(true);
  });
});

describe('seededRandom', () => {
  it('repeats the same sequence for the same seed and differs for another', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const c = seededRandom(43);

    const first = Array.from({ length: 5 }, () => a());

    expect(Array.from({ length: 5 }, () => b())).toEqual(first);
    expect(Array.from({ length: 5 }, () => c())).not.toEqual(first);
    expect(first.every((x) => x >= 0 && x < 1)).toBe(true);
  });
});

describe('classifyRequest', () => {
  it('names Security Hub operations from the REST route and region from the SigV4 scope', () => {
    const info = classifyRequest(
      'POST',
      '/findings/import',
      { authorization: sigv4('securityhub'), 'content-type': 'application/json' },
      Buffer.from('{}'),
    );

    expect(info).toEqual({
      service: 'securityhub',
      operation: 'BatchImportFindings',
      region: 'eu-west-1',
      accessKeyId: 'AKIDEXAMPLE',
      protocol: 'rest-json',
    });
  });

  it.each([
    ['GET', '/accounts', 'DescribeHub'],
    ['POST', '/accounts', 'EnableSecurityHub'],
    ['POST', '/findings', 'GetFindings'],
    ['PATCH', '/standards/control/arn:aws:securityhub:x', 'UpdateStandardsControl'],
    ['GET', '/something/new', 'GET /something/new'],
  ])('maps Security Hub %s %s to %s', (method, path, operation) => {
    const info = classifyRequest(method, path, { authorization: sigv4('securityhub') }, Buffer.alloc(0));

    expect(info.operation).toBe(operation);
  });

  it('reads JSON-protocol operations from X-Amz-Target', () => {
    const info = classifyRequest(
      'POST',
      '/',
      { authorization: sigv4('dynamodb'), 'x-amz-target': 'DynamoDB_20120810.PutItem' },
      Buffer.from('{}'),
    );

    expect(info).toMatchObject({ service: 'dynamodb', operation: 'PutItem', protocol: 'json' });
  });

  it('reads query-protocol operations from the Action form field', () => {
    const info = classifyRequest(
      'POST',
      '/',
      {
        authorization: sigv4('sts', 'us-east-1'),
        'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
      },
      Buffer.from('Action=AssumeRole&Version=2011-06-15&RoleArn=x'),
    );

    expect(info).toMatchObject({
      service: 'sts',
      operation: 'AssumeRole',
      region: 'us-east-1',
      protocol: 'query',
    });
  });

  it('tolerates unsigned and malformed requests', () => {
    const unsigned = classifyRequest('GET', '/%zz?Action', {}, Buffer.from([0xff, 0xfe]));
    const moto = classifyRequest('POST', '/moto-api/reset', {}, Buffer.alloc(0));

    expect(unsigned).toMatchObject({ service: 'unknown', region: undefined, accessKeyId: undefined });
    expect(moto).toMatchObject({ service: 'moto-api', operation: '/moto-api/reset' });
  });
});

describe('awsErrorResponse', () => {
  const info = (protocol: RequestInfo['protocol']): RequestInfo => ({
    service: 'x',
    operation: 'Y',
    region: 'us-east-1',
    accessKeyId: undefined,
    protocol,
  });

  it('puts the restJson1 error code in x-amzn-ErrorType with a Code/Message body', () => {
    const response = awsErrorResponse(
      info('rest-json'),
      429,
      'TooManyRequestsException',
      'Too Many Requests',
    );

    expect(response.status).toBe(429);
    expect(response.headers['x-amzn-errortype']).toBe('TooManyRequestsException');
    expect(JSON.parse(response.body)).toEqual({
      Code: 'TooManyRequestsException',
      Message: 'Too Many Requests',
    });
  });

  it('uses __type for JSON protocols and an ErrorResponse document for query protocols', () => {
    const json = awsErrorResponse(info('json'), 500, 'InternalFailure', 'boom');
    const query = awsErrorResponse(info('query'), 503, 'ServiceUnavailable', 'a < b');

    expect(JSON.parse(json.body)).toEqual({ __type: 'InternalFailure', message: 'boom' });
    expect(query.body).toContain('<Code>ServiceUnavailable</Code>');
    expect(query.body).toContain('<Type>Receiver</Type>');
    expect(query.body).toContain('a &#60; b');
  });
});

describe('filterFindings', () => {
  const findings = [
    { Id: 'vaikora-1', Severity: { Label: 'HIGH' }, Resources: [{ Id: 'agent-a', Type: 'Other' }] },
    { Id: 'vaikora-2', Severity: { Label: 'CRITICAL' }, Resources: [{ Id: 'agent-b', Type: 'Other' }] },
    { Id: 'other-3', Severity: { Label: 'HIGH' }, Resources: [{ Id: 'agent-a', Type: 'Other' }] },
  ];

  it('ORs positive comparisons on one field and ANDs fields', () => {
    const result = filterFindings(findings, {
      Id: [{ Value: 'vaikora-', Comparison: 'PREFIX' }],
      SeverityLabel: [
        { Value: 'HIGH', Comparison: 'EQUALS' },
        { Value: 'CRITICAL', Comparison: 'EQUALS' },
      ],
    });

    expect(result).toEqual([findings[0], findings[1]]);
  });

  it('ANDs negative comparisons', () => {
    const result = filterFindings(findings, {
      Id: [
        { Value: 'vaikora-1', Comparison: 'NOT_EQUALS' },
        { Value: 'other', Comparison: 'PREFIX_NOT_EQUALS' },
      ],
    });

    expect(result).toEqual([findings[1]]);
  });

  it('reports filters it cannot evaluate instead of ignoring them', () => {
    const result = filterFindings(findings, { ProcessPid: [{ Eq: 1 }] });

    expect(result).toMatch(/ProcessPid is not supported/);
  });
});

describe('startFaultProxy options', () => {
  it('rejects invalid options with a FaultProxyError naming the problem', async () => {
    const attempt = startFaultProxy({
      upstream: 'http://127.0.0.1:1',
      rules: { errors: [{ rate: 1.5 }] },
    });

    await expect(attempt).rejects.toBeInstanceOf(FaultProxyError);
    await expect(attempt).rejects.toMatchObject({
      code: 'invalid_options',
      message: expect.stringMatching(/rate/),
    });
  });

  it('requires an upstream unless Security Hub is served from memory', async () => {
    await expect(startFaultProxy({})).rejects.toMatchObject({ code: 'invalid_options' });
  });

  it('requires failedFindings rules to choose findings', async () => {
    const attempt = startFaultProxy({
      securityHub: 'memory',
      rules: { failedFindings: [{ errorCode: 'X' }] },
    });

    await expect(attempt).rejects.toMatchObject({ message: expect.stringMatching(/ids or when/) });
  });
});
