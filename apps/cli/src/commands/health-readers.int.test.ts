import { seedRun, TEST_OPERATOR_KEY, useHarness } from '@vsh/api/testing';
import { HEALTH_LABELS, isHealthStatus } from '@vsh/core';
import { describe, expect, it } from 'vitest';
import { runConnector } from '../testing/run.ts';

// One tenant state, three readers (ADR 0100): the API's JSON, `connector tenants list` and the operator
// page must say the same thing about the same tenant at the same moment.

type Api = ReturnType<typeof useHarness>;
const api = useHarness({ database: 'pglite' });

async function cliList(harness: Api): Promise<string> {
  const run = await runConnector(harness.app, ['tenants', 'list'], TEST_OPERATOR_KEY);
  expect(run.code, run.stderr).toBe(0);
  return run.stdout;
}

/** The operator overview's HTML, signed in with the operator key through the sign-in form. */
async function operatorPage(harness: Api): Promise<string> {
  let cookie = '';
  const keep = (res: Response) => {
    for (const line of res.headers.getSetCookie()) cookie = `${cookie}; ${line.split(';')[0]}`;
  };
  const login = await harness.app.request('/ui/login');
  keep(login);
  const csrf = /name="csrf" value="([^"]+)"/.exec(await login.text())?.[1] ?? '';
  const signedIn = await harness.app.request('/ui/login', {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf, key: TEST_OPERATOR_KEY }).toString(),
  });
  keep(signedIn);
  expect(signedIn.status).toBe(303);
  const page = await harness.app.request('/ui/operator', { headers: { cookie } });
  expect(page.status).toBe(200);
  return page.text();
}

/** A tenant with Vaikora connected and one AWS account, verified or not. */
async function connectedTenant(name: string, verify: boolean): Promise<string> {
  const { tenantId } = await api.createTenant(name);
  const settings = await api.request('PUT', `/v1/tenants/${tenantId}/vaikora`, {
    body: { apiKey: 'vk_test_health_0123456789', agentIds: ['agt-support'] },
  });
  expect(settings.status).toBe(200);
  const created = await api.request('POST', `/v1/tenants/${tenantId}/destinations`, {
    body: { accountId: '123456789012', regions: ['us-east-1'] },
  });
  expect(created.status).toBe(201);
  if (verify) {
    const verified = await api.request(
      'POST',
      `/v1/tenants/${tenantId}/destinations/${created.body.destination.id}/verify`,
      { body: { roleArn: created.body.onboarding.expectedRoleArn } },
    );
    expect(verified.status).toBe(200);
  }
  return tenantId;
}

describe('one health model, three readers', () => {
  it.each([
    [
      'a run failed two hours ago, the last one is fine',
      async () => {
        const tenantId = await connectedTenant('Readers Recovered', true);
        await seedRun(api.db, tenantId, {
          status: 'failed',
          startedAt: new Date(Date.now() - 2 * 3_600_000),
        });
        await seedRun(api.db, tenantId, { status: 'ok', startedAt: new Date(Date.now() - 60_000) });
        return tenantId;
      },
      'attention',
    ],
    [
      'Vaikora connected, the AWS account not verified yet',
      async () => connectedTenant('Readers Pending', false),
      'setup',
    ],
  ])('%s: the API, the CLI and the operator page say %s', async (_name, seed, expected) => {
    const tenantId = await seed();

    const apiHealth = (await api.request('GET', `/v1/tenants/${tenantId}`)).body.health;
    const cliRow = (await cliList(api)).split('\n').find((line) => line.startsWith(tenantId));
    const html = await operatorPage(api);

    expect(apiHealth.status).toBe(expected);
    expect(apiHealth.reasons.length).toBeGreaterThan(0);
    const cliWord = cliRow?.split(/ {2,}/)[1];
    expect(cliWord).toBe(apiHealth.status);
    const row = new RegExp(`<tr data-tenant="${tenantId}">[\\s\\S]*?</tr>`).exec(html)?.[0] ?? '';
    const status: unknown = apiHealth.status;
    expect(isHealthStatus(status)).toBe(true);
    if (!isHealthStatus(status)) return;
    expect(row).toContain(`${HEALTH_LABELS[status]}</span>`);
    for (const reason of apiHealth.reasons as string[]) expect(row).toContain(reason);
  });
});
