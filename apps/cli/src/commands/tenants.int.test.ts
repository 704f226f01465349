import { seedRun, TEST_OPERATOR_KEY, useHarness } from '@vsh/api/testing';
import { HEALTH_STATUSES, type HealthStatus } from '@vsh/core';
import { tenants } from '@vsh/db';
import { describe, expect, it } from 'vitest';
import { runConnector } from '../testing/run.ts';

const UNKNOWN_TENANT = 'ten_01jd0000000000000000000000';
const HEALTH_ORDER: readonly string[] = HEALTH_STATUSES;
/** How a tenant is seeded; `SEEDED_HEALTH` is the word the shared model (ADR 0100) gives it. */
type Health = 'failing' | 'degraded' | 'pending' | 'unconfigured' | 'healthy' | 'offboarded';
const SEEDED_HEALTH: Record<Health, HealthStatus> = {
  failing: 'failing',
  degraded: 'attention',
  pending: 'setup',
  unconfigured: 'setup',
  healthy: 'healthy',
  offboarded: 'offboarded',
};
type Api = ReturnType<typeof useHarness>;

/** Runs the CLI as the binary does, with HTTP routed into the in-process API app (no port). */
const connector = (api: Api, argv: string[], key: string = TEST_OPERATOR_KEY) =>
  runConnector(api.app, argv, key);

/** Creates a tenant through the API and brings it to the given health (runs are inserted as the worker would). */
async function seedTenant(api: Api, name: string, health: Health) {
  const { tenantId } = await api.createTenant(name);
  if (health === 'unconfigured') return tenantId;
  if (health === 'offboarded') {
    expect((await api.request('POST', `/v1/tenants/${tenantId}/offboard`)).status).toBe(200);
    return tenantId;
  }
  const settings = await api.request('PUT', `/v1/tenants/${tenantId}/vaikora`, {
    body: { apiKey: 'vk_test_cli_0123456789', agentIds: ['agt-support'] },
  });
  expect(settings.status).toBe(200);
  const created = await api.request('POST', `/v1/tenants/${tenantId}/destinations`, {
    body: { accountId: '123456789012', regions: ['us-east-1', 'eu-west-1'] },
  });
  expect(created.status).toBe(201);
  if (health === 'pending') return tenantId;
  const destinationId: string = created.body.destination.id;
  const verified = await api.request('POST', `/v1/tenants/${tenantId}/destinations/${destinationId}/verify`, {
    body: { roleArn: created.body.onboarding.expectedRoleArn },
  });
  expect(verified.status).toBe(200);
  const status = health === 'failing' ? 'failed' : health === 'degraded' ? 'partial' : 'ok';
  await seedRun(api.db, tenantId, { status });
  return tenantId;
}

/** The table rows after the header: columns are separated by two or more spaces. */
function rows(stdout: string) {
  return stdout
    .trimEnd()
    .split('\n')
    .slice(1)
    .map((line) => {
      const [id = '', health = '', state = '', lastRun = '', name = ''] = line.split(/ {2,}/);
      return { id, health, state, lastRun, name };
    });
}

describe('connector tenants list on an empty database', () => {
  const api = useHarness({ database: 'pglite' });

  it('prints "no tenants", and [] with --json', async () => {
    const text = await connector(api, ['tenants', 'list']);
    const json = await connector(api, ['tenants', 'list', '--json']);

    expect(text).toMatchObject({ code: 0, stdout: 'no tenants\n', stderr: '' });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual([]);
  });
});

describe('connector tenants and run-now against the API', () => {
  const runNowCalls: string[] = [];
  const api = useHarness({ database: 'pglite', onRunNow: (tenantId) => void runNowCalls.push(tenantId) });

  it('lists failing and degraded tenants before healthy ones, then by name, under a header', async () => {
    // Created so that the API's newest-first order is neither the health order nor the name order.
    const seeded: Array<[string, Health]> = [
      ['Quebec failing', 'failing'],
      ['Zulu failing', 'failing'],
      ['Alpha healthy', 'healthy'],
      ['Aaron offboarded', 'offboarded'],
      ['Yankee degraded', 'degraded'],
      ['Bravo unconfigured', 'unconfigured'],
      ['Mike pending', 'pending'],
    ];
    const ids = new Map<string, { id: string; health: HealthStatus }>();
    for (const [name, health] of seeded)
      ids.set(name, { id: await seedTenant(api, name, health), health: SEEDED_HEALTH[health] });

    const { code, stdout, stderr } = await connector(api, ['tenants', 'list']);

    expect(code, stderr).toBe(0);
    expect(stdout.split('\n')[0]).toMatch(/^ID {2,}HEALTH {2,}STATE {2,}LAST RUN {2,}NAME$/);
    const listed = rows(stdout);
    const mine = listed.filter((row) => ids.has(row.name));
    expect(mine.map((row) => row.name)).toEqual([
      'Quebec failing',
      'Zulu failing',
      'Yankee degraded',
      'Bravo unconfigured',
      'Mike pending',
      'Alpha healthy',
      'Aaron offboarded',
    ]);
    for (const row of mine) expect({ id: row.id, health: row.health }).toEqual(ids.get(row.name));
    expect(mine.find((row) => row.name === 'Zulu failing')).toMatchObject({
      health: 'failing',
      state: 'active',
      lastRun: expect.stringMatching(/^failed \d{4}-\d\d-\d\dT[\d:.]+Z$/),
    });
    expect(mine.find((row) => row.name === 'Aaron offboarded')).toMatchObject({ state: 'offboarded' });
    expect(mine.find((row) => row.name === 'Bravo unconfigured')?.lastRun).toBe('-');
    // Whatever else the database holds, the whole list keeps the order.
    for (const [i, row] of listed.entries()) {
      const prev = listed[i - 1];
      if (prev === undefined) continue;
      const byHealth = HEALTH_ORDER.indexOf(prev.health) - HEALTH_ORDER.indexOf(row.health);
      expect(byHealth < 0 || (byHealth === 0 && prev.name.localeCompare(row.name) <= 0)).toBe(true);
    }
  });

  it('follows nextCursor past 100 tenants and lists each one once, in text and in --json', async () => {
    const created = new Set<string>();
    for (let i = 0; i < 105; i++)
      created.add(await seedTenant(api, `Paged ${String(i).padStart(3, '0')}`, 'unconfigured'));

    const text = await connector(api, ['tenants', 'list']);
    const json = await connector(api, ['tenants', 'list', '--json']);

    const total = (await api.db.select({ id: tenants.id }).from(tenants)).length;
    expect(text.code, text.stderr).toBe(0);
    expect(text.requests.filter((r) => r.includes('cursor=')).length).toBeGreaterThanOrEqual(1);
    const listedIds = rows(text.stdout).map((row) => row.id);
    expect(listedIds).toHaveLength(total);
    expect(new Set(listedIds).size).toBe(total);
    for (const id of created) expect(listedIds).toContain(id);
    expect(json.code, json.stderr).toBe(0);
    const parsed: Array<{ id: string; name: string; health: { status: string } }> = JSON.parse(json.stdout);
    expect(parsed.map((t) => t.id)).toEqual(listedIds);
    expect(parsed.find((t) => created.has(t.id))).toMatchObject({ health: { status: 'setup' } });
  });

  it("shows a tenant's health, last run and destinations with their account ids; --json gives {tenant, status}", async () => {
    const tenantId = await seedTenant(api, 'Shown Corp', 'pending');
    const second = await api.request('POST', `/v1/tenants/${tenantId}/destinations`, {
      body: { accountId: '210987654321', regions: ['ap-south-1'] },
    });
    const startedAt = new Date(Date.now() - 60_000);
    const runId = await seedRun(api.db, tenantId, { status: 'partial', startedAt, findingsImported: 1234 });

    const text = await connector(api, ['tenants', 'show', tenantId]);
    const json = await connector(api, ['tenants', 'show', tenantId, '--json']);

    expect(text.code, text.stderr).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`Shown Corp (${tenantId})`);
    expect(text.stdout).toContain('  health      setup; state active; plan standard\n');
    expect(text.stdout).toContain(`  last run    partial at ${startedAt.toISOString()}, 1,234 imported\n`);
    expect(text.stdout).toContain('  destinations (2)\n');
    expect(lines.some((l) => /^ {4}dst_\w+ {2}123456789012 us-east-1,eu-west-1 {2}pending {2}/.test(l))).toBe(
      true,
    );
    expect(lines).toContainEqual(
      expect.stringContaining(`${second.body.destination.id}  210987654321 ap-south-1  pending`),
    );
    expect(json.code, json.stderr).toBe(0);
    const parsed = JSON.parse(json.stdout);
    expect(Object.keys(parsed).sort()).toEqual(['status', 'tenant']);
    expect(parsed.tenant).toMatchObject({ id: tenantId, name: 'Shown Corp', health: { status: 'setup' } });
    expect(parsed.status).toMatchObject({ lastRun: { id: runId }, destinations: [{}, {}] });
  });

  it('answers an unknown tenant with the API NOT_FOUND message and exit 1', async () => {
    const shown = await connector(api, ['tenants', 'show', UNKNOWN_TENANT]);
    const ran = await connector(api, ['run-now', UNKNOWN_TENANT]);

    expect(shown).toMatchObject({
      code: 1,
      stdout: '',
      stderr: 'connector tenants: NOT_FOUND: tenant not found\n',
    });
    expect(ran).toMatchObject({
      code: 1,
      stdout: '',
      stderr: 'connector run-now: NOT_FOUND: tenant not found\n',
    });
  });

  it.each([
    [['tenants', 'show'], 'tenants show needs a tenant id'],
    [['tenants', 'show', 'ten_nope'], 'the tenant id must look like ten_'],
    [['tenants', 'show', 'ten_01JD0000000000000000000000'], 'the tenant id must look like ten_'],
    [['tenants', 'show', UNKNOWN_TENANT, 'extra'], 'unexpected argument "extra"'],
    [['tenants', 'list', 'extra'], 'unexpected argument "extra"'],
    [['run-now'], 'run-now needs a tenant id'],
    [['run-now', UNKNOWN_TENANT, 'extra'], 'unexpected argument "extra"'],
    [['run-now', 'ten_01jd000000000000000000000i'], 'the tenant id must look like ten_'],
  ])('%j is a usage error (exit 2) without any HTTP call', async (argv, message) => {
    const { code, stdout, stderr, requests } = await connector(api, argv);

    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(message);
    expect(stderr).toContain('Usage: connector');
    expect(requests).toEqual([]);
  });

  it('asks the API for a run now: the hook fires, the schedule records it and the time is printed', async () => {
    const tenantId = await seedTenant(api, 'Run Now Ltd', 'pending');
    const unconfigured = await seedTenant(api, 'Not Yet Ltd', 'unconfigured');

    const ran = await connector(api, ['run-now', tenantId]);
    const refused = await connector(api, ['run-now', unconfigured]);

    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.requests).toEqual([`POST http://127.0.0.1:9/v1/tenants/${tenantId}/run-now`]);
    const at = /^run requested for (ten_\w+) at (\S+); a worker picks it up next\n$/.exec(ran.stdout);
    expect(at?.[1]).toBe(tenantId);
    const status = await api.request('GET', `/v1/tenants/${tenantId}/status`);
    expect(status.body.schedule.runRequestedAt).toBe(at?.[2]);
    expect(runNowCalls).toContain(tenantId);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^connector run-now: NOT_CONFIGURED: /);
    expect(runNowCalls).not.toContain(unconfigured);
  });

  it('refuses a wrong operator key (exit 1) and never prints the key', async () => {
    const tenantId = await seedTenant(api, 'Guarded Inc', 'unconfigured');
    const wrong = `op_wrong_${TEST_OPERATOR_KEY.slice(3)}`;

    const results = [
      await connector(api, ['tenants', 'list'], wrong),
      await connector(api, ['tenants', 'show', tenantId], wrong),
      await connector(api, ['run-now', tenantId, '--key', wrong]),
    ];

    for (const result of results) {
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(
        /^connector (tenants|run-now): UNAUTHORIZED: the API key is not valid\n$/,
      );
      for (const key of [wrong, TEST_OPERATOR_KEY]) expect(result.stdout + result.stderr).not.toContain(key);
    }
    expect(runNowCalls).not.toContain(tenantId);
  });
});
