import { describe, expect, it } from 'vitest';
import { csrfOf, testBrowser } from '../testing/browser.ts';
import { useHarness } from '../testing/harness.ts';

const api = useHarness({ config: { mode: 'production', publicBaseUrl: 'https://connector.example.com' } });

describe('web pages: deploying the role outside the local stack', () => {
  it('offers Launch Stack and no local deploy, and refuses a local deploy with a clear page', async () => {
    const { key } = await api.createTenant('Prod Co');
    const b = testBrowser(api);
    await b.signIn(key);
    const list = await b.get('/ui/onboarding');
    const csrf = csrfOf(list.text);
    const added = await b.post('/ui/onboarding/destinations', {
      csrf,
      accountId: '777777777777',
      regions: 'us-east-1',
    });
    const path = added.headers.get('location') ?? '';

    const page = await b.get(path);
    const res = await b.post(`${path}/local-deploy`, { csrf });

    expect(page.text).toContain('id="launch-stack"');
    expect(page.text).not.toContain('id="local-deploy"');
    expect(page.text).not.toContain('local deploy-role');
    expect(page.text).toContain(
      'href="https://connector.example.com/templates/vaikora-securityhub-role.yaml"',
    );
    expect(res.status).toBe(409);
    expect(res.text).toContain('works only with the local stack');
  });
});
