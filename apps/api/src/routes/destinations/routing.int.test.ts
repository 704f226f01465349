import type { z } from '@hono/zod-openapi';
import { awsDestinations, streams, tenants } from '@vsh/db';
import { and, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../app.ts';
import type { LocalAwsPort } from '../../deps.ts';
import { asApiError } from '../../errors.ts';
import { deployRoleLocally, MAX_DESTINATIONS_PER_TENANT } from '../../services/destinations.ts';
import { useHarness } from '../../testing/harness.ts';
import { type onboardingSchema, TEMPLATE_PATH } from './shared.ts';

const PUBLIC = 'https://connector.example.com';
const api = useHarness({ config: { publicBaseUrl: PUBLIC, awsEndpointUrl: 'http://127.0.0.1:5999' } });

async function configure(tenantId: string, key: string, agentIds: string[]) {
  const response = await api.request('PUT', `/v1/tenants/${tenantId}/vaikora`, {
    key,
    body: { apiKey: 'vk_test_routing0001', agentIds },
  });
  expect(response.status).toBe(200);
}

async function register(tenantId: string, key: string, body: Record<string, unknown>) {
  const response = await api.request('POST', `/v1/tenants/${tenantId}/destinations`, { key, body });
  expect(response.status, response.text).toBe(201);
  return response.body as {
    destination: { id: string; agentIds: string[] | null };
    onboarding: z.infer<typeof onboardingSchema>;
  };
}

async function verify(tenantId: string, key: string, registered: Awaited<ReturnType<typeof register>>) {
  const response = await api.request(
    'POST',
    `/v1/tenants/${tenantId}/destinations/${registered.destination.id}/verify`,
    { key, body: { roleArn: registered.onboarding.expectedRoleArn } },
  );
  expect(response.status, response.text).toBe(200);
}

async function enabledRoutes(tenantId: string) {
  const rows = await api.db
    .select()
    .from(streams)
    .where(and(eq(streams.tenantId, tenantId), eq(streams.enabled, true)));
  return rows.map((row) => `${row.destinationId} ${row.agentId} ${row.region}`).sort();
}

describe('per-agent routing of destinations', () => {
  it('routes agent A only to the first account and agent B only to the second', async () => {
    const { tenantId, key } = await api.createTenant();
    await configure(tenantId, key, ['agt-a', 'agt-b']);
    const first = await register(tenantId, key, {
      accountId: '111111111111',
      regions: ['us-east-1', 'eu-west-1'],
      agentIds: ['agt-a'],
    });
    const second = await register(tenantId, key, {
      accountId: '222222222222',
      regions: ['us-east-1'],
      agentIds: ['agt-b'],
    });

    await verify(tenantId, key, first);
    await verify(tenantId, key, second);

    expect(first.destination.agentIds).toEqual(['agt-a']);
    expect(await enabledRoutes(tenantId)).toEqual(
      [
        `${first.destination.id} agt-a eu-west-1`,
        `${first.destination.id} agt-a us-east-1`,
        `${second.destination.id} agt-b us-east-1`,
      ].sort(),
    );
  });

  it('routes every agent of the settings to a destination without agentIds, and only agents in the settings', async () => {
    const { tenantId, key } = await api.createTenant();
    await configure(tenantId, key, ['agt-a', 'agt-b']);
    const all = await register(tenantId, key, { accountId: '333333333333', regions: ['us-east-1'] });
    const narrow = await register(tenantId, key, {
      accountId: '444444444444',
      regions: ['us-east-1'],
      agentIds: ['agt-b', 'agt-not-in-settings'],
    });

    await verify(tenantId, key, all);
    await verify(tenantId, key, narrow);
    const listed = await api.request('GET', `/v1/tenants/${tenantId}/destinations`, { key });

    expect(all.destination.agentIds).toBeNull();
    expect(listed.body.items.map((d: { agentIds: unknown }) => d.agentIds)).toEqual([
      null,
      ['agt-b', 'agt-not-in-settings'],
    ]);
    expect(await enabledRoutes(tenantId)).toEqual(
      [
        `${all.destination.id} agt-a us-east-1`,
        `${all.destination.id} agt-b us-east-1`,
        `${narrow.destination.id} agt-b us-east-1`,
      ].sort(),
    );
  });

  it('PATCH re-routes: dropped routes are disabled (same ids kept), new ones enabled', async () => {
    const { tenantId, key } = await api.createTenant();
    await configure(tenantId, key, ['agt-a', 'agt-b']);
    const dest = await register(tenantId, key, {
      accountId: '555555555555',
      regions: ['us-east-1'],
      agentIds: ['agt-a'],
    });
    await verify(tenantId, key, dest);
    const [before] = await api.db
      .select()
      .from(streams)
      .where(eq(streams.destinationId, dest.destination.id));

    const toB = await api.request('PATCH', `/v1/tenants/${tenantId}/destinations/${dest.destination.id}`, {
      key,
      body: { agentIds: ['agt-b'] },
    });
    const afterB = await enabledRoutes(tenantId);
    const back = await api.request('PATCH', `/v1/tenants/${tenantId}/destinations/${dest.destination.id}`, {
      key,
      body: { agentIds: null },
    });
    const rows = await api.db.select().from(streams).where(eq(streams.destinationId, dest.destination.id));

    expect(toB.status).toBe(200);
    expect(toB.body.agentIds).toEqual(['agt-b']);
    expect(afterB).toEqual([`${dest.destination.id} agt-b us-east-1`]);
    expect(back.body.agentIds).toBeNull();
    expect(await enabledRoutes(tenantId)).toEqual(
      [`${dest.destination.id} agt-a us-east-1`, `${dest.destination.id} agt-b us-east-1`].sort(),
    );
    expect(rows).toHaveLength(2);
    expect(rows.find((row) => row.agentId === 'agt-a')?.id).toBe(before?.id);
  });

  it('PATCH with an added region sends a verified destination back to pending (no streams until verified again)', async () => {
    const { tenantId, key } = await api.createTenant();
    await configure(tenantId, key, ['agt-a']);
    const dest = await register(tenantId, key, { accountId: '666666666666', regions: ['us-east-1'] });
    await verify(tenantId, key, dest);

    const widened = await api.request(
      'PATCH',
      `/v1/tenants/${tenantId}/destinations/${dest.destination.id}`,
      {
        key,
        body: { regions: ['us-east-1', 'us-west-2'] },
      },
    );
    const pendingRoutes = await enabledRoutes(tenantId);
    await verify(tenantId, key, dest);

    expect(widened.status).toBe(200);
    expect(widened.body).toMatchObject({ state: 'pending', regions: ['us-east-1', 'us-west-2'] });
    expect(pendingRoutes).toEqual([]);
    expect(await enabledRoutes(tenantId)).toEqual(
      [`${dest.destination.id} agt-a us-east-1`, `${dest.destination.id} agt-a us-west-2`].sort(),
    );
  });

  it.each([
    [{ agentIds: [] }, 'body.agentIds: must name at least one Vaikora agent'],
    [{ agentIds: ['a', 'a'] }, 'body.agentIds: must not repeat an agent id'],
    [{ agentIds: ['has space'] }, 'body.agentIds[0]: must be 1 to 256 visible ASCII characters'],
    [{ agentIds: Array.from({ length: 101 }, (_, i) => `a${i}`) }, 'body.agentIds: must name at most 100'],
  ])('POST refuses bad agentIds with 400 (%o)', async (extra, message) => {
    const { tenantId, key } = await api.createTenant();

    const response = await api.request('POST', `/v1/tenants/${tenantId}/destinations`, {
      key,
      body: { accountId: '777777777777', regions: ['us-east-1'], ...extra },
    });

    expect(response.status).toBe(400);
    expect(response.body.error).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(response.body.error.message).toContain(message);
  });

  it('PATCH refuses an empty change (400), another partition (422), and another tenant (404)', async () => {
    const { tenantId, key } = await api.createTenant();
    const other = await api.createTenant();
    const dest = await register(tenantId, key, { accountId: '888888888888', regions: ['us-east-1'] });
    const path = `/v1/tenants/${tenantId}/destinations/${dest.destination.id}`;

    const empty = await api.request('PATCH', path, { key, body: {} });
    const gov = await api.request('PATCH', path, { key, body: { regions: ['us-gov-west-1'] } });
    const foreign = await api.request(
      'PATCH',
      `/v1/tenants/${other.tenantId}/destinations/${dest.destination.id}`,
      { key: other.key, body: { agentIds: ['x'] } },
    );

    expect(empty.status).toBe(400);
    expect(empty.body.error.message).toContain('must change agentIds or regions');
    expect(gov.status).toBe(422);
    expect(gov.body.error.code).toBe('PARTITION_MISMATCH');
    expect(foreign.status).toBe(404);
  });
});

describe('onboarding links and the local deploy port', () => {
  it('points the download at this API and, locally, the deploy command at the local endpoint and account', async () => {
    const { tenantId, key } = await api.createTenant();

    const { onboarding } = await register(tenantId, key, {
      accountId: '121212121212',
      regions: ['eu-west-1'],
    });

    expect(onboarding.templateUrl).toBe(`${PUBLIC}${TEMPLATE_PATH}`);
    expect(onboarding.deployCommand).toContain('--endpoint-url http://127.0.0.1:5999');
    expect(onboarding.deployCommand).toContain('arn:aws:iam::121212121212:role/CustomerAdmin');
    expect(onboarding.deployCommand).toContain('--region eu-west-1');
    expect(onboarding.localDeployAvailable).toBe(false);
  });

  it('deploys the role through the port with the onboarding parameters, and maps a port failure to 502', async () => {
    const { tenantId, key } = await api.createTenant();
    const dest = await register(tenantId, key, { accountId: '131313131313', regions: ['us-west-2'] });
    const failing = await register(tenantId, key, { accountId: '141414141414', regions: ['us-west-2'] });
    const calls: Parameters<LocalAwsPort['deployRole']>[0][] = [];
    const localAws: LocalAwsPort = {
      async deployRole(input) {
        calls.push(input);
        if (input.accountId === '141414141414') throw new Error('moto exploded');
        return { roleArn: `arn:aws:iam::${input.accountId}:role/${input.parameters.RoleName}` };
      },
    };
    // The local stack's app: the same dependencies plus the port, as startApiServer passes it.
    const local = createApp({ ...api.deps, localAws });
    const post = async (path: string, method = 'POST') => {
      const response = await local.request(path, { method, headers: { authorization: `Bearer ${key}` } });
      return { status: response.status, text: await response.text() };
    };

    const deployed = await post(`/v1/tenants/${tenantId}/destinations/${dest.destination.id}/local-deploy`);
    const shown = await post(`/v1/tenants/${tenantId}/destinations/${dest.destination.id}`, 'GET');
    const failed = await post(`/v1/tenants/${tenantId}/destinations/${failing.destination.id}/local-deploy`);
    const withoutPort = await api.request(
      'POST',
      `/v1/tenants/${tenantId}/destinations/${dest.destination.id}/local-deploy`,
      { key },
    );

    expect(deployed.status, deployed.text).toBe(200);
    expect(JSON.parse(deployed.text).roleArn).toMatch(/^arn:aws:iam::131313131313:role\//);
    expect(calls[0]).toEqual({
      accountId: '131313131313',
      region: 'us-west-2',
      stackName: dest.onboarding.stackName,
      parameters: dest.onboarding.parameters,
    });
    expect(JSON.parse(shown.text).onboarding.localDeployAvailable).toBe(true);
    expect(failed.status).toBe(502);
    expect(JSON.parse(failed.text).error.code).toBe('LOCAL_DEPLOY_FAILED');
    expect(failed.text).not.toContain('moto exploded');
    expect(withoutPort.status).toBe(404);
  });

  it('refuses the application function with 409 NOT_AVAILABLE without a local port or outside local mode', async () => {
    const { tenantId, key } = await api.createTenant();
    const dest = await register(tenantId, key, { accountId: '151515151515', regions: ['us-east-1'] });
    const [tenant] = await api.db.select().from(tenants).where(eq(tenants.id, tenantId));
    if (tenant === undefined) throw new Error('no tenant');
    const actor = { principal: { kind: 'operator', id: 'operator' } as const, requestId: 'req_test' };
    const port: LocalAwsPort = { deployRole: async () => ({ roleArn: 'arn:aws:iam::151515151515:role/x' }) };

    const noPort = deployRoleLocally(api.deps, actor, tenant, dest.destination.id);
    const production = deployRoleLocally(
      { ...api.deps, localAws: port, config: { ...api.deps.config, mode: 'production' } },
      actor,
      tenant,
      dest.destination.id,
    );

    // The service refuses with a ServiceError; asApiError is the API's one mapping of it.
    await expect(noPort.catch(asApiError)).resolves.toMatchObject({ code: 'NOT_AVAILABLE', status: 409 });
    await expect(production.catch(asApiError)).resolves.toMatchObject({ code: 'NOT_AVAILABLE', status: 409 });
  });
});

describe('how many destinations a tenant may have', () => {
  it(`refuses the destination after the ${MAX_DESTINATIONS_PER_TENANT}th with a 409 that says why, and lists all it has`, async () => {
    const { tenantId, key } = await api.createTenant('many accounts');
    // All but the last one directly (a request each would only cost time), the last through the API.
    const rows = Array.from({ length: MAX_DESTINATIONS_PER_TENANT - 1 }, (_, i) => ({
      tenantId,
      accountId: String(100_000_000_000 + i),
      regions: ['us-east-1'],
      roleName: 'VaikoraSecurityHubImport',
      externalId: `vsh-${String(i).padStart(40, '0')}`,
    }));
    await api.db.insert(awsDestinations).values(rows);
    await register(tenantId, key, { accountId: '200000000000', regions: ['us-east-1'] });

    const refused = await api.request('POST', `/v1/tenants/${tenantId}/destinations`, {
      key,
      body: { accountId: '200000000001', regions: ['us-east-1'] },
    });
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toContain(`already has ${MAX_DESTINATIONS_PER_TENANT} destinations`);
    const list = await api.request('GET', `/v1/tenants/${tenantId}/destinations`, { key });
    expect(list.body.items).toHaveLength(MAX_DESTINATIONS_PER_TENANT);
  });
});
