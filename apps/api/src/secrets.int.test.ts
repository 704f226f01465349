import { randomBytes } from 'node:crypto';
import { apiKeys, auditLog, vaikoraSettings } from '@vsh/db';
import { startVaikoraSimulator, type VaikoraSimulator } from '@vsh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VaikoraClientFactory } from './deps.ts';
import { createLogger } from './logger.ts';
import { vaikoraClientFactory } from './server.ts';
import { useHarness } from './testing/harness.ts';

const GOOD_KEY = `vk_live_${randomBytes(16).toString('hex')}`;
let sim: VaikoraSimulator;

beforeAll(async () => {
  sim = await startVaikoraSimulator({ tenants: [{ apiKey: GOOD_KEY }], initialActionsPerAgent: 3 });
});
afterAll(async () => {
  await sim?.stop();
});

// A client that fails with the key in its message, as a careless library might.
const careless: VaikoraClientFactory = (input) => {
  if (input.apiKey.includes('explode')) throw new Error(`cannot use key ${input.apiKey}`);
  return vaikoraClientFactory(input);
};

// The harness fails this file if any key below shows up in a log line, a response (other than the one
// that created it) or the audit log; the tests add explicit checks where the key is most at risk.
const api = useHarness({ vaikoraClient: careless });

const newVaikoraKey = () => `vk_live_${randomBytes(16).toString('hex')}`;

describe('no Vaikora key and no tenant API key escapes', () => {
  it('keeps the Vaikora key out of every read, the database rows and the audit log once stored', async () => {
    const { tenantId, key } = await api.createTenant();
    await api.request('PUT', `/v1/tenants/${tenantId}/vaikora`, {
      key,
      body: { apiKey: GOOD_KEY, baseUrl: sim.baseUrl, agentIds: ['agt-support-bot'] },
    });

    const reads = await Promise.all([
      api.request('GET', `/v1/tenants/${tenantId}/vaikora`, { key }),
      api.request('GET', `/v1/tenants/${tenantId}/status`, { key }),
      api.request('GET', `/v1/tenants/${tenantId}`, { key }),
      api.request('GET', '/v1/tenants?limit=100'),
      api.request('POST', `/v1/tenants/${tenantId}/vaikora/verify`, { key }),
    ]);
    const settingsRows = await api.db.select().from(vaikoraSettings);
    const auditRows = await api.db.select().from(auditLog);

    for (const read of reads) expect(read.text).not.toContain(GOOD_KEY);
    expect(JSON.stringify(settingsRows)).not.toContain(GOOD_KEY);
    expect(JSON.stringify(auditRows)).not.toContain(GOOD_KEY);
  });

  it.each([
    ['refused by Vaikora', () => ({ apiKey: newVaikoraKey() })],
    ['unreachable Vaikora', () => ({ apiKey: newVaikoraKey(), baseUrl: 'http://127.0.0.1:9/api/v1' })],
    [
      'a client that throws with the key in its message',
      () => ({ apiKey: `vk_live_explode_${randomBytes(8).toString('hex')}` }),
    ],
    [
      'a key with a character Vaikora keys never have',
      () => ({ apiKey: `vk_live_${randomBytes(8).toString('hex')} x` }),
    ],
    ['an unknown field next to the key', () => ({ apiKey: newVaikoraKey(), apiKeyConfirm: 'x' })],
  ])('does not echo the key when it is %s', async (_what, make) => {
    const { tenantId, key } = await api.createTenant();
    const body = { baseUrl: sim.baseUrl, agentIds: ['a'], ...make() };
    const logsBefore = api.logs.length;

    const response = await api.request('PUT', `/v1/tenants/${tenantId}/vaikora`, { key, body });

    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect(response.text).not.toContain(body.apiKey);
    expect(api.logs.slice(logsBefore).join('\n')).not.toContain(body.apiKey);
  });

  it('does not echo a key sent where it does not belong: path, query, bearer token', async () => {
    const { tenantId, key } = await api.createTenant();
    const vaikoraKey = newVaikoraKey();
    api.trackSecret(vaikoraKey);

    const responses = await Promise.all([
      api.request('GET', `/v1/tenants/${key}`),
      api.request('GET', `/v1/tenants/${tenantId}/destinations/${key}`, { key }),
      api.request('GET', `/v1/tenants?cursor=${key}`),
      api.request('GET', `/v1/${vaikoraKey}`),
      api.request('GET', '/v1/tenants', { key: vaikoraKey }),
      api.request('GET', `/v1/tenants/${tenantId}`, {
        headers: { authorization: `Basic ${key}` },
        key: null,
      }),
    ]);

    for (const response of responses) {
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(response.text).not.toContain(key);
      expect(response.text).not.toContain(vaikoraKey);
    }
  });

  it('shows a tenant API key once: in the response that created it, never in lists or the database', async () => {
    const { tenantId, key } = await api.createTenant();
    const created = await api.request('POST', `/v1/tenants/${tenantId}/api-keys`, {
      key,
      body: { name: 'extra' },
    });

    const list = await api.request('GET', `/v1/tenants/${tenantId}/api-keys`, { key });
    const rows = await api.db.select().from(apiKeys);

    expect(created.body.key).toMatch(/^vsh_/);
    expect(list.text).not.toContain(created.body.key);
    expect(list.text).not.toContain(key);
    expect(JSON.stringify(rows)).not.toContain(created.body.key);
    expect(JSON.stringify(rows)).not.toContain(key);
  });

  it('redacts key-shaped fields even if one is ever passed to the logger', () => {
    const lines: string[] = [];
    const logger = createLogger({ destination: { write: (line: string) => void lines.push(line) } });

    logger.info(
      { apiKey: GOOD_KEY, nested: { apiKey: GOOD_KEY, key: GOOD_KEY }, authorization: `Bearer ${GOOD_KEY}` },
      'x',
    );

    expect(lines.join('')).not.toContain(GOOD_KEY);
    expect(lines.join('')).toContain('[redacted]');
  });

  it('captures what it checks: one log line for every request, by its request id', async () => {
    const { tenantId, key } = await api.createTenant();

    const responses = await Promise.all([
      api.request('GET', `/v1/tenants/${tenantId}`, { key }),
      api.request('GET', `/v1/tenants/${tenantId}/vaikora`, { key }),
      api.request('PUT', `/v1/tenants/${tenantId}/vaikora`, { key, body: { apiKey: newVaikoraKey() } }),
    ]);

    const requestLines = api.logs.filter((line) => line.includes('"msg":"request"'));
    for (const response of responses) {
      const requestId = response.headers.get('x-request-id');
      expect(requestId).toBeTruthy();
      expect(requestLines.filter((line) => line.includes(`"requestId":"${requestId}"`))).toHaveLength(1);
    }
  });
});
