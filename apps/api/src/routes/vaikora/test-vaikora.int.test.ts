import { randomBytes } from 'node:crypto';
import { startVaikoraSimulator, type VaikoraSimulator } from '@vsh/testkit';
import { VaikoraError } from '@vsh/vaikora';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VaikoraClientFactory } from '../../deps.ts';
import { vaikoraClientFactory } from '../../server.ts';
import { useHarness } from '../../testing/harness.ts';

const GOOD_KEY = `vk_test_${randomBytes(12).toString('hex')}`;
const NO_LISTING_KEY = `vk_test_nolist${randomBytes(8).toString('hex')}`;
let sim: VaikoraSimulator;

beforeAll(async () => {
  sim = await startVaikoraSimulator({
    tenants: [
      { apiKey: GOOD_KEY, agents: ['agt-support-bot', 'agt-sql', 'agt-triage'] },
      { apiKey: NO_LISTING_KEY, agents: ['agt-x'] },
    ],
    initialActionsPerAgent: 3,
  });
});
afterAll(async () => {
  await sim?.stop();
});

// The real client, except that for one key Vaikora refuses a list without agent_id (as some deployments do).
const factory: VaikoraClientFactory = (input) => {
  const client = vaikoraClientFactory(input);
  if (input.apiKey !== NO_LISTING_KEY) return client;
  return {
    verify: (options) => client.verify(options),
    discoverAgents: async () => {
      throw new VaikoraError('INVALID_CONFIG', 'HTTP 400', false, { status: 400 });
    },
  };
};
const api = useHarness({ vaikoraClient: factory });

function test(tenantId: string, key: string, body: Record<string, unknown>) {
  return api.request('POST', `/v1/tenants/${tenantId}/vaikora/test`, { key, body });
}

describe('POST /v1/tenants/{tenantId}/vaikora/test against the Vaikora simulator', () => {
  it('accepts the key and lists every agent it can see, without storing anything', async () => {
    const { tenantId, key } = await api.createTenant();

    const response = await test(tenantId, key, { apiKey: GOOD_KEY, baseUrl: sim.baseUrl });
    const settings = await api.request('GET', `/v1/tenants/${tenantId}/vaikora`, { key });

    expect(response.status, response.text).toBe(200);
    expect(response.body).toMatchObject({ ok: true, code: null, agentsComplete: true });
    expect([...response.body.agents].sort()).toEqual(['agt-sql', 'agt-support-bot', 'agt-triage']);
    expect(response.text).not.toContain(GOOD_KEY);
    expect(settings.status).toBe(404);
  });

  it('reports a refused key as an outcome with no agents', async () => {
    const { tenantId, key } = await api.createTenant();

    const response = await test(tenantId, key, { apiKey: 'vk_test_refused_by_sim_00', baseUrl: sim.baseUrl });

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ ok: false, code: 'UNAUTHORIZED', agents: null });
  });

  it('answers agents: null, with a message to type them, where Vaikora does not list without an agent id', async () => {
    const { tenantId, key } = await api.createTenant();

    const response = await test(tenantId, key, { apiKey: NO_LISTING_KEY, baseUrl: sim.baseUrl });

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ ok: true, agents: null });
    expect(response.body.message).toContain('type the agent ids');
  });

  it('uses the stored key when apiKey is omitted, and answers 409 NOT_CONFIGURED when there is none', async () => {
    const { tenantId, key } = await api.createTenant();

    const before = await test(tenantId, key, { baseUrl: sim.baseUrl });
    const saved = await api.request('PUT', `/v1/tenants/${tenantId}/vaikora`, {
      key,
      body: { apiKey: GOOD_KEY, baseUrl: sim.baseUrl, agentIds: ['agt-sql'] },
    });
    const after = await test(tenantId, key, { baseUrl: sim.baseUrl });

    expect(before.status).toBe(409);
    expect(before.body.error.code).toBe('NOT_CONFIGURED');
    expect(saved.status).toBe(200);
    expect(after.body).toMatchObject({ ok: true });
    expect(after.body.agents).toContain('agt-sql');
  });

  it('refuses a base URL outside the allow-list with 422 before calling anyone', async () => {
    const { tenantId, key } = await api.createTenant();
    const before = sim.stats().requests;

    const response = await test(tenantId, key, { apiKey: GOOD_KEY, baseUrl: 'https://evil.example.com/api' });

    expect(response.status).toBe(422);
    expect(response.body.error.code).toBe('BASE_URL_NOT_ALLOWED');
    expect(sim.stats().requests).toBe(before);
  });
});
