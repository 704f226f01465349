import { createHash } from 'node:crypto';
import { webSessions } from '@vsh/db';
import { count, eq } from 'drizzle-orm';
import { beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../app.ts';
import { csrfOf, multiAppBrowser } from '../testing/browser.ts';
import { type Harness, TEST_OPERATOR_KEY, useHarness } from '../testing/harness.ts';

type App = ReturnType<typeof createApp>;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const browser = multiAppBrowser;
type Browser = ReturnType<typeof browser>;

/** Whether the browser's session opens the page (200) rather than being sent to sign in (303). */
async function signedIn(b: Browser, app: App, path = '/ui/status'): Promise<boolean> {
  const res = await b.get(app, path);
  if (res.status === 303 && (res.headers.get('location') ?? '').startsWith('/ui/login')) return false;
  expect(res.status).toBe(200);
  return true;
}

/** The id of a tenant's key, found by its prefix. */
async function keyIdOf(api: Harness, tenantId: string, key: string): Promise<string> {
  const keys = await api.request('GET', `/v1/tenants/${tenantId}/api-keys`);
  const item = keys.body.items.find((k: { prefix: string }) => key.startsWith(k.prefix));
  return item.id as string;
}

async function sessionRowsOf(api: Harness, keyId: string): Promise<number> {
  const [row] = await api.db.select({ n: count() }).from(webSessions).where(eq(webSessions.apiKeyId, keyId));
  return row?.n ?? 0;
}

describe('web sessions across API instances', () => {
  let nowMs = Date.parse('2031-03-04T05:06:00.000Z');
  const api = useHarness({
    clock: () => new Date(nowMs),
    config: { webSessions: { maxPerKey: 3, signInsPerMinute: 5 } },
  });
  let second: App;

  beforeEach(() => {
    // Every test starts in a fresh sign-in minute, so one test's sign-ins never count against another's.
    nowMs += 2 * MINUTE;
    second ??= createApp({ ...api.deps });
  });

  it('honours a sign-in made on one instance on a second instance built on the same database', async () => {
    const { key } = await api.createTenant('Seen from both');
    const b = browser();

    const res = await b.signIn(api.app, key);
    const page = await b.get(second, '/ui/status');

    expect(res.status).toBe(303);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Seen from both');
    expect(page.text).toContain('Sign out');
  });

  it('signs out on one instance and the cookie then opens nothing on either', async () => {
    const { key } = await api.createTenant();
    const b = browser();
    await b.signIn(api.app, key);
    const cookie = b.cookies.get('vsh_session') ?? '';
    const home = await b.get(second, '/ui/status');

    const out = await b.post(second, '/ui/logout', { csrf: csrfOf(home.text) });

    expect(out.status).toBe(303);
    for (const app of [api.app, second]) {
      const replay = await app.request('/ui/status', { headers: { cookie: `vsh_session=${cookie}` } });
      expect(replay.status).toBe(303);
    }
  });

  it('accepts a form posted to the other instance with the CSRF token of the page it rendered', async () => {
    const { key } = await api.createTenant();
    const b = browser();
    await b.signIn(api.app, key);
    const page = await b.get(api.app, '/ui/onboarding');

    const posted = await b.post(second, '/ui/onboarding/destinations', {
      csrf: csrfOf(page.text),
      accountId: '333333333333',
      regions: 'us-west-2',
    });
    const forged = await b.post(second, '/ui/onboarding/destinations', {
      csrf: 'x'.repeat(43),
      accountId: '444444444444',
      regions: 'us-west-2',
    });

    expect(posted.status).toBe(303);
    expect(posted.headers.get('location')).toMatch(/^\/ui\/onboarding\/destinations\/dst_/);
    expect(forged.status).toBe(403);
  });

  it('keeps the session token out of the database: the row is named by its SHA-256', async () => {
    const { tenantId, key } = await api.createTenant();
    const b = browser();
    await b.signIn(api.app, key);
    const token = b.cookies.get('vsh_session') ?? '';

    const rows = await api.db.select().from(webSessions).where(eq(webSessions.tenantId, tenantId));

    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.id).toBe(createHash('sha256').update(token, 'utf8').digest('hex'));
    expect(JSON.stringify(rows)).not.toContain(token);
  });

  it('keeps at most 3 sessions per key, ending the oldest, and never a session of another key or the operator', async () => {
    const attacker = await api.createTenant();
    const bystander = await api.createTenant();
    const operator = browser('192.0.2.1');
    const other = browser('192.0.2.2');
    await operator.signIn(second, TEST_OPERATOR_KEY);
    await other.signIn(second, bystander.key);
    const sessions = Array.from({ length: 5 }, () => browser('198.51.100.9'));

    for (const [i, b] of sessions.entries()) {
      expect((await b.signIn(i % 2 === 0 ? api.app : second, attacker.key)).status).toBe(303);
    }

    const live = [];
    for (const b of sessions) live.push(await signedIn(b, api.app));
    expect(live).toEqual([false, false, true, true, true]);
    expect(await signedIn(operator, api.app, '/ui/operator')).toBe(true);
    expect(await signedIn(other, api.app)).toBe(true);
    expect(await sessionRowsOf(api, await keyIdOf(api, attacker.tenantId, attacker.key))).toBe(3);
  });

  it('answers 429 with Retry-After to a client signing in more than 5 times a minute, counted across instances', async () => {
    const { key } = await api.createTenant();
    // A new browser (cookie jar) each time, all from one address: a signed-in browser is sent home instead.
    const results: number[] = [];
    for (let i = 0; i < 5; i++) {
      results.push((await browser('203.0.113.50').signIn(i % 2 === 0 ? api.app : second, key)).status);
    }

    const limitedHere = await browser('203.0.113.50').signIn(api.app, key);
    const limitedThere = await browser('203.0.113.50').signIn(second, key);
    const elsewhere = await browser('203.0.113.51').signIn(second, key);
    nowMs += MINUTE;
    const nextMinute = await browser('203.0.113.50').signIn(second, key);

    expect(results).toEqual([303, 303, 303, 303, 303]);
    for (const limited of [limitedHere, limitedThere]) {
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(60);
      expect(limited.text).toContain('Too many sign-ins');
    }
    expect(elsewhere.status).toBe(303);
    expect(nextMinute.status).toBe(303);
  });

  it('does not count wrong keys against the sign-in limit of a key, and still refuses them with 401', async () => {
    const { key } = await api.createTenant();
    const b = browser('203.0.113.60');
    const wrong: number[] = [];
    for (let i = 0; i < 8; i++) wrong.push((await b.signIn(api.app, `${key.slice(0, -4)}AAAA`)).status);

    const right = await b.signIn(second, key);

    expect(wrong).toEqual(Array(8).fill(401));
    expect(right.status).toBe(303);
  });

  it('ends every session of a key on every instance as soon as the key is revoked', async () => {
    const { tenantId, key } = await api.createTenant();
    const keep = await api.request('POST', `/v1/tenants/${tenantId}/api-keys`, { body: { name: 'kept' } });
    const onFirst = browser();
    const onSecond = browser();
    const withOtherKey = browser();
    await onFirst.signIn(api.app, key);
    await onSecond.signIn(second, key);
    await withOtherKey.signIn(second, keep.body.key);
    expect(await signedIn(onFirst, second)).toBe(true);

    await api.request('DELETE', `/v1/tenants/${tenantId}/api-keys/${await keyIdOf(api, tenantId, key)}`);

    for (const app of [api.app, second]) {
      expect(await signedIn(onFirst, app)).toBe(false);
      expect(await signedIn(onSecond, app)).toBe(false);
      expect(await signedIn(withOtherKey, app)).toBe(true);
    }
  });

  it('ends every session of a tenant on every instance when the tenant is offboarded', async () => {
    const { tenantId, key } = await api.createTenant();
    const b = browser();
    await b.signIn(second, key);
    expect(await signedIn(b, api.app)).toBe(true);

    await api.request('POST', `/v1/tenants/${tenantId}/offboard`);

    expect(await signedIn(b, api.app)).toBe(false);
    expect(await signedIn(b, second)).toBe(false);
  });

  it('refuses a session idle for longer than an hour, on any instance', async () => {
    const { key } = await api.createTenant();
    const b = browser();
    await b.signIn(api.app, key);
    nowMs += 59 * MINUTE;
    expect(await signedIn(b, second)).toBe(true);

    nowMs += HOUR + MINUTE;

    expect(await signedIn(b, second)).toBe(false);
    expect(await signedIn(b, api.app)).toBe(false);
  });

  it('refuses a session 12 hours after sign-in however active it was', async () => {
    const { key } = await api.createTenant();
    const b = browser();
    await b.signIn(api.app, key);
    const signedInAt = nowMs;
    for (let step = 1; step < 24; step++) {
      nowMs = signedInAt + step * 30 * MINUTE;
      expect(await signedIn(b, step % 2 === 0 ? api.app : second)).toBe(true);
    }

    nowMs = signedInAt + 12 * HOUR;

    expect(await signedIn(b, api.app)).toBe(false);
  });

  it('deletes expired sessions when someone signs in, so the table stays bounded', async () => {
    const stale = await api.createTenant();
    for (let i = 0; i < 3; i++) await browser(`198.18.0.${i}`).signIn(api.app, stale.key);
    const keyId = await keyIdOf(api, stale.tenantId, stale.key);
    expect(await sessionRowsOf(api, keyId)).toBe(3);
    nowMs += 13 * HOUR;

    await browser().signIn(second, (await api.createTenant()).key);

    expect(await sessionRowsOf(api, keyId)).toBe(0);
  });

  it('ends operator sessions on instances configured with another operator key (a rotated key)', async () => {
    const operator = browser();
    await operator.signIn(api.app, TEST_OPERATOR_KEY);
    const rotated = createApp({ ...api.deps, operatorApiKey: `${TEST_OPERATOR_KEY}-rotated` });

    expect(await signedIn(operator, second, '/ui/operator')).toBe(true);
    expect(await signedIn(operator, rotated, '/ui/operator')).toBe(false);
  });
});

describe('10,050 sign-ins with one tenant key (issue 12)', () => {
  const api = useHarness({ config: { webSessions: { maxPerKey: 20, signInsPerMinute: 10 } } });

  it('never sign the operator or another key out, and leave the key 20 sessions', async () => {
    const attacker = await api.createTenant('Attacker');
    const bystander = await api.createTenant('Bystander');
    const second = createApp({ ...api.deps });
    const operator = browser('192.0.2.10');
    const other = browser('192.0.2.11');
    await operator.signIn(api.app, TEST_OPERATOR_KEY);
    await other.signIn(second, bystander.key);
    const first = browser('198.18.255.254');
    expect((await first.signIn(api.app, attacker.key)).status).toBe(303);

    // 1,005 source addresses, 10 sign-ins each (the per-client limit), 8 at a time, half on each instance.
    const total = 10_050;
    let next = 0;
    const statuses = new Map<number, number>();
    const worker = async () => {
      for (let i = next++; i < total; i = next++) {
        const address = `10.${(i / 10 / 256) | 0}.${((i / 10) | 0) % 256}.1`;
        const res = await (i % 2 === 0 ? api.app : second).request(
          '/ui/login',
          {
            method: 'POST',
            headers: { cookie: 'vsh_login=t', 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ csrf: 't', key: attacker.key }).toString(),
          },
          { incoming: { socket: { remoteAddress: address } } },
        );
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));

    expect(Object.fromEntries(statuses)).toEqual({ 303: total });
    expect(await signedIn(operator, second, '/ui/operator')).toBe(true);
    expect(await signedIn(other, api.app)).toBe(true);
    expect(await signedIn(first, second)).toBe(false);
    expect(await sessionRowsOf(api, await keyIdOf(api, attacker.tenantId, attacker.key))).toBe(20);
  }, 300_000);
});

describe('web sessions on the embedded PGlite database', () => {
  const api = useHarness({
    database: 'pglite',
    config: { webSessions: { maxPerKey: 2, signInsPerMinute: 3 } },
  });

  it('shares sessions between instances, keeps the per-key cap and counts sign-ins as on PostgreSQL', async () => {
    const { key } = await api.createTenant('Embedded');
    const second = createApp({ ...api.deps });
    const operator = browser('192.0.2.20');
    await operator.signIn(api.app, TEST_OPERATOR_KEY);
    const sessions = [browser(), browser(), browser()];

    const statuses = [];
    for (const [i, b] of sessions.entries())
      statuses.push((await b.signIn(i % 2 ? second : api.app, key)).status);
    const limited = await browser().signIn(second, key);

    expect(statuses).toEqual([303, 303, 303]);
    expect(limited.status).toBe(429);
    const live = [];
    for (const b of sessions) live.push(await signedIn(b, second));
    expect(live).toEqual([false, true, true]);
    expect(await signedIn(operator, second, '/ui/operator')).toBe(true);
  });
});

describe('the backstop on live sessions in all', () => {
  const api = useHarness({ config: { webSessions: { maxLive: 2 } } });

  it('refuses tenant sign-ins with 503 once it is reached, signs nobody out, and still lets the operator in', async () => {
    const first = browser();
    const second = browser();
    await first.signIn(api.app, (await api.createTenant()).key);
    await second.signIn(api.app, (await api.createTenant()).key);

    const refused = await browser().signIn(api.app, (await api.createTenant()).key);
    const operator = browser();
    const operatorIn = await operator.signIn(api.app, TEST_OPERATOR_KEY);

    expect(refused.status).toBe(503);
    expect(refused.text).toContain('Too many sessions are open');
    expect(operatorIn.status).toBe(303);
    expect(await signedIn(first, api.app)).toBe(true);
    expect(await signedIn(second, api.app)).toBe(true);
    expect(await signedIn(operator, api.app, '/ui/operator')).toBe(true);
  });
});
