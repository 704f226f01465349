import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { vaikoraSettings } from '@vsh/db';
import { createSecretBox, LocalMasterKeyProvider } from '@vsh/secrets';
import { startVaikoraSimulator, type VaikoraSimulator } from '@vsh/testkit';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vaikoraClientFactory } from '../../server.ts';
import { useHarness } from '../../testing/harness.ts';

const GOOD_KEY = `vk_test_${randomBytes(12).toString('hex')}`;
let sim: VaikoraSimulator;

beforeAll(async () => {
  sim = await startVaikoraSimulator({
    tenants: [{ apiKey: GOOD_KEY, agents: ['agt-support-bot'] }],
    initialActionsPerAgent: 5,
  });
});
afterAll(async () => {
  await sim?.stop();
});

const api = useHarness({ vaikoraClient: vaikoraClientFactory });

function put(tenantId: string, key: string, body: Record<string, unknown>) {
  return api.request('PUT', `/v1/tenants/${tenantId}/vaikora`, { key, body });
}

describe('Vaikora settings against the Vaikora simulator', () => {
  it('verifies the key with exactly one Vaikora request, then stores it encrypted and never returns it', async () => {
    const { tenantId, key } = await api.createTenant();
    const before = sim.stats().requests;

    const response = await put(tenantId, key, {
      apiKey: GOOD_KEY,
      baseUrl: sim.baseUrl,
      agentIds: ['agt-support-bot'],
    });
    const read = await api.request('GET', `/v1/tenants/${tenantId}/vaikora`, { key });
    const [row] = await api.db.select().from(vaikoraSettings).where(eq(vaikoraSettings.tenantId, tenantId));

    expect(response.status).toBe(200);
    expect(sim.stats().requests - before).toBe(1);
    expect(read.body).toMatchObject({ apiKeySet: true, baseUrl: sim.baseUrl, pollIntervalSeconds: 300 });
    expect(read.text).not.toContain(GOOD_KEY);
    expect(row?.apiKeyCiphertext).not.toContain(GOOD_KEY);
    expect(row?.apiKeyCiphertext.startsWith('vsh1.')).toBe(true);
    expect(await api.deps.secretBox.open(row?.apiKeyCiphertext ?? '', { tenantId })).toBe(GOOD_KEY);
  });

  it('answers 409 VAIKORA_KEY_UNREADABLE, not 500, when the stored key cannot be opened, and a new key repairs it', async () => {
    const { tenantId, key } = await api.createTenant();
    await put(tenantId, key, { apiKey: GOOD_KEY, baseUrl: sim.baseUrl, agentIds: ['a'] });
    // As after a master-key rotation that dropped the old key: the stored ciphertext no longer opens.
    const foreign = createSecretBox(
      new LocalMasterKeyProvider({ primaryKey: randomBytes(32).toString('base64') }),
    );
    const sealed = await foreign.seal(GOOD_KEY, { tenantId });
    await api.db
      .update(vaikoraSettings)
      .set({ apiKeyCiphertext: sealed })
      .where(eq(vaikoraSettings.tenantId, tenantId));

    const verify = await api.request('POST', `/v1/tenants/${tenantId}/vaikora/verify`, { key });
    const keep = await put(tenantId, key, { baseUrl: sim.baseUrl, agentIds: ['a'] });
    const repaired = await put(tenantId, key, { apiKey: GOOD_KEY, baseUrl: sim.baseUrl, agentIds: ['a'] });

    expect([verify.status, verify.body.error?.code]).toEqual([409, 'VAIKORA_KEY_UNREADABLE']);
    expect([keep.status, keep.body.error?.code]).toEqual([409, 'VAIKORA_KEY_UNREADABLE']);
    expect(verify.text).not.toContain(GOOD_KEY);
    expect(repaired.status).toBe(200);
  });

  it('refuses a key Vaikora refuses, stores nothing, and does not echo the key', async () => {
    const { tenantId, key } = await api.createTenant();
    const badKey = `vk_test_${randomBytes(12).toString('hex')}`;

    const response = await put(tenantId, key, { apiKey: badKey, baseUrl: sim.baseUrl, agentIds: ['a'] });
    const stored = await api.db.select().from(vaikoraSettings).where(eq(vaikoraSettings.tenantId, tenantId));

    expect(response.status).toBe(422);
    expect(response.body.error.code).toBe('VAIKORA_VERIFICATION_FAILED');
    expect(response.body.error.message).toMatch(/^UNAUTHORIZED: /);
    expect(response.text).not.toContain(badKey);
    expect(stored).toEqual([]);
  });

  it('keeps the stored key when a later PUT omits it, and re-verifies it with the new settings', async () => {
    const { tenantId, key } = await api.createTenant();
    await put(tenantId, key, { apiKey: GOOD_KEY, baseUrl: sim.baseUrl, agentIds: ['a'] });
    const before = sim.stats().requests;

    const response = await put(tenantId, key, {
      baseUrl: sim.baseUrl,
      agentIds: ['a', 'b'],
      pollIntervalSeconds: 60,
    });

    expect(response.status).toBe(200);
    expect(response.body.agentIds).toEqual(['a', 'b']);
    expect(sim.stats().requests - before).toBe(1);
  });

  it('requires a key the first time', async () => {
    const { tenantId, key } = await api.createTenant();

    const response = await put(tenantId, key, { baseUrl: sim.baseUrl, agentIds: ['a'] });

    expect(response.status).toBe(400);
    expect(response.body.error.message).toBe('body.apiKey: is required when no key is stored');
  });

  it('re-verifies on demand, retrying a failing Vaikora twice, and records the outcome', async () => {
    const { tenantId, key } = await api.createTenant();
    await put(tenantId, key, { apiKey: GOOD_KEY, baseUrl: sim.baseUrl, agentIds: ['a'] });

    const before = sim.stats().requests;
    const ok = await api.request('POST', `/v1/tenants/${tenantId}/vaikora/verify`, { key });
    sim.setOptions({ rate5xx: 1 });
    const failed = await api
      .request('POST', `/v1/tenants/${tenantId}/vaikora/verify`, { key })
      .finally(() => sim.setOptions({ rate5xx: 0 }));

    expect(ok.body).toMatchObject({ ok: true, code: null });
    expect(sim.stats().requests - before).toBe(1 + 3);
    expect(failed.status).toBe(200);
    expect(failed.body).toMatchObject({ ok: false, code: 'UNAVAILABLE' });
    expect(failed.body.settings.lastError).toMatch(/^UNAVAILABLE: /);
  });

  it('enforces the poll interval bounds and the agent list', async () => {
    const { tenantId, key } = await api.createTenant();

    const tooFast = await put(tenantId, key, {
      apiKey: GOOD_KEY,
      baseUrl: sim.baseUrl,
      agentIds: ['a'],
      pollIntervalSeconds: 59,
    });
    const noAgents = await put(tenantId, key, { apiKey: GOOD_KEY, baseUrl: sim.baseUrl, agentIds: [] });

    expect(tooFast.status).toBe(400);
    expect(tooFast.body.error.message).toBe('body.pollIntervalSeconds: must be at least 60 seconds');
    expect(noAgents.body.error.message).toBe('body.agentIds: must name at least one Vaikora agent');
  });

  it.each([
    ['plain http to a non-loopback host', 'http://api.vaikora.com/api/v1'],
    ['https to a host off the allow-list', 'https://evil.example/api/v1'],
    ['credentials in the URL', 'https://user:pw@api.vaikora.com/api/v1'],
    ['the instance metadata service', 'http://169.254.169.254/latest'],
    ['a non-http scheme', 'file:///etc/passwd'],
  ])('refuses a base URL with %s, before any request is made', async (_what, baseUrl) => {
    const { tenantId, key } = await api.createTenant();
    const before = sim.stats().requests;

    const response = await put(tenantId, key, { apiKey: GOOD_KEY, baseUrl, agentIds: ['a'] });

    expect(response.status).toBe(422);
    expect(response.body.error.code).toBe('BASE_URL_NOT_ALLOWED');
    expect(sim.stats().requests).toBe(before);
  });
});

type Answer = (req: IncomingMessage, res: ServerResponse) => void;

/** A Vaikora stand-in that plays `answers` in order (the last one again once they run out). */
async function scriptedVaikora(answers: Answer[]) {
  let calls = 0;
  const server: Server = createServer((req, res) => {
    const answer = answers[Math.min(calls, answers.length - 1)];
    calls++;
    answer?.(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/api/v1`,
    calls: () => calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const status =
  (code: number, headers: Record<string, string> = {}): Answer =>
  (_req, res) => {
    res.writeHead(code, { 'content-type': 'application/json', ...headers }).end('{"error":"no"}');
  };
const page: Answer = (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' }).end('{"actions":[],"total":0}');
};
/** 64 MiB of `{"actions":[{},{},...` written lazily until the client hangs up. */
const tinyRecords: Answer = (_req, res) => {
  const filler = Buffer.from('{},'.repeat(65_536 / 3));
  let left = 1024;
  res.writeHead(200, { 'content-type': 'application/json' });
  res.write('{"actions":[');
  const more = () => {
    while (left-- > 0 && !res.destroyed) if (!res.write(filler)) return void res.once('drain', more);
    if (!res.destroyed) res.end('{}]}');
  };
  more();
};

describe('the Vaikora check against a flaky or hostile Vaikora', () => {
  it('retries a 503 and a short Retry-After, then stores the key', async () => {
    const vaikora = await scriptedVaikora([status(503), status(429, { 'retry-after': '1' }), page]);
    const { tenantId, key } = await api.createTenant();

    const response = await put(tenantId, key, {
      apiKey: GOOD_KEY,
      baseUrl: vaikora.baseUrl,
      agentIds: ['a'],
    }).finally(vaikora.close);

    expect(response.status).toBe(200);
    expect(vaikora.calls()).toBe(3);
  });

  it('gives up after two retries of a failing Vaikora', async () => {
    const vaikora = await scriptedVaikora([status(502)]);
    const { tenantId, key } = await api.createTenant();

    const response = await put(tenantId, key, {
      apiKey: GOOD_KEY,
      baseUrl: vaikora.baseUrl,
      agentIds: ['a'],
    }).finally(vaikora.close);

    expect(response.status).toBe(422);
    expect(response.body.error.message).toMatch(/^UNAVAILABLE: /);
    expect(vaikora.calls()).toBe(3);
  });

  it.each([
    [401, 'UNAUTHORIZED'],
    [403, 'FORBIDDEN'],
  ])('does not retry HTTP %i', async (code, expected) => {
    const vaikora = await scriptedVaikora([status(code), page]);
    const { tenantId, key } = await api.createTenant();

    const response = await put(tenantId, key, {
      apiKey: GOOD_KEY,
      baseUrl: vaikora.baseUrl,
      agentIds: ['a'],
    }).finally(vaikora.close);

    expect(response.status).toBe(422);
    expect(response.body.error.message).toMatch(new RegExp(`^${expected}: `));
    expect(vaikora.calls()).toBe(1);
  });

  it('does not wait a Retry-After longer than 5 s: the request answers at once', async () => {
    const vaikora = await scriptedVaikora([status(429, { 'retry-after': '30' }), page]);
    const { tenantId, key } = await api.createTenant();
    const started = Date.now();

    const response = await put(tenantId, key, {
      apiKey: GOOD_KEY,
      baseUrl: vaikora.baseUrl,
      agentIds: ['a'],
    }).finally(vaikora.close);

    expect(response.status).toBe(422);
    expect(response.body.error.message).toMatch(/^RATE_LIMITED: /);
    expect(vaikora.calls()).toBe(1);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('refuses a page of 64 MiB of tiny records as BAD_RESPONSE without reading it, and stores nothing', async () => {
    const vaikora = await scriptedVaikora([tinyRecords]);
    const { tenantId, key } = await api.createTenant();

    const response = await put(tenantId, key, {
      apiKey: GOOD_KEY,
      baseUrl: vaikora.baseUrl,
      agentIds: ['a'],
    }).finally(vaikora.close);
    const stored = await api.db.select().from(vaikoraSettings).where(eq(vaikoraSettings.tenantId, tenantId));

    expect(response.status).toBe(422);
    expect(response.body.error.message).toMatch(/^BAD_RESPONSE: /);
    expect(vaikora.calls()).toBe(1);
    expect(stored).toEqual([]);
  });
});
