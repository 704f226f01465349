import { awsDestinations } from '@vsh/db';
import { eq } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LocalAwsPort } from '../deps.ts';
import { csrfOf, testBrowser } from '../testing/browser.ts';
import { useHarness } from '../testing/harness.ts';

const api = useHarness({
  config: {
    customerTemplateUrl: undefined,
    publicBaseUrl: 'http://127.0.0.1:8787',
    awsEndpointUrl: 'http://127.0.0.1:5999',
  },
});
const deployed: Array<Parameters<LocalAwsPort['deployRole']>[0]> = [];

beforeAll(() => {
  // The harness has no option for the local stack's port; the app reads deps.localAws per request.
  api.deps.localAws = {
    async deployRole(input) {
      deployed.push(input);
      return {
        roleArn: `arn:aws:iam::${input.accountId}:role/${input.parameters.RoleName ?? 'VaikoraSecurityHubImport'}`,
      };
    },
  };
});

async function tenantWithAgents(name: string) {
  const { tenantId, key } = await api.createTenant(name);
  const put = await api.request('PUT', `/v1/tenants/${tenantId}/vaikora`, {
    key,
    body: { apiKey: 'vk_onboarding_page_key_01', agentIds: ['agt-one', 'agt-two'] },
  });
  expect(put.status).toBe(200);
  const b = testBrowser(api);
  await b.signIn(key);
  const page = await b.get('/ui/onboarding');
  return { tenantId, key, b, page, csrf: csrfOf(page.text) };
}

async function destinationOf(tenantId: string, accountId: string) {
  const rows = await api.db.select().from(awsDestinations).where(eq(awsDestinations.tenantId, tenantId));
  return rows.find((row) => row.accountId === accountId);
}

describe('web pages: AWS accounts with per-agent routing', () => {
  it("offers the tenant's Vaikora agents, all of them by default", async () => {
    const { page } = await tenantWithAgents('Offer Co');

    expect(page.text).toMatch(/id="routing-all" name="routing" value="all" checked/);
    expect(page.text).toMatch(/name="agent" value="agt-one"/);
    expect(page.text).toMatch(/name="agent" value="agt-two"/);
  });

  it('adds an account that receives only the agents checked, and one that receives every agent', async () => {
    const { tenantId, b, csrf } = await tenantWithAgents('Route Co');

    const some = await b.post('/ui/onboarding/destinations', {
      csrf,
      accountId: '111111111111',
      regions: 'us-east-1',
      routing: 'some',
      agent: ['agt-two'],
    });
    const all = await b.post('/ui/onboarding/destinations', {
      csrf,
      accountId: '222222222222',
      regions: 'us-east-1',
      routing: 'all',
      agent: ['agt-two'],
    });
    const list = await b.get('/ui/onboarding');

    expect(some.status).toBe(303);
    expect(all.status).toBe(303);
    expect((await destinationOf(tenantId, '111111111111'))?.agentIds).toEqual(['agt-two']);
    expect((await destinationOf(tenantId, '222222222222'))?.agentIds).toBeNull();
    expect(list.text).toMatch(/111111111111.*<code>agt-two<\/code>/s);
    expect(list.text).toMatch(/222222222222.*All agents/s);
  });

  it('refuses "only these agents" with none checked, next to the choice, and adds nothing', async () => {
    const { tenantId, b, csrf } = await tenantWithAgents('Empty Co');

    const res = await b.post('/ui/onboarding/destinations', {
      csrf,
      accountId: '333333333333',
      regions: 'us-east-1',
      routing: 'some',
    });

    expect(res.status).toBe(400);
    expect(res.text).toMatch(/<fieldset id="routing" aria-invalid="true"/);
    expect(res.text).toContain('Choose the agents: the list must name at least one Vaikora agent.');
    expect(await destinationOf(tenantId, '333333333333')).toBeUndefined();
  });

  it("changes an account's routing from its page", async () => {
    const { tenantId, b, csrf } = await tenantWithAgents('Change Co');
    const added = await b.post('/ui/onboarding/destinations', {
      csrf,
      accountId: '444444444444',
      regions: 'us-east-1',
      routing: 'all',
    });
    const path = added.headers.get('location') ?? '';

    const res = await b.post(`${path}/routing`, { csrf, routing: 'some', agent: ['agt-one'] });
    const page = await b.get(res.headers.get('location') ?? '');
    const back = await b.post(`${path}/routing`, { csrf, routing: 'all' });

    expect(res.status).toBe(303);
    expect(page.text).toContain('Routing saved.');
    expect(page.text).toMatch(/name="agent" value="agt-one" checked/);
    expect(back.status).toBe(303);
    expect((await destinationOf(tenantId, '444444444444'))?.agentIds).toBeNull();
  });
});

describe('web pages: deploying the role', () => {
  it('serves the template from this API and says why Launch Stack is not offered locally', async () => {
    const { b, csrf } = await tenantWithAgents('Template Co');
    const added = await b.post('/ui/onboarding/destinations', {
      csrf,
      accountId: '555555555555',
      regions: 'us-east-1',
      routing: 'all',
    });

    const page = await b.get(added.headers.get('location') ?? '');

    expect(page.text).toContain('href="http://127.0.0.1:8787/templates/vaikora-securityhub-role.yaml"');
    expect(page.text).not.toContain('templates.invalid');
    expect(page.text).not.toContain('id="launch-stack"');
    expect(page.text).toContain('Launch Stack is not available here');
    expect(page.text).toContain('--endpoint-url http://127.0.0.1:5999');
    expect(page.text).toContain('pnpm local deploy-role');
  });

  it('deploys the role into local AWS and verifies it in one click', async () => {
    const { tenantId, b, csrf } = await tenantWithAgents('Local Co');
    const added = await b.post('/ui/onboarding/destinations', {
      csrf,
      accountId: '666666666666',
      regions: 'us-east-1',
      routing: 'all',
    });
    const path = added.headers.get('location') ?? '';
    const before = await b.get(path);

    const res = await b.post(`${path}/local-deploy`, { csrf });
    const after = await b.get((res.headers.get('location') ?? '').replace(/#.*$/, ''));

    expect(before.text).toContain('id="local-deploy"');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toMatch(/#verification$/);
    expect(deployed.at(-1)?.accountId).toBe('666666666666');
    expect(Object.values(deployed.at(-1)?.parameters ?? {})).toContain(
      (await destinationOf(tenantId, '666666666666'))?.externalId,
    );
    expect((await destinationOf(tenantId, '666666666666'))?.state).toBe('verified');
    expect(after.text).toContain('All checks passed');
    expect(after.text).toContain('<a class="button" href="/ui/status">See the status page</a>');
  });
});
