import { apiKeys, tenants, webSessions } from '@vsh/db';
import { count, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { csrfOf, type TestBrowser, testBrowser } from '../testing/browser.ts';
import { TEST_OPERATOR_KEY, useHarness } from '../testing/harness.ts';

const HOUR = 3_600_000;
let now = Date.parse('2026-12-04T08:00:00Z');
const api = useHarness({ clock: () => new Date(now), config: { publicBaseUrl: 'http://localhost:8787' } });

/** Invites a tenant through the operator's page; returns what the page showed once. */
async function invite(name: string) {
  const operator = testBrowser(api);
  await operator.signIn(TEST_OPERATOR_KEY);
  const form = await operator.get('/ui/operator/tenants/new');
  const res = await operator.post('/ui/operator/tenants', { csrf: csrfOf(form.text), name, plan: '' });
  const url = /<pre id="sign-in-link"[^>]*>([^<]+)<\/pre>/.exec(res.text)?.[1] ?? '';
  const key = /<pre id="api-key"[^>]*>([^<]+)<\/pre>/.exec(res.text)?.[1] ?? '';
  const tenantId = /<code id="tenant-id">([^<]+)<\/code>/.exec(res.text)?.[1] ?? '';
  const link = new URL(url.replaceAll('&amp;', '&'));
  api.trackSecret(key);
  api.trackSecret(link.searchParams.get('token') ?? 'no token');
  return {
    res,
    key,
    tenantId,
    linkPath: `${link.pathname}${link.search}`,
    token: link.searchParams.get('token') ?? '',
  };
}

/** Opens a sign-in link and presses its button, as a person does. */
async function redeem(b: TestBrowser, linkPath: string) {
  const shown = await b.get(linkPath);
  const token = /name="token" value="([^"]+)"/.exec(shown.text)?.[1] ?? '';
  return b.post('/ui/login/link', { csrf: linkCsrfOf(shown.text), token });
}

/** The token of the link page's own form (a signed-in page also has the sign-out form's). */
const linkCsrfOf = (html: string): string =>
  /action="\/ui\/login\/link">\s*<input type="hidden" name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';

describe('web pages: the operator invites a tenant', () => {
  it('creates the tenant and shows its key and one-time link once, with a warning', async () => {
    const { res, key, tenantId, linkPath } = await invite('Acme Corp');

    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.text).toContain('shown once and cannot be shown again');
    expect(key).toMatch(/^vsh_/);
    expect(linkPath).toMatch(/^\/ui\/login\/link\?token=[A-Za-z0-9_-]{43}$/);
    expect(res.text).toMatch(/data-copy="sign-in-link"/);
    expect(res.text).toMatch(/data-copy="api-key"/);
    const [row] = await api.db.select().from(tenants).where(eq(tenants.id, tenantId));
    expect(row?.name).toBe('Acme Corp');
    const asTenant = await api.request('GET', `/v1/tenants/${tenantId}/destinations`, { key });
    expect(asTenant.status).toBe(200);
  });

  it('refuses a tenant key on the invite page and form', async () => {
    const { key } = await api.createTenant();
    const b = testBrowser(api);
    await b.signIn(key);
    const page = await b.get('/ui/operator/tenants/new');
    const status = await b.get('/ui/status');

    const post = await b.post('/ui/operator/tenants', { csrf: csrfOf(status.text), name: 'Sneaky' });

    expect(page.status).toBe(403);
    expect(post.status).toBe(403);
    const [row] = await api.db.select({ n: count() }).from(tenants).where(eq(tenants.name, 'Sneaky'));
    expect(row?.n).toBe(0);
  });

  it('answers a bad name with the form again, the field marked and explained, and creates nothing', async () => {
    const operator = testBrowser(api);
    await operator.signIn(TEST_OPERATOR_KEY);
    const form = await operator.get('/ui/operator/tenants/new');

    const res = await operator.post('/ui/operator/tenants', {
      csrf: csrfOf(form.text),
      name: '',
      plan: 'Not A Plan',
    });

    expect(res.status).toBe(400);
    expect(res.text).toMatch(/id="name"[^>]*aria-invalid="true"/s);
    expect(res.text).toMatch(/id="plan"[^>]*aria-invalid="true"/s);
    expect(res.text).toContain('id="plan-error">The plan must be 1 to 32 lower-case letters');
    const [row] = await api.db.select({ n: count() }).from(tenants).where(eq(tenants.plan, 'Not A Plan'));
    expect(row?.n).toBe(0);
  });
});

describe('web pages: signing in with a one-time link', () => {
  it('shows "Continue as" on GET without using the link, and signs in on the button', async () => {
    const { linkPath, tenantId } = await invite('Link Co');
    const b = testBrowser(api);

    const first = await b.get(linkPath);
    const again = await b.get(linkPath);
    const res = await redeem(b, linkPath);

    expect(first.status).toBe(200);
    expect(again.text).toContain('Continue as Link Co');
    expect(first.text).toMatch(/<form method="post" action="\/ui\/login\/link">/);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/ui/start');
    const start = await b.get('/ui/start');
    expect(start.status).toBe(200);
    expect(start.text).toContain('Welcome, Link Co');
    const keyId = (await api.db.select().from(apiKeys).where(eq(apiKeys.tenantId, tenantId)))[0]?.id ?? '';
    const [sessions] = await api.db
      .select({ n: count() })
      .from(webSessions)
      .where(eq(webSessions.apiKeyId, keyId));
    expect(sessions?.n).toBe(1);
  });

  it('works once: a second use says the link cannot be used and what to do', async () => {
    const { linkPath } = await invite('Once Co');
    const first = testBrowser(api);
    const shown = await first.get(linkPath);
    await redeem(first, linkPath);
    const second = testBrowser(api, '198.51.100.10');

    const reopened = await second.get(linkPath);
    const token = /name="token" value="([^"]+)"/.exec(shown.text)?.[1] ?? '';
    const login = await second.get('/ui/login');
    const replay = await second.post('/ui/login/link', { csrf: csrfOf(login.text), token });

    expect(reopened.status).toBe(410);
    expect(reopened.text).toContain('This sign-in link cannot be used');
    expect(reopened.text).toContain(
      'Ask your operator for a new sign-in link, or sign in with your tenant API key',
    );
    expect(replay.status).toBe(410);
    expect(second.cookies.has('vsh_session')).toBe(false);
  });

  it('refuses an expired link, and a link whose key was revoked', async () => {
    const expired = await invite('Late Co');
    const revoked = await invite('Revoked Co');
    const keys = await api.request('GET', `/v1/tenants/${revoked.tenantId}/api-keys`);
    await api.request('DELETE', `/v1/tenants/${revoked.tenantId}/api-keys/${keys.body.items[0].id}`);
    now += 25 * HOUR;
    try {
      const late = await testBrowser(api).get(expired.linkPath);
      const gone = await testBrowser(api).get(revoked.linkPath);

      expect(late.status).toBe(410);
      expect(gone.status).toBe(410);
    } finally {
      now -= 25 * HOUR;
    }
    const b = testBrowser(api);
    const login = await b.get('/ui/login');
    const res = await b.post('/ui/login/link', { csrf: csrfOf(login.text), token: revoked.token });
    expect(res.status).toBe(410);
    expect(b.cookies.has('vsh_session')).toBe(false);
  });

  it('starts a new session with a new cookie and ends the one the browser had (no fixation)', async () => {
    const { linkPath } = await invite('Fresh Co');
    const b = testBrowser(api);
    await b.signIn(TEST_OPERATOR_KEY);
    const before = b.cookies.get('vsh_session') ?? '';

    const res = await redeem(b, linkPath);

    expect(res.status).toBe(303);
    const after = b.cookies.get('vsh_session') ?? '';
    expect(after).not.toBe('');
    expect(after).not.toBe(before);
    const old = await api.app.request('/ui/operator', { headers: { cookie: `vsh_session=${before}` } });
    expect(old.status).toBe(303);
  });

  it('refuses a redemption without the page token (login CSRF), keeping the link usable', async () => {
    const { linkPath, token } = await invite('Csrf Co');
    const b = testBrowser(api);

    const res = await b.post('/ui/login/link', { token });

    expect(res.status).toBe(403);
    expect((await testBrowser(api).get(linkPath)).status).toBe(200);
  });

  it('answers an unknown or malformed token with the same clear page', async () => {
    const unknown = await testBrowser(api).get(`/ui/login/link?token=${'A'.repeat(43)}`);
    const malformed = await testBrowser(api).get('/ui/login/link?token=%3Cscript%3E');

    expect(unknown.status).toBe(410);
    expect(malformed.status).toBe(410);
    expect(malformed.text).not.toContain('<script>');
  });

  it('keeps key sign-in working, and lands a new tenant on the checklist', async () => {
    const { key } = await api.createTenant('Key Co');

    const location = await testBrowser(api).signIn(key);

    expect(location).toBe('/ui/start');
  });

  it("lets the operator make a new link from the tenant's checklist, and nobody else", async () => {
    const { tenantId, key } = await invite('Again Co');
    const operator = testBrowser(api, '198.51.100.31');
    await operator.signIn(TEST_OPERATOR_KEY);
    const checklist = await operator.get(`/ui/start?tenant=${tenantId}`);
    const tenant = testBrowser(api, '198.51.100.32');
    await tenant.signIn(key);
    const own = await tenant.get('/ui/start');

    const made = await operator.post(`/ui/operator/tenants/${tenantId}/sign-in-links`, {
      csrf: csrfOf(checklist.text),
    });
    const refused = await tenant.post(`/ui/operator/tenants/${tenantId}/sign-in-links`, {
      csrf: csrfOf(own.text),
    });

    expect(checklist.text).toContain('id="new-sign-in-link"');
    expect(own.text).not.toContain('id="new-sign-in-link"');
    expect(made.status).toBe(201);
    expect(refused.status).toBe(403);
    const url = /<pre id="sign-in-link"[^>]*>([^<]+)<\/pre>/.exec(made.text)?.[1] ?? '';
    const link = new URL(url);
    api.trackSecret(link.searchParams.get('token') ?? 'no token');
    const res = await redeem(testBrowser(api, '198.51.100.33'), `${link.pathname}${link.search}`);
    expect(res.status).toBe(303);
  });
});
