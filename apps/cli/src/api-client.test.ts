import { describe, expect, it } from 'vitest';
import { ApiClientError, createApiClient, unwrap } from './api-client.ts';

const CONNECTION = { apiUrl: 'http://127.0.0.1:9', key: 'op-key-secret', source: 'flags' } as const;
const TENANT = 'ten_01jd0000000000000000000000';

function answering(status: number, body: string): typeof fetch {
  return (async () => new Response(body, { status })) as typeof fetch;
}

async function failureOf(call: Promise<unknown>): Promise<ApiClientError> {
  const error = await call.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(error instanceof ApiClientError)) throw new Error(`expected an ApiClientError, got ${String(error)}`);
  return error;
}

describe('createApiClient', () => {
  it('sends the operator key and returns the typed data of a 2xx answer', async () => {
    const seen: Array<{ url: string; auth: string | null }> = [];
    const client = createApiClient(CONNECTION, (async (input: string | URL | Request, init?: RequestInit) => {
      const request = new Request(input, init);
      seen.push({ url: request.url, auth: request.headers.get('authorization') });
      return Response.json({ runRequestedAt: '2026-11-20T12:00:00.000Z' }, { status: 202 });
    }) as typeof fetch);

    const answer = await unwrap(
      client.POST('/v1/tenants/{tenantId}/run-now', { params: { path: { tenantId: TENANT } } }),
    );

    expect(answer.runRequestedAt).toBe('2026-11-20T12:00:00.000Z');
    expect(seen).toEqual([
      { url: `http://127.0.0.1:9/v1/tenants/${TENANT}/run-now`, auth: 'Bearer op-key-secret' },
    ]);
  });

  it('turns an error answer into REFUSED with the API’s code and message', async () => {
    const client = createApiClient(
      CONNECTION,
      answering(
        404,
        JSON.stringify({ error: { code: 'NOT_FOUND', message: 'no such tenant', requestId: 'r' } }),
      ),
    );

    const error = await failureOf(
      unwrap(client.GET('/v1/tenants/{tenantId}', { params: { path: { tenantId: TENANT } } })),
    );

    expect(error).toMatchObject({ code: 'REFUSED', apiCode: 'NOT_FOUND', status: 404 });
    expect(error.message).toBe('NOT_FOUND: no such tenant');
  });

  it('turns a body that is not JSON into BAD_RESPONSE, on success and on failure', async () => {
    const ok = createApiClient(CONNECTION, answering(200, '<html>proxy</html>'));
    const failed = createApiClient(CONNECTION, answering(502, 'Bad Gateway'));

    const errors = [
      await failureOf(unwrap(ok.GET('/v1/tenants/{tenantId}', { params: { path: { tenantId: TENANT } } }))),
      await failureOf(
        unwrap(failed.GET('/v1/tenants/{tenantId}', { params: { path: { tenantId: TENANT } } })),
      ),
    ];

    expect(errors.map((e) => [e.code, e.status, e.message])).toEqual([
      ['BAD_RESPONSE', 200, 'the API answered 200 with a body that is not JSON'],
      ['BAD_RESPONSE', 502, 'the API answered 502 with a body that is not JSON'],
    ]);
  });

  it('turns a failed connection into UNREACHABLE, naming the cause but never the key', async () => {
    const client = createApiClient({ ...CONNECTION, source: 'local-state' }, (async () => {
      throw new TypeError('fetch failed', {
        cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      });
    }) as typeof fetch);

    const error = await failureOf(
      unwrap(client.GET('/v1/tenants/{tenantId}', { params: { path: { tenantId: TENANT } } })),
    );

    expect(error.code).toBe('UNREACHABLE');
    expect(error.message).toBe(
      'cannot reach the API at http://127.0.0.1:9: ECONNREFUSED connect ECONNREFUSED (is "pnpm start" running?)',
    );
    expect(error.message).not.toContain('op-key');
  });
});
