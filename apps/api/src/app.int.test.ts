import { describe, expect, it } from 'vitest';
import { API_ERROR_CODES } from './errors.ts';
import { useHarness } from './testing/harness.ts';

const api = useHarness({
  verifier: {
    async verify() {
      throw new Error('connect ECONNREFUSED 10.0.0.7:5432 password=hunter2');
    },
  },
});

function expectErrorShape(response: { status: number; headers: Headers; body: unknown }, code: string): void {
  expect(response.body).toEqual({
    error: { code, message: expect.any(String), requestId: response.headers.get('x-request-id') },
  });
}

describe('system routes', () => {
  it('answers /health while the process is up', async () => {
    const response = await api.request('GET', '/health', { key: null });

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: 'ok' });
  });

  it('answers /ready with the applied migrations once the database is migrated', async () => {
    const response = await api.request('GET', '/ready', { key: null });

    expect(response.status).toBe(200);
    expect(response.body.status).toBe('ready');
    expect(response.body.migrations).toBeGreaterThanOrEqual(2);
  });

  it('serves an OpenAPI 3.1 document generated from the route schemas', async () => {
    const response = await api.request('GET', '/openapi.json', { key: null });

    expect(response.status).toBe(200);
    expect(response.body.openapi).toBe('3.1.0');
    expect(Object.keys(response.body.paths)).toContain(
      '/v1/tenants/{tenantId}/destinations/{destinationId}/verify',
    );
    expect(response.body.components.schemas.Error).toBeDefined();
  });

  it('serves a self-contained docs page listing the operations', async () => {
    const response = await api.request('GET', '/docs', { key: null });

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(response.text).toContain('/v1/tenants/{tenantId}/vaikora');
    // Scripts only from this origin (the viewer's files), never inline and never from a CDN.
    expect(response.text).not.toMatch(/<script>|https?:\/\/(?!127)/);
  });
});

describe('errors: one body shape for every failure', () => {
  it('gives every response a server-issued X-Request-Id, ignoring one sent by the caller', async () => {
    const response = await api.request('GET', '/health', {
      key: null,
      headers: { 'x-request-id': 'forged' },
    });

    expect(response.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/);
  });

  it('answers an unknown route with 404 NOT_FOUND', async () => {
    const response = await api.request('GET', '/v1/nothing-here');

    expect(response.status).toBe(404);
    expectErrorShape(response, 'NOT_FOUND');
  });

  it('answers a known path with the wrong method with 405 and Allow', async () => {
    const response = await api.request('DELETE', '/v1/tenants');

    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toContain('POST');
    expectErrorShape(response, 'METHOD_NOT_ALLOWED');
  });

  it('answers a missing key with 401 before anything else', async () => {
    const response = await api.request('GET', '/v1/tenants', { key: null });

    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
    expectErrorShape(response, 'UNAUTHORIZED');
  });

  it('answers malformed JSON with 400 MALFORMED_JSON', async () => {
    const response = await api.request('POST', '/v1/tenants', { rawBody: '{"name": "x",' });

    expect(response.status).toBe(400);
    expectErrorShape(response, 'MALFORMED_JSON');
  });

  it('answers a body that is not JSON with 415', async () => {
    const response = await api.request('POST', '/v1/tenants', {
      rawBody: 'name=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });

    expect(response.status).toBe(415);
    expectErrorShape(response, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('names the failing field in a validation error', async () => {
    const response = await api.request('POST', '/v1/tenants', { body: { name: 42 } });

    expect(response.status).toBe(400);
    expectErrorShape(response, 'VALIDATION_FAILED');
    expect(response.body.error.message).toMatch(/^body\.name: /);
  });

  it('names unknown fields instead of ignoring them', async () => {
    const response = await api.request('POST', '/v1/tenants', { body: { name: 'a', admin: true } });

    expect(response.status).toBe(400);
    expect(response.body.error.message).toContain('unknown field "admin"');
  });

  it('answers a body over the limit with 413, with or without Content-Length', async () => {
    const huge = JSON.stringify({ name: 'x'.repeat(100_000) });

    const withLength = await api.request('POST', '/v1/tenants', {
      rawBody: huge,
      headers: { 'content-length': String(huge.length) },
    });
    const streamed = await api.request('POST', '/v1/tenants', { rawBody: huge });

    expect(withLength.status).toBe(413);
    expectErrorShape(withLength, 'PAYLOAD_TOO_LARGE');
    expect(streamed.status).toBe(413);
  });

  it('answers an unexpected error with 500 INTERNAL and no internals, and logs it with the request id', async () => {
    const { tenantId } = await api.createTenant();
    const created = await api.request('POST', `/v1/tenants/${tenantId}/destinations`, {
      body: { accountId: '123456789012', regions: ['us-east-1'] },
    });

    const response = await api.request(
      'POST',
      `/v1/tenants/${tenantId}/destinations/${created.body.destination.id}/verify`,
      { body: { roleArn: 'arn:aws:iam::123456789012:role/Data443-VaikoraSecurityHub' } },
    );

    expect(response.status).toBe(500);
    expectErrorShape(response, 'INTERNAL');
    expect(response.text).not.toMatch(/ECONNREFUSED|hunter2|10\.0\.0\.7|at /);
    const requestId = response.headers.get('x-request-id') ?? '';
    expect(api.logs.some((line) => line.includes(requestId) && line.includes('unexpected error'))).toBe(true);
  });

  it('documents only codes from the closed set', async () => {
    const document = (await api.request('GET', '/openapi.json', { key: null })).body;

    expect(document.components.schemas.Error.properties.error.properties.code.enum).toEqual([
      ...API_ERROR_CODES,
    ]);
  });
});

describe('request log', () => {
  it('logs one line per request with the route pattern, never the raw path or a header', async () => {
    const { tenantId, key } = await api.createTenant();
    const before = api.logs.length;

    const response = await api.request('GET', `/v1/tenants/${tenantId}?x=probe-value`, { key });
    await api.request('GET', '/v1/unknown-probe-path');

    const lines = api.logs.slice(before).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({
      msg: 'request',
      requestId: response.headers.get('x-request-id'),
      method: 'GET',
      route: '/v1/tenants/:tenantId',
      status: 200,
      tenantId,
      principal: expect.stringMatching(/^key_/),
    });
    expect(lines[1]).toMatchObject({ route: '(unmatched)', status: 404 });
    const text = api.logs.slice(before).join('\n');
    expect(text).not.toContain('probe-value');
    expect(text).not.toContain('unknown-probe-path');
    expect(text).not.toContain(key);
  });
});
