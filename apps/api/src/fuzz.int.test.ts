import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { API_ERROR_CODES } from './errors.ts';
import { seedRejected, seedRun, useHarness } from './testing/harness.ts';
import { type DocumentedOperation, documentedOperations } from './testing/operations.ts';

const api = useHarness();
const operations = documentedOperations();
const REQUESTS = 2_100;

interface Fixture {
  tenantId: string;
  key: string;
  destinationId: string;
  keyId: string;
  backfillId: string;
}

async function fixture(): Promise<Fixture> {
  const { tenantId, key } = await api.createTenant();
  await api.request('PUT', `/v1/tenants/${tenantId}/vaikora`, {
    body: { apiKey: `vk_test_fuzz_${tenantId}`, agentIds: ['agt-1'] },
  });
  const destination = await api.request('POST', `/v1/tenants/${tenantId}/destinations`, {
    body: { accountId: '123456789012', regions: ['us-east-1'] },
  });
  const extra = await api.request('POST', `/v1/tenants/${tenantId}/api-keys`, { body: { name: 'fuzz' } });
  const backfill = await api.request('POST', `/v1/tenants/${tenantId}/backfills`, {
    body: { from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' },
  });
  await seedRun(api.db, tenantId);
  await seedRejected(api.db, tenantId);
  return {
    tenantId,
    key,
    destinationId: destination.body.destination.id,
    keyId: extra.body.id,
    backfillId: backfill.body.id,
  };
}

const INJECTIONS = [
  "' OR '1'='1",
  "'; drop table tenants; --",
  '"); select pg_sleep(5); --',
  ['$', '{jndi:ldap://x}'].join(''),
  '<script>alert(1)</script>',
  '{{7*7}}',
  '%00',
  '\u0000',
  '\u202e',
  '../../../../etc/passwd',
  '..%2F..%2F..%2Fetc%2Fpasswd',
  '%2e%2e%2f',
  'arn:aws:iam::123456789012:role/../../Admin',
  'arn:aws:iam::12345678901:role/Data443-Vaikora',
  'arn:aws-cn:iam::123456789012:role/Data443-VaikoraX',
  'arn:aws:iam::123456789012:user/Data443-VaikoraX',
  'arn:aws:iam::999999999999:role/Data443-VaikoraSecurityHub',
  'arn:aws:iam::123456789012:role/path/Data443-VaikoraX',
  'http://169.254.169.254/latest/meta-data/',
  'http://127.0.0.1:5432/',
  'https://user:pass@api.vaikora.com/api/v1',
  'https://api.vaikora.com.evil.example/api/v1',
  'file:///etc/passwd',
  'javascript:alert(1)',
  '9'.repeat(400),
  '-1',
  '1e309',
  'NaN',
  '🦄'.repeat(50),
  'Ω≈ç√∫˜µ≤≥÷',
  '\ud800',
  'ten_01jd0000000000000000000000',
  'dst_01jd0000000000000000000000',
  `vsh_${'0'.repeat(12)}_${'A'.repeat(43)}`,
];

const hostileString = fc.oneof(
  fc.constantFrom(...INJECTIONS),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom('x'.repeat(5_000), 'ä'.repeat(2_000)),
);

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: hostileString },
  { weight: 2, arbitrary: fc.anything({ maxDepth: 3, maxKeys: 5 }) },
  { weight: 1, arbitrary: fc.constantFrom(null, true, 0, -1, 1.5, 2 ** 53, [], {}, [[[]]]) },
  { weight: 1, arbitrary: fc.array(hostileString, { maxLength: 40 }) },
);

/** A body built from the operation's example: fields replaced, dropped or added. */
const mutatedExample = (example: unknown): fc.Arbitrary<unknown> => {
  const fields = typeof example === 'object' && example !== null ? Object.keys(example) : [];
  return fc
    .record({
      replace: fc.subarray(fields),
      drop: fc.subarray(fields),
      values: fc.array(hostileValue, { minLength: fields.length, maxLength: fields.length }),
      extra: fc.option(fc.tuple(hostileString, hostileValue), { nil: undefined }),
    })
    .map(({ replace, drop, values, extra }) => {
      const out: Record<string, unknown> = { ...(example as Record<string, unknown>) };
      replace.forEach((field, index) => {
        out[field] = values[index];
      });
      for (const field of drop) delete out[field];
      if (extra !== undefined) out[extra[0]] = extra[1];
      return out;
    });
};

type Body = { kind: 'none' } | { kind: 'json'; value: unknown } | { kind: 'raw'; text: string };

const bodyFor = (op: DocumentedOperation): fc.Arbitrary<Body> =>
  fc.oneof(
    { weight: 5, arbitrary: mutatedExample(op.exampleBody).map((value): Body => ({ kind: 'json', value })) },
    { weight: 1, arbitrary: fc.constant<Body>({ kind: 'json', value: op.exampleBody }) },
    { weight: 2, arbitrary: hostileValue.map((value): Body => ({ kind: 'json', value })) },
    {
      weight: 2,
      arbitrary: fc
        .oneof(
          fc.constantFrom(
            '{',
            '{"name":',
            '[1,2',
            '{"a":1}}',
            'nul',
            '"\\ud800"',
            '{"name":"x"}garbage',
            '\u0000',
            '',
          ),
          fc.string({ maxLength: 50 }),
        )
        .map((text): Body => ({ kind: 'raw', text })),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(70_000, 200_000)
        .map((size): Body => ({ kind: 'raw', text: JSON.stringify({ name: 'x'.repeat(size) }) })),
    },
    { weight: 1, arbitrary: fc.constant<Body>({ kind: 'none' }) },
  );

const requestArbitrary = fc.constantFrom(...operations).chain((op) =>
  fc.record({
    op: fc.constant(op),
    method: fc.oneof(
      { weight: 8, arbitrary: fc.constant(op.method) },
      { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS') },
    ),
    params: fc.array(
      fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 2, arbitrary: hostileString }),
      {
        minLength: op.params.length,
        maxLength: op.params.length,
      },
    ),
    encode: fc.boolean(),
    query: fc.option(
      fc.record(
        { limit: fc.oneof(hostileString, fc.integer().map(String)), cursor: hostileString },
        { requiredKeys: [] },
      ),
      { nil: undefined },
    ),
    who: fc.constantFrom('operator', 'operator', 'operator', 'tenant', 'other', 'none', 'garbage'),
    body: bodyFor(op),
    contentType: fc.oneof(
      { weight: 8, arbitrary: fc.constant('application/json') },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          'text/plain',
          'application/json; charset=utf-16',
          'application/vnd.api+json',
          'multipart/form-data',
          '',
        ),
      },
    ),
  }),
);

function expectErrorShape(status: number, requestId: string | null, body: unknown, text: string): void {
  expect(body, text.slice(0, 300)).toEqual({
    error: { code: expect.any(String), message: expect.any(String), requestId },
  });
  const code = (body as { error: { code: string } }).error.code;
  expect(API_ERROR_CODES).toContain(code);
  expect(status).not.toBe(200);
}

describe('fuzz: hostile requests across every documented operation', () => {
  it(`answers ${REQUESTS} malformed and hostile requests with no 5xx and only error-shaped 4xx`, async () => {
    const pool = [await fixture(), await fixture(), await fixture()];
    let sent = 0;
    const statuses = new Map<number, number>();

    await fc.assert(
      fc.asyncProperty(requestArbitrary, fc.nat(pool.length - 1), async (request, which) => {
        const owner = pool[which] as Fixture;
        const other = pool[(which + 1) % pool.length] as Fixture;
        const values: Record<string, string> = {
          tenantId: owner.tenantId,
          destinationId: owner.destinationId,
          keyId: owner.keyId,
          backfillId: owner.backfillId,
        };
        let index = 0;
        let path = request.op.path.replace(/\{([^}]+)\}/g, (_whole, name: string) => {
          const hostile = request.params[index++];
          const value = hostile ?? values[name] ?? '';
          if (!request.encode) return value;
          try {
            return encodeURIComponent(value);
          } catch {
            // A lone surrogate cannot be percent-encoded; send it raw and let the URL parser do its best.
            return value;
          }
        });
        if (request.query !== undefined) {
          path += `?${new URLSearchParams(request.query as Record<string, string>).toString()}`;
        }
        const key = {
          operator: undefined,
          tenant: owner.key,
          other: other.key,
          none: null,
          garbage: 'Bearer nonsense',
        }[request.who];
        const headers: Record<string, string> = {};
        if (request.contentType !== '') headers['content-type'] = request.contentType;
        // A fetch Request cannot carry a body on GET; a real client cannot send one either.
        const body = request.method === 'GET' ? ({ kind: 'none' } as const) : request.body;
        let response: Awaited<ReturnType<typeof api.request>>;
        try {
          response = await api.request(request.method, path, {
            ...(key === undefined ? {} : { key }),
            headers,
            ...(body.kind === 'json' && body.value !== undefined ? { body: body.value } : {}),
            ...(body.kind === 'raw' ? { rawBody: body.text } : {}),
          });
        } catch (err) {
          // A path that is not a URL at all never reaches the server; nothing to check.
          if (err instanceof TypeError && /URL|Invalid/.test(err.message)) return;
          throw err;
        }
        sent++;
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        expect(response.status, `${request.method} ${path}: ${response.text.slice(0, 300)}`).toBeLessThan(
          500,
        );
        if (response.status >= 400) {
          expectErrorShape(
            response.status,
            response.headers.get('x-request-id'),
            response.body,
            response.text,
          );
        }
        if (request.op.path.endsWith('/offboard') && response.status === 200) {
          pool[which] = await fixture();
        }
      }),
      { numRuns: REQUESTS, seed: 20_260_101, endOnFailure: true },
    );

    expect(sent).toBeGreaterThanOrEqual(2_000);
    expect([...statuses.keys()].some((status) => status < 300)).toBe(true);
  });
});
