import { randomBytes } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '@vsh/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnv } from '../env.ts';
import { generateApiKey } from '../lib/api-keys.ts';
import { createLogger } from '../logger.ts';
import { type ApiServer, startApiServer } from '../server.ts';
import { TEST_OPERATOR_KEY, useHarness } from '../testing/harness.ts';
import { clientAddress, clientKey, forwardedClientResolver } from './authenticate.ts';

const FAILURES = 5;
// Per key: three at once, then one a second. Per client (failed authentications): five a minute.
const keyLimited = useHarness({ config: { rateLimit: { perMinute: 60, burst: 3 } } });
const api = useHarness({ config: { authFailuresPerMinute: FAILURES } });

/** A key of the right shape that no one holds, with a prefix of its own (prefixes have budgets too). */
function wrongKey(): string {
  return generateApiKey().key;
}

/** The bindings @hono/node-server passes for a request from `address`. */
function nodeServerFrom(address: string) {
  return { incoming: { socket: { remoteAddress: address } } };
}

/** The bindings hono/aws-lambda passes for an API Gateway HTTP API (payload 2.0) event from `address`. */
function httpApiFrom(address: string) {
  const requestContext = {
    http: { method: 'GET', path: '/v1/tenants', protocol: 'HTTP/1.1', sourceIp: address, userAgent: 'x' },
  };
  // API Gateway sets X-Forwarded-For too, but the source IP of the context is what it saw.
  return { event: { requestContext, headers: { 'x-forwarded-for': address } }, requestContext };
}

type Bindings = ReturnType<typeof nodeServerFrom> | ReturnType<typeof httpApiFrom>;

async function call(bindings: Bindings, path: string, key: string | null) {
  const response = await api.app.request(
    path,
    { headers: key === null ? {} : { authorization: `Bearer ${key}` } },
    bindings,
  );
  return { status: response.status, headers: response.headers, body: await response.json() };
}

/** A wrong secret for a real key's prefix (the public part), as a guesser would send. */
function guessFor(key: string): string {
  return `${key.slice(0, 17)}${randomBytes(32).toString('base64url')}`;
}

let nextAddress = 1;
/** A fresh documentation address per call (RFC 5737), so tests do not share buckets. */
function freshAddress(): string {
  const n = nextAddress++;
  return `198.51.${100 + (n >> 8)}.${n & 255}`;
}

describe('rate limiting', () => {
  it('answers 429 RATE_LIMITED with Retry-After once a key has used its burst, and only for that key', async () => {
    const first = await keyLimited.createTenant();
    const second = await keyLimited.createTenant();

    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof keyLimited.request>> | undefined;
    for (let i = 0; i < 4; i++) {
      const response = await keyLimited.request('GET', `/v1/tenants/${first.tenantId}`, { key: first.key });
      statuses.push(response.status);
      limited = response;
    }
    const otherKey = await keyLimited.request('GET', `/v1/tenants/${second.tenantId}`, {
      key: second.key,
    });

    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(limited?.headers.get('retry-after')).toBe('1');
    expect(limited?.body).toEqual({
      error: {
        code: 'RATE_LIMITED',
        message: 'rate limit exceeded for this API key',
        requestId: limited?.headers.get('x-request-id'),
      },
    });
    expect(otherKey.status).toBe(200);
  });

  it('slows down repeated failed authentications from one client', async () => {
    const from = nodeServerFrom(freshAddress());
    const statuses: number[] = [];
    for (let i = 0; i < FAILURES + 2; i++)
      statuses.push((await call(from, '/v1/tenants', wrongKey())).status);

    expect(statuses).toEqual([...Array(FAILURES).fill(401), 429, 429]);
  });
});

describe.each([
  ['the Node server (socket address)', nodeServerFrom],
  ['API Gateway HTTP API v2 (requestContext.http.sourceIp)', httpApiFrom],
])('failed authentication behind %s', (_name, from) => {
  it("locks out the guessing client only: another client's first requests are answered", async () => {
    const guesser = from(freshAddress());
    const other = from(freshAddress());

    for (let i = 0; i < FAILURES + 1; i++) await call(guesser, '/v1/tenants', wrongKey());
    const otherWrong = await call(other, '/v1/tenants', wrongKey());
    const otherRight = await call(other, '/v1/tenants', TEST_OPERATOR_KEY);

    expect(otherWrong.status).toBe(401);
    expect(otherRight.status).toBe(200);
  });

  it('refuses a locked-out client even with a right key, so guessing gains nothing', async () => {
    const tenant = await api.createTenant();
    const guesser = from(freshAddress());

    for (let i = 0; i < FAILURES; i++) await call(guesser, '/v1/tenants', wrongKey());
    const operator = await call(guesser, '/v1/tenants', TEST_OPERATOR_KEY);
    const tenantKey = await call(guesser, `/v1/tenants/${tenant.tenantId}`, tenant.key);
    const elsewhere = await call(from(freshAddress()), `/v1/tenants/${tenant.tenantId}`, tenant.key);

    expect(operator.status).toBe(429);
    expect(Number(operator.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(operator.body).toEqual({
      error: {
        code: 'RATE_LIMITED',
        message: 'too many failed authentications; retry later',
        requestId: operator.headers.get('x-request-id'),
      },
    });
    expect(tenantKey.status).toBe(429);
    expect(elsewhere.status).toBe(200);
  });

  it('answers no more guesses than the budget when they arrive at once, a right key among them included', async () => {
    const guesser = from(freshAddress());

    const responses = await Promise.all([
      ...Array.from({ length: 40 }, () => call(guesser, '/v1/tenants', wrongKey())),
      call(guesser, '/v1/tenants', TEST_OPERATOR_KEY),
    ]);

    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(FAILURES);
    expect(statuses.filter((s) => s === 429)).toHaveLength(41 - FAILURES);
    expect(statuses.at(-1)).toBe(429);
  });

  it('lets a client that authenticates keep working: successes cost it nothing', async () => {
    const client = from(freshAddress());

    const statuses: number[] = [];
    for (let i = 0; i < FAILURES * 3; i++)
      statuses.push((await call(client, '/v1/tenants', TEST_OPERATOR_KEY)).status);
    for (let i = 0; i < FAILURES - 1; i++)
      statuses.push((await call(client, '/v1/tenants', wrongKey())).status);
    statuses.push((await call(client, '/v1/tenants', TEST_OPERATOR_KEY)).status);

    expect(statuses).toEqual([...Array(FAILURES * 3).fill(200), ...Array(FAILURES - 1).fill(401), 200]);
  });

  it("locks out a key's prefix guessed from many clients, not from one, and not other keys", async () => {
    const victim = await api.createTenant();
    const bystander = await api.createTenant();

    // One client alone exhausts its own budget long before the key's.
    const lone = from(freshAddress());
    for (let i = 0; i < FAILURES + 2; i++) await call(lone, '/v1/tenants', guessFor(victim.key));
    const afterOne = await call(from(freshAddress()), `/v1/tenants/${victim.tenantId}`, victim.key);
    // Many clients, each within its own budget, together exceed the key's.
    const spread: number[] = [];
    for (let i = 0; i < 6; i++) {
      const client = from(freshAddress());
      for (let j = 0; j < FAILURES - 1; j++)
        spread.push((await call(client, '/v1/tenants', guessFor(victim.key))).status);
    }
    const fresh = from(freshAddress());
    const ownerKey = await call(fresh, `/v1/tenants/${victim.tenantId}`, victim.key);
    const otherKey = await call(fresh, `/v1/tenants/${bystander.tenantId}`, bystander.key);

    expect(afterOne.status).toBe(200);
    expect(spread).toContain(429);
    expect(ownerKey.status).toBe(429);
    expect(Number(ownerKey.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(otherKey.status).toBe(200);
  });
});

describe('the client identity', () => {
  it.each([
    ['198.51.100.7', '198.51.100.7'],
    ['::ffff:198.51.100.7', '198.51.100.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::9', '2001:db8:1:2::/64'],
    ['2001:DB8:0:0:1::', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['64:ff9b::192.0.2.33', '64:ff9b:0:0::/64'],
  ])('counts %s as %s', (address, key) => {
    expect(clientKey(address)).toBe(key);
  });

  it('prefers what the entry point established, then API Gateway, then the socket; never a header', () => {
    const socket = { incoming: { socket: { remoteAddress: '192.0.2.3' } } };
    const gateway = { event: { requestContext: { http: { sourceIp: '192.0.2.2' } } } };

    expect(clientAddress({ ...socket, ...gateway, clientAddress: '192.0.2.1' })).toBe('192.0.2.1');
    expect(clientAddress({ ...socket, ...gateway })).toBe('192.0.2.2');
    expect(clientAddress({ event: { requestContext: { identity: { sourceIp: '192.0.2.4' } } } })).toBe(
      '192.0.2.4',
    );
    expect(clientAddress(socket)).toBe('192.0.2.3');
    expect(clientAddress({ clientAddress: 'not an address', ...socket })).toBe('192.0.2.3');
    expect(clientAddress(undefined)).toBe('unknown');
  });

  it.each([
    [[], '10.0.0.5', '203.0.113.9', '10.0.0.5'],
    [['10.0.0.0/8'], '10.0.0.5', undefined, '10.0.0.5'],
    [['10.0.0.0/8'], '10.0.0.5', '203.0.113.9', '203.0.113.9'],
    [['10.0.0.0/8'], '10.0.0.5', '192.0.2.66, 203.0.113.9', '203.0.113.9'],
    [['10.0.0.0/8'], '10.0.0.5', '203.0.113.9, 10.1.1.1', '203.0.113.9'],
    [['10.0.0.0/8'], '10.0.0.5', 'garbage, 10.1.1.1', '10.1.1.1'],
    [['10.0.0.0/8'], '198.51.100.1', '203.0.113.9', '198.51.100.1'],
    [['10.0.0.0/8'], '::ffff:10.0.0.5', '203.0.113.9', '203.0.113.9'],
    [['fd00::/8'], 'fd00::1', '2001:db8::7', '2001:db8::7'],
    [['127.0.0.1'], '127.0.0.1', 'x'.repeat(3000), '127.0.0.1'],
  ])(
    'behind %o, a request from %s with X-Forwarded-For %s comes from %s',
    (proxies, peer, header, client) => {
      expect(forwardedClientResolver(proxies)(peer, header)).toBe(client);
    },
  );

  it('counts an IPv6 host by its /64: its other addresses are locked out with it, its neighbours are not', async () => {
    for (let i = 1; i <= FAILURES; i++)
      await call(nodeServerFrom(`2001:db8:aa:1::${i}`), '/v1/tenants', wrongKey());

    const sameHost = await call(nodeServerFrom('2001:db8:aa:1:ffff::1'), '/v1/tenants', TEST_OPERATOR_KEY);
    const neighbour = await call(nodeServerFrom('2001:db8:aa:2::1'), '/v1/tenants', TEST_OPERATOR_KEY);

    expect(sameHost.status).toBe(429);
    expect(neighbour.status).toBe(200);
  });
});

describe('the Node server', () => {
  let database: TestDatabase;
  const servers: ApiServer[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    for (const server of servers) await server.close();
    await database?.drop();
  });

  async function start(extra: Record<string, string>): Promise<ApiServer> {
    const env = parseEnv({
      APP_ENV: 'local',
      OPERATOR_API_KEY: randomBytes(32).toString('base64url'),
      MASTER_KEY: randomBytes(32).toString('base64'),
      DATABASE_URL: database.url,
      PORT: '0',
      ...extra,
    });
    const server = await startApiServer({ env, logger: createLogger({ level: 'silent' }), migrate: false });
    servers.push(server);
    return server;
  }

  async function failFrom(server: ApiServer, forwardedFor: string | undefined): Promise<number> {
    const response = await fetch(`${server.url}/v1/tenants`, {
      headers: {
        authorization: `Bearer ${wrongKey()}`,
        ...(forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor }),
      },
    });
    await response.body?.cancel();
    return response.status;
  }

  it('ignores X-Forwarded-For unless a trusted proxy is configured', async () => {
    const server = await start({});

    const statuses: number[] = [];
    for (let i = 0; i < 31; i++) statuses.push(await failFrom(server, `203.0.113.${i}`));

    expect(statuses.slice(0, 30).every((s) => s === 401)).toBe(true);
    expect(statuses[30]).toBe(429);
  });

  it('takes the client from X-Forwarded-For behind a trusted proxy, and a spoofed entry changes nothing', async () => {
    const server = await start({ TRUSTED_PROXIES: '127.0.0.1/32, ::1' });

    const first: number[] = [];
    for (let i = 0; i < 31; i++) first.push(await failFrom(server, '203.0.113.5'));
    const spoofed = await failFrom(server, '192.0.2.77, 203.0.113.5');
    const second = await failFrom(server, '203.0.113.6');

    expect(first.slice(0, 30).every((s) => s === 401)).toBe(true);
    expect(first[30]).toBe(429);
    expect(spoofed).toBe(429);
    expect(second).toBe(401);
  });
});
