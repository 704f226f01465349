import { awsDestinations } from '@vsh/db';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { csrfOf, testBrowser } from '../testing/browser.ts';
import { useHarness } from '../testing/harness.ts';

// The heartbeat checkbox on an AWS account's page (ADR 0118).
const api = useHarness({
  config: { customerTemplateUrl: undefined, publicBaseUrl: 'http://127.0.0.1:8787' },
});

describe('web pages: the heartbeat finding of an AWS account', () => {
  it('is unchecked for a new account, turns on and off from its page', async () => {
    const { tenantId, key } = await api.createTenant('Heartbeat Co');
    const b = testBrowser(api);
    await b.signIn(key);
    const csrf = csrfOf((await b.get('/ui/onboarding')).text);
    const added = await b.post('/ui/onboarding/destinations', {
      csrf,
      accountId: '555555555555',
      regions: 'us-east-1',
      routing: 'all',
    });
    const path = added.headers.get('location') ?? '';
    const heartbeat = async () => {
      const [row] = await api.db.select().from(awsDestinations).where(eq(awsDestinations.tenantId, tenantId));
      return row?.heartbeatEnabled;
    };

    const before = await b.get(path);
    const on = await b.post(`${path}/heartbeat`, { csrf, heartbeat: 'on' });
    const saved = await b.get(on.headers.get('location') ?? '');
    const afterOn = await heartbeat();
    const off = await b.post(`${path}/heartbeat`, { csrf });

    expect(before.text).toMatch(/id="heartbeat" name="heartbeat" value="on" >/);
    expect(on.status).toBe(303);
    expect(saved.text).toContain('Heartbeat saved.');
    expect(saved.text).toMatch(/id="heartbeat" name="heartbeat" value="on" checked>/);
    expect(afterOn).toBe(true);
    expect(off.status).toBe(303);
    expect(await heartbeat()).toBe(false);
  });
});
