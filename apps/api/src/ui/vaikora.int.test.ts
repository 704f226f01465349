import { vaikoraSettings } from '@vsh/db';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import type { VaikoraClientFactory } from '../deps.ts';
import { csrfOf, testBrowser } from '../testing/browser.ts';
import { useHarness } from '../testing/harness.ts';

/** Keys with `bad` are refused; keys with `nolist` cannot list actions without an agent. */
const vaikora: VaikoraClientFactory = (input) => ({
  async verify() {
    return input.apiKey.includes('bad')
      ? { ok: false as const, code: 'UNAUTHORIZED' as const, message: 'HTTP 401 from Vaikora' }
      : { ok: true as const, total: 0 };
  },
  ...(input.apiKey.includes('nolist')
    ? {}
    : { discoverAgents: async () => ({ agents: ['agt-one', 'agt-two'], complete: true }) }),
});

const api = useHarness({ vaikoraClient: vaikora });
const KEY = 'vk_live_page_test_key_7c1d';

async function tenantPage(name: string) {
  const { tenantId, key } = await api.createTenant(name);
  const b = testBrowser(api);
  await b.signIn(key);
  const page = await b.get('/ui/vaikora');
  return { tenantId, key, b, page, csrf: csrfOf(page.text) };
}

const baseForm = {
  baseUrl: 'https://api.vaikora.com/api/v1',
  minRiskLevel: 'high',
  minRiskScore: '',
  includeAnomalies: 'on',
  includeThreats: 'on',
  pollIntervalSeconds: '300',
};

describe('web pages: the Vaikora connection', () => {
  it('shows a new tenant an empty form, the key required and write-only', async () => {
    const { page } = await tenantPage('Fresh Co');

    expect(page.status).toBe(200);
    expect(page.text).toContain('Not connected');
    expect(page.text).toMatch(/<input id="apiKey" name="apiKey" type="password"[^>]*required/);
    expect(page.text).toContain('id="test-connection"');
  });

  it('tests the connection and offers the agents found as checked boxes, never echoing the key', async () => {
    const { b, csrf } = await tenantPage('Test Co');
    api.trackSecret(KEY);

    const res = await b.post('/ui/vaikora/test', { csrf, apiKey: KEY, ...baseForm });

    expect(res.status).toBe(200);
    expect(res.text).toContain('Vaikora accepted the key; 2 agents found');
    expect(res.text).toMatch(/name="agent" value="agt-one" checked/);
    expect(res.text).toMatch(/name="agent" value="agt-two" checked/);
    expect(res.text).not.toContain(KEY);
    expect(await api.db.select().from(vaikoraSettings)).toHaveLength(0);
  });

  it('says plainly when Vaikora refuses the key, and lets agents be typed when it cannot list them', async () => {
    const { b, csrf } = await tenantPage('Refused Co');

    const refused = await b.post('/ui/vaikora/test', { csrf, apiKey: 'vk_bad_key_000000', ...baseForm });
    const unlisted = await b.post('/ui/vaikora/test', { csrf, apiKey: 'vk_nolist_key_0000', ...baseForm });
    const noKey = await b.post('/ui/vaikora/test', { csrf, apiKey: '', ...baseForm });

    expect(refused.status).toBe(422);
    expect(refused.text).toContain('UNAUTHORIZED: Vaikora refused the API key (401): check the key');
    expect(unlisted.status).toBe(200);
    expect(unlisted.text).toContain('Vaikora did not list agents for this key: type their ids below.');
    expect(unlisted.text).toContain('<label for="otherAgents">Agent ids');
    expect(noKey.status).toBe(422);
    expect(noKey.text).toMatch(/id="apiKey"[^>]*aria-invalid="true"/);
    expect(noKey.text).toContain('The API key is required when no key is stored.');
  });

  it('saves the connection with agents and thresholds, then shows the stored key only by its last characters', async () => {
    const { tenantId, b, csrf } = await tenantPage('Save Co');
    api.trackSecret(KEY);

    const res = await b.post('/ui/vaikora', {
      csrf,
      apiKey: KEY,
      ...baseForm,
      agent: ['agt-one'],
      otherAgents: 'agt-three, agt-four',
      minRiskLevel: 'critical',
      minRiskScore: '75',
      includeAnomalies: [],
      threatSeverityFloor: 'CRITICAL',
      pollIntervalSeconds: '600',
    });
    const page = await b.get(res.headers.get('location') ?? '');

    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/ui/vaikora?saved=1');
    const [row] = await api.db.select().from(vaikoraSettings).where(eq(vaikoraSettings.tenantId, tenantId));
    expect(row?.agentIds).toEqual(['agt-one', 'agt-three', 'agt-four']);
    expect(row?.pollIntervalSeconds).toBe(600);
    expect(row?.thresholds).toMatchObject({
      minRiskLevel: 'critical',
      minRiskScore: 75,
      includeAnomalies: false,
      includeThreats: true,
      threatSeverityFloor: 'CRITICAL',
    });
    expect(page.text).toContain('Next: add an AWS account');
    expect(page.text).toContain('A key is stored, ending <code>…7c1d</code>');
    expect(page.text).not.toContain(KEY);
    expect(page.text).toMatch(/name="agent" value="agt-three" checked/);
  });

  it('keeps the stored key when the field is left empty, and tests with it', async () => {
    const { tenantId, b, csrf } = await tenantPage('Keep Co');
    await b.post('/ui/vaikora', { csrf, apiKey: KEY, ...baseForm, agent: ['agt-one'] });

    const tested = await b.post('/ui/vaikora/test', { csrf, apiKey: '', ...baseForm, agent: ['agt-one'] });
    const saved = await b.post('/ui/vaikora', { csrf, apiKey: '', ...baseForm, agent: ['agt-two'] });

    expect(tested.status).toBe(200);
    expect(saved.status).toBe(303);
    const [row] = await api.db.select().from(vaikoraSettings).where(eq(vaikoraSettings.tenantId, tenantId));
    expect(row?.agentIds).toEqual(['agt-two']);
  });

  it('marks every wrong field with its own message and saves nothing', async () => {
    const { tenantId, b, csrf } = await tenantPage('Wrong Co');

    const res = await b.post('/ui/vaikora', {
      csrf,
      apiKey: KEY,
      ...baseForm,
      minRiskScore: '200',
      pollIntervalSeconds: 'soon',
      threatSeverityFloor: 'SEVERE',
    });

    expect(res.status).toBe(400);
    expect(res.text).toMatch(/id="minRiskScore"[^>]*aria-invalid="true"/);
    expect(res.text).toMatch(/id="pollIntervalSeconds"[^>]*aria-invalid="true"/);
    expect(res.text).toMatch(/id="threatSeverityFloor"[^>]*aria-invalid="true"/);
    expect(res.text).toContain(
      'id="pollIntervalSeconds-error">The poll interval must be a whole number of seconds.',
    );
    expect(res.text).toContain('id="agentIds-error">The agents must name at least one Vaikora agent.');
    expect(res.text).not.toContain(KEY);
    expect(
      await api.db.select().from(vaikoraSettings).where(eq(vaikoraSettings.tenantId, tenantId)),
    ).toHaveLength(0);
  });

  it('refuses a base URL outside the allowed hosts next to the field, and a refused key above the form', async () => {
    const { b, csrf } = await tenantPage('Host Co');

    const host = await b.post('/ui/vaikora', {
      csrf,
      apiKey: KEY,
      ...baseForm,
      baseUrl: 'https://vaikora.evil.example/api',
      agent: ['agt-one'],
    });
    const refused = await b.post('/ui/vaikora', {
      csrf,
      apiKey: 'vk_bad_key_000000',
      ...baseForm,
      agent: ['agt-one'],
    });

    expect(host.status).toBe(422);
    expect(host.text).toMatch(/id="baseUrl"[^>]*aria-invalid="true"/);
    expect(refused.status).toBe(422);
    expect(refused.text).toContain('Vaikora refused the connection: UNAUTHORIZED');
  });

  it("answers NOT_FOUND for another tenant's Vaikora page and form", async () => {
    const other = await api.createTenant('Other Co');
    const { b, csrf } = await tenantPage('Own Co');

    const page = await b.get(`/ui/vaikora?tenant=${other.tenantId}`);
    const post = await b.post(`/ui/vaikora?tenant=${other.tenantId}`, {
      csrf,
      apiKey: KEY,
      ...baseForm,
      agent: ['agt-one'],
    });

    expect(page.status).toBe(404);
    expect(post.status).toBe(404);
    expect(
      await api.db.select().from(vaikoraSettings).where(eq(vaikoraSettings.tenantId, other.tenantId)),
    ).toHaveLength(0);
  });
});
