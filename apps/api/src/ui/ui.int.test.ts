import { describe, expect, it } from 'vitest';
import { seedRejected, seedRun, TEST_OPERATOR_KEY, useHarness } from '../testing/harness.ts';

const api = useHarness();

interface PageResponse {
  status: number;
  headers: Headers;
  text: string;
}

/** A minimal browser: keeps cookies, sends forms, does not follow redirects. */
function browser() {
  const cookies = new Map<string, string>();
  const remember = (res: Response) => {
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      if (value === '' || /max-age=0/i.test(line)) cookies.delete(name);
      else cookies.set(name, value);
    }
  };
  const cookieHeader = () => [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  return {
    cookies,
    async get(path: string): Promise<PageResponse> {
      const res = await api.app.request(path, { headers: { cookie: cookieHeader() } });
      remember(res);
      return { status: res.status, headers: res.headers, text: await res.text() };
    },
    async post(path: string, form: Record<string, string>): Promise<PageResponse> {
      const res = await api.app.request(path, {
        method: 'POST',
        headers: { cookie: cookieHeader(), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form).toString(),
      });
      remember(res);
      return { status: res.status, headers: res.headers, text: await res.text() };
    },
  };
}

const csrfOf = (html: string): string => /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';

async function signIn(key: string) {
  const b = browser();
  const login = await b.get('/ui/login');
  const res = await b.post('/ui/login', { csrf: csrfOf(login.text), key });
  expect(res.status).toBe(303);
  const home = await b.get(res.headers.get('location') ?? '/ui');
  return { b, home, csrf: csrfOf(home.text) };
}

describe('web pages: sign-in and session', () => {
  it('redirects a visitor without a session to the sign-in page', async () => {
    const res = await browser().get('/ui/status');

    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/ui/login?next=%2Fui%2Fstatus');
  });

  it('signs a tenant in with an opaque HttpOnly SameSite=Strict cookie that does not carry the key', async () => {
    const { key } = await api.createTenant();
    const b = browser();
    const login = await b.get('/ui/login');

    const res = await b.post('/ui/login', { csrf: csrfOf(login.text), key });

    expect(res.status).toBe(303);
    // A new tenant lands on the getting-started checklist, not on a status page of zeros.
    expect(res.headers.get('location')).toBe('/ui/start');
    const cookie = res.headers.getSetCookie().find((line) => line.startsWith('vsh_session='));
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).not.toContain(key);
    const status = await b.get('/ui/status');
    expect(status.status).toBe(200);
    expect(status.text).not.toContain(key);
    expect(status.headers.get('content-security-policy')).toContain("default-src 'none'");
  });

  it('refuses a wrong key with the sign-in form again and no session', async () => {
    const b = browser();
    const login = await b.get('/ui/login');

    const res = await b.post('/ui/login', { csrf: csrfOf(login.text), key: 'vsh_not_a_real_key_000000' });

    expect(res.status).toBe(401);
    expect(res.text).toContain('That key is not valid');
    expect(b.cookies.has('vsh_session')).toBe(false);
  });

  it('refuses a sign-in without the form token (login CSRF)', async () => {
    const { key } = await api.createTenant();
    const b = browser();
    await b.get('/ui/login');

    const res = await b.post('/ui/login', { key });

    expect(res.status).toBe(403);
    expect(b.cookies.has('vsh_session')).toBe(false);
  });

  it('ends the session on sign-out, so the old cookie no longer opens pages', async () => {
    const { key } = await api.createTenant();
    const { b, csrf } = await signIn(key);
    const stolen = b.cookies.get('vsh_session') ?? '';

    const out = await b.post('/ui/logout', { csrf });

    expect(out.status).toBe(303);
    const replay = await api.app.request('/ui/status', { headers: { cookie: `vsh_session=${stolen}` } });
    expect(replay.status).toBe(303);
  });

  it('ends the session as soon as its key is revoked', async () => {
    const { tenantId, key } = await api.createTenant();
    const { b } = await signIn(key);
    const keys = await api.request('GET', `/v1/tenants/${tenantId}/api-keys`);
    const keyId = keys.body.items[0].id as string;

    await api.request('DELETE', `/v1/tenants/${tenantId}/api-keys/${keyId}`);

    expect((await b.get('/ui/status')).status).toBe(303);
  });
});

describe('web pages: CSRF and isolation', () => {
  it('refuses a form POST without the session CSRF token and changes nothing', async () => {
    const { key } = await api.createTenant();
    const { b } = await signIn(key);

    const res = await b.post('/ui/onboarding/destinations', {
      accountId: '333333333333',
      regions: 'us-west-2',
    });

    expect(res.status).toBe(403);
    expect(res.text).toContain('FORBIDDEN');
    expect((await b.get('/ui/onboarding')).text).not.toContain('333333333333');
  });

  it('refuses a form POST carrying another session token', async () => {
    const a = await signIn((await api.createTenant()).key);
    const other = await signIn((await api.createTenant()).key);

    const res = await a.b.post('/ui/status/run-now', { csrf: other.csrf });

    expect(res.status).toBe(403);
  });

  it("does not show tenant A another tenant's status, exactly as for a tenant that does not exist", async () => {
    const a = await api.createTenant('Tenant A');
    const b = await api.createTenant('Tenant B');
    const { b: browserA } = await signIn(a.key);

    const other = await browserA.get(`/ui/status?tenant=${b.tenantId}`);
    const missing = await browserA.get('/ui/status?tenant=ten_00000000000000000000000000');

    expect(other.status).toBe(404);
    expect(other.text).not.toContain('Tenant B');
    expect(other.text).toContain('NOT_FOUND');
    expect(missing.status).toBe(404);
  });

  it('refuses the operator overview to a tenant with a friendly FORBIDDEN page', async () => {
    const { b } = await signIn((await api.createTenant()).key);

    const res = await b.get('/ui/operator');

    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(res.text).toContain('FORBIDDEN');
    expect(res.text).not.toMatch(/at .*\.ts:\d+/);
  });

  it('renders an unknown page and a bad cursor as error pages with their codes', async () => {
    const { b } = await signIn((await api.createTenant()).key);

    const missing = await b.get('/ui/nowhere');
    const badCursor = await b.get('/ui/status?rejected=not-a-cursor');

    expect(missing.status).toBe(404);
    expect(badCursor.status).toBe(400);
    expect(badCursor.text).toContain('VALIDATION_FAILED');
  });
});

describe('web pages: onboarding, status and operator overview', () => {
  it('adds an AWS account and shows the ExternalId, Launch Stack link, trust policy and deploy command', async () => {
    const { tenantId, key } = await api.createTenant();
    const { b, csrf } = await signIn(key);

    const res = await b.post('/ui/onboarding/destinations', {
      csrf,
      accountId: '333333333333',
      regions: 'us-west-2, eu-west-1',
    });

    expect(res.status).toBe(303);
    const page = await b.get(res.headers.get('location') ?? '');
    const listed = await api.request('GET', `/v1/tenants/${tenantId}/destinations`);
    const destination = listed.body.items[0];
    expect(destination.regions).toEqual(['us-west-2', 'eu-west-1']);
    expect(page.text).toContain(destination.externalId);
    expect(page.text).toContain('id="launch-stack" href="https://');
    expect(page.text).toContain('sts:ExternalId');
    expect(page.text).toContain('aws cloudformation deploy');
  });

  it('shows what is wrong with a bad account id next to the field', async () => {
    const { b, csrf } = await signIn((await api.createTenant()).key);

    const res = await b.post('/ui/onboarding/destinations', { csrf, accountId: '12', regions: 'us-east-1' });

    expect(res.status).toBe(400);
    expect(res.text).toContain('must be a 12-digit AWS account id');
    expect(res.text).toContain('aria-invalid="true"');
  });

  it('verifies a role and lists every check with its result', async () => {
    const { b, csrf } = await signIn((await api.createTenant()).key);
    const added = await b.post('/ui/onboarding/destinations', {
      csrf,
      accountId: '333333333333',
      regions: 'us-west-2',
    });
    const path = added.headers.get('location') ?? '';

    const res = await b.post(`${path}/verify`, {
      csrf,
      roleArn: 'arn:aws:iam::333333333333:role/Data443-VaikoraSecurityHub',
    });

    expect(res.status).toBe(303);
    const page = await b.get(res.headers.get('location') ?? '');
    expect(page.text).toContain('All checks passed');
    expect(page.text).toContain('data-check="EXTERNAL_ID_REQUIRED"');
    expect(page.text).toContain('aria-live="polite"');
  });

  it('explains a role in the wrong account instead of verifying it', async () => {
    const { b, csrf } = await signIn((await api.createTenant()).key);
    const added = await b.post('/ui/onboarding/destinations', {
      csrf,
      accountId: '333333333333',
      regions: 'us-west-2',
    });

    const res = await b.post(`${added.headers.get('location')}/verify`, {
      csrf,
      roleArn: 'arn:aws:iam::444444444444:role/Data443-VaikoraSecurityHub',
    });

    expect(res.status).toBe(422);
    expect(res.text).toContain('the role is in account 444444444444');
  });

  it("shows a tenant's runs, the findings they sent and rejected records with reasons", async () => {
    const { tenantId, key } = await api.createTenant();
    await seedRun(api.db, tenantId, {
      recentFindings: [
        {
          id: 'vaikora-act-1',
          title: 'Agent exfiltrated data',
          severity: 'CRITICAL',
          time: new Date().toISOString(),
          region: 'us-east-1',
        },
      ],
    });
    await seedRejected(api.db, tenantId, { reason: 'the record has no id' });
    const { b } = await signIn(key);

    const page = await b.get('/ui/status');

    expect(page.status).toBe(200);
    expect(page.text).toContain('Agent exfiltrated data');
    expect(page.text).toContain('vaikora-act-1');
    expect(page.text).toContain('the record has no id');
    expect(page.text).toContain('<th scope="col">');
  });

  it('lists every tenant for the operator with failing ones first, and sorts by name on request', async () => {
    const healthy = await api.createTenant('Aardvark healthy');
    const failing = await api.createTenant('Zebra failing');
    await seedRun(api.db, healthy.tenantId);
    await seedRun(api.db, failing.tenantId, { status: 'failed', errorCode: 'AWS_UNAVAILABLE' });
    const { b } = await signIn(TEST_OPERATOR_KEY);

    const byHealth = await b.get('/ui/operator');
    const byName = await b.get('/ui/operator?sort=name&dir=asc');

    expect(byHealth.status).toBe(200);
    expect(byHealth.text.indexOf('Zebra failing')).toBeLessThan(byHealth.text.indexOf('Aardvark healthy'));
    expect(byName.text.indexOf('Aardvark healthy')).toBeLessThan(byName.text.indexOf('Zebra failing'));
    expect(byHealth.text).toContain(`/ui/status?tenant=${failing.tenantId}`);
  });

  it("lets the operator open a tenant's status page", async () => {
    const { tenantId } = await api.createTenant('Seen by operator');
    const { b } = await signIn(TEST_OPERATOR_KEY);

    const page = await b.get(`/ui/status?tenant=${tenantId}`);

    expect(page.status).toBe(200);
    expect(page.text).toContain('Seen by operator');
  });
});
