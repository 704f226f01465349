import { describe, expect, it } from 'vitest';
import {
  awsErrorResponse,
  classifyRequest,
  parseJson,
  type RequestInfo,
  serverErrorResponse,
  unescapeXml,
} from './wire.ts';

const sigv4 = (service: string, region = 'eu-west-1', key = 'AKIDEXAMPLE') =>
  `AWS4-HMAC-SHA256 Credential=${key}/20260101/${region}/${service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc`;

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

describe('serverErrorResponse', () => {
  it.each([
    ['securityhub', 500, 'InternalException'],
    ['sts', 500, 'InternalFailure'],
    ['securityhub', 502, 'BadGateway'],
    ['dynamodb', 503, 'ServiceUnavailable'],
    ['dynamodb', 504, 'GatewayTimeout'],
  ])('answers an injected %s %i with %s', (service, status, code) => {
    const response = serverErrorResponse(
      { service, operation: 'X', region: undefined, accessKeyId: undefined, protocol: 'rest-json' },
      status,
    );

    expect(response.status).toBe(status);
    expect(response.headers['x-amzn-errortype']).toBe(code);
  });
});

describe('parseJson and unescapeXml', () => {
  it('reads an empty body as {} and a broken one as undefined', () => {
    expect(parseJson(Buffer.alloc(0))).toEqual({});
    expect(parseJson(Buffer.from('{"a":1}'))).toEqual({ a: 1 });
    expect(parseJson(Buffer.from('{"a":'))).toBeUndefined();
  });

  it('resolves named, decimal and hexadecimal references', () => {
    expect(unescapeXml('&lt;a&gt; &amp; &quot;b&quot; &apos;c&apos; &#123;&#x7D;')).toBe(`<a> & "b" 'c' {}`);
  });
});
