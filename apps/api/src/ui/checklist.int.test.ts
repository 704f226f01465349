import { vaikoraSettings } from '@vsh/db';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { csrfOf, testBrowser } from '../testing/browser.ts';
import { seedRun, TEST_OPERATOR_KEY, useHarness } from '../testing/harness.ts';

const api = useHarness();

const stateOf = (html: string, step: string): string =>
  new RegExp(`data-step="${step}" data-state="([a-z]+)"`).exec(html)?.[1] ?? 'absent';

async function connectVaikora(tenantId: string, key: string) {
  const res = await api.request('PUT', `/v1/tenants/${tenantId}/vaikora`, {
    key,
    body: { apiKey: 'vk_test_checklist_key_0001', agentIds: ['agt-a'] },
  });
  expect(res.status).toBe(200);
}

async function verifiedAccount(tenantId: string, key: string) {
  const created = await api.request('POST', `/v1/tenants/${tenantId}/destinations`, {
    key,
    body: { accountId: '210987654321', regions: ['us-east-1'] },
  });
  const id = created.body.destination.id as string;
  const verified = await api.request('POST', `/v1/tenants/${tenantId}/destinations/${id}/verify`, {
    key,
    body: { roleArn: created.body.onboarding.expectedRoleArn },
  });
  expect(verified.status).toBe(200);
}

describe('web pages: the getting-started checklist', () => {
  it('lands a new tenant on the checklist, every step to do and Vaikora first', async () => {
    const { key } = await api.createTenant('New Co');
    const b = testBrowser(api);

    const location = await b.signIn(key);
    const page = await b.get(location);

    expect(location).toBe('/ui/start');
    expect(page.status).toBe(200);
    expect(page.text).toContain('Get started: 0 of 3 done');
    expect(stateOf(page.text, 'vaikora')).toBe('todo');
    expect(stateOf(page.text, 'aws')).toBe('todo');
    expect(stateOf(page.text, 'finding')).toBe('todo');
    expect(page.text).toContain('<a class="button" href="/ui/vaikora">Connect Vaikora</a>');
  });

  it('follows the tenant through each step, and sends a finished tenant to the status page', async () => {
    const { tenantId, key } = await api.createTenant('Busy Co');
    const b = testBrowser(api);
    await b.signIn(key);

    await connectVaikora(tenantId, key);
    const afterVaikora = await b.get('/ui/start');
    await verifiedAccount(tenantId, key);
    const afterAws = await b.get('/ui/start');
    await seedRun(api.db, tenantId, { findingsImported: 3 });
    const done = await b.get('/ui/start');

    expect(stateOf(afterVaikora.text, 'vaikora')).toBe('done');
    expect(afterVaikora.text).toContain('<a class="button" href="/ui/onboarding">Add an AWS account</a>');
    expect(stateOf(afterAws.text, 'aws')).toBe('done');
    expect(stateOf(afterAws.text, 'finding')).toBe('todo');
    expect(stateOf(done.text, 'finding')).toBe('done');
    expect(done.text).toContain('Get started: 3 of 3 done');
    expect(await testBrowser(api).signIn(key)).toBe('/ui/status');
  });

  it('marks a step that broke as needing a fix, with the reason', async () => {
    const { tenantId, key } = await api.createTenant('Broken Co');
    await connectVaikora(tenantId, key);
    await api.db
      .update(vaikoraSettings)
      .set({ lastError: 'UNAUTHORIZED: Vaikora refused the API key' })
      .where(eq(vaikoraSettings.tenantId, tenantId));
    const b = testBrowser(api);
    await b.signIn(key);

    const page = await b.get('/ui/start');

    expect(stateOf(page.text, 'vaikora')).toBe('problem');
    expect(page.text).toContain('Vaikora answered with an error: UNAUTHORIZED: Vaikora refused the API key');
  });

  it('sends "Run now" before Vaikora is connected to the Vaikora step with the reason, not a dead end', async () => {
    const { key } = await api.createTenant('Eager Co');
    const b = testBrowser(api);
    await b.signIn(key);
    const status = await b.get('/ui/status');

    const res = await b.post('/ui/status/run-now', { csrf: csrfOf(status.text) });
    const next = await b.get(res.headers.get('location') ?? '');

    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/ui/vaikora?needed=run');
    expect(next.status).toBe(200);
    expect(next.text).toContain('Connect Vaikora first');
  });

  it("keeps tenants apart: another tenant's checklist is NOT_FOUND, and the operator sees any", async () => {
    const own = await api.createTenant('Own Co');
    const other = await api.createTenant('Other Co');
    const b = testBrowser(api);
    await b.signIn(own.key);
    const operator = testBrowser(api);
    await operator.signIn(TEST_OPERATOR_KEY);

    const theirs = await b.get(`/ui/start?tenant=${other.tenantId}`);
    const seen = await operator.get(`/ui/start?tenant=${other.tenantId}`);

    expect(theirs.status).toBe(404);
    expect(seen.status).toBe(200);
    expect(seen.text).toContain('Getting Other Co started');
    expect(seen.text).toContain(`href="/ui/vaikora?tenant=${other.tenantId}"`);
  });
});
