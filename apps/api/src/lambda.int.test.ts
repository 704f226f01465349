import { randomBytes } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '@vsh/db/testing';
import type { LambdaEvent } from 'hono/aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

const OPERATOR_KEY = randomBytes(32).toString('base64url');

/** An API Gateway HTTP API (payload format 2.0) proxy event, as the `$default` route delivers it. */
function httpApiEvent(options: {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  base64?: boolean;
  sourceIp?: string;
}): LambdaEvent {
  const sourceIp = options.sourceIp ?? '203.0.113.7';
  const now = new Date();
  const event = {
    version: '2.0',
    routeKey: '$default',
    rawPath: options.path,
    rawQueryString: '',
    headers: {
      accept: 'application/json',
      host: 'abc123defg.execute-api.eu-west-1.amazonaws.com',
      'user-agent': 'curl/8.5.0',
      'x-forwarded-for': sourceIp,
      'x-forwarded-port': '443',
      'x-forwarded-proto': 'https',
      ...options.headers,
    },
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123defg',
      domainName: 'abc123defg.execute-api.eu-west-1.amazonaws.com',
      domainPrefix: 'abc123defg',
      http: {
        method: options.method,
        path: options.path,
        protocol: 'HTTP/1.1',
        sourceIp,
        userAgent: 'curl/8.5.0',
      },
      requestId: `${randomBytes(8).toString('hex')}=`,
      routeKey: '$default',
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    isBase64Encoded: options.base64 ?? false,
    ...(options.body === undefined
      ? {}
      : { body: options.base64 ? Buffer.from(options.body).toString('base64') : options.body }),
  };
  // API Gateway leaves `body` out when the request has none; hono's type says `string | null`.
  return event as unknown as LambdaEvent;
}

const context = {
  callbackWaitsForEmptyEventLoop: true,
  functionName: 'VaikoraSecurityHubCentral-Api',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:VaikoraSecurityHubCentral-Api',
  memoryLimitInMB: '512',
  awsRequestId: '6f1f0c8e-1b2a-4c3d-9e8f-0a1b2c3d4e5f',
  logGroupName: '/aws/lambda/VaikoraSecurityHubCentral-Api',
  logStreamName: '2026/06/01/[$LATEST]0123456789abcdef',
  getRemainingTimeInMillis: () => 29_000,
};

describe('the API Lambda entry behind an HTTP API (payload 2.0)', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase();
    vi.stubEnv('DATABASE_URL', database.url);
    vi.stubEnv('OPERATOR_API_KEY', OPERATOR_KEY);
    vi.stubEnv('MASTER_KEY', randomBytes(32).toString('base64'));
    vi.stubEnv('LOG_LEVEL', 'silent');
    // No APP_ENV: production rules, so what production requires is given (infra/central sets the same).
    vi.stubEnv('APP_ENV', undefined);
    vi.stubEnv('DATA443_ACCOUNT_ID', '444455556666');
    vi.stubEnv('CUSTOMER_TEMPLATE_URL', 'https://templates.example.com/customer-role.yaml');
    vi.stubEnv('VAIKORA_ALLOWED_HOSTS', 'api.vaikora.com');
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await database?.drop();
  });

  it('answers /health, a base64 body with the operator key, and refuses a request without a key', async () => {
    const { handler } = await import('./lambda.ts');

    const health = await handler(httpApiEvent({ method: 'GET', path: '/health' }), context);
    const created = await handler(
      httpApiEvent({
        method: 'POST',
        path: '/v1/tenants',
        headers: { authorization: `Bearer ${OPERATOR_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Lambda Corp' }),
        base64: true,
      }),
      context,
    );
    const anonymous = await handler(httpApiEvent({ method: 'GET', path: '/v1/tenants' }), context);

    expect(health).toMatchObject({ statusCode: 200, isBase64Encoded: false });
    expect(JSON.parse(health?.body ?? '')).toEqual({ status: 'ok' });
    expect(created?.statusCode).toBe(201);
    expect(JSON.parse(created?.body ?? '')).toMatchObject({ tenant: { name: 'Lambda Corp' } });
    expect(anonymous?.statusCode).toBe(401);
    expect(JSON.parse(anonymous?.body ?? '')).toEqual({
      error: { code: expect.any(String), message: expect.any(String), requestId: expect.any(String) },
    });
  });

  it('counts failed authentications per source IP of the request context, and refuses a locked-out one any key', async () => {
    const { handler } = await import('./lambda.ts');
    const from = (sourceIp: string, key: string) =>
      handler(
        httpApiEvent({
          method: 'GET',
          path: '/v1/tenants',
          sourceIp,
          // A client may send X-Forwarded-For; API Gateway's source IP is what counts.
          headers: { authorization: `Bearer ${key}`, 'x-forwarded-for': '192.0.2.1' },
        }),
        context,
      );
    const wrong = randomBytes(32).toString('base64url');

    const guesses: number[] = [];
    for (let i = 0; i < 31; i++) guesses.push((await from('198.51.100.10', wrong))?.statusCode ?? 0);
    const guesserRight = await from('198.51.100.10', OPERATOR_KEY);
    const otherWrong = await from('198.51.100.11', wrong);
    const otherRight = await from('198.51.100.11', OPERATOR_KEY);

    expect(guesses.slice(0, 30).every((status) => status === 401)).toBe(true);
    expect(guesses[30]).toBe(429);
    expect(guesserRight?.statusCode).toBe(429);
    expect(Number(guesserRight?.headers?.['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(otherWrong?.statusCode).toBe(401);
    expect(otherRight?.statusCode).toBe(200);
  });
});
