import { auditLog, awsDestinations } from '@vsh/db';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { useHarness } from '../../testing/harness.ts';

// PUT /v1/tenants/{tenantId}/destinations/{destinationId}/heartbeat (ADR 0118).
const api = useHarness({ config: { publicBaseUrl: 'https://connector.example.com' } });

async function registered() {
  const { tenantId, key } = await api.createTenant();
  const response = await api.request('POST', `/v1/tenants/${tenantId}/destinations`, {
    key,
    body: { accountId: '444444444444', regions: ['us-east-1'] },
  });
  expect(response.status, response.text).toBe(201);
  const { destination } = response.body as { destination: { id: string; heartbeatEnabled: boolean } };
  return { tenantId, key, destination };
}

describe('the destination heartbeat setting', () => {
  it('is off for a new destination, turns on and off, and audits each change once', async () => {
    const { tenantId, key, destination } = await registered();
    const path = `/v1/tenants/${tenantId}/destinations/${destination.id}/heartbeat`;

    const on = await api.request('PUT', path, { key, body: { enabled: true } });
    const again = await api.request('PUT', path, { key, body: { enabled: true } });
    const off = await api.request('PUT', path, { key, body: { enabled: false } });

    expect(destination.heartbeatEnabled).toBe(false);
    expect([on.status, again.status, off.status]).toEqual([200, 200, 200]);
    expect(on.body).toMatchObject({ id: destination.id, heartbeatEnabled: true });
    expect(off.body).toMatchObject({ id: destination.id, heartbeatEnabled: false });
    const [row] = await api.db.select().from(awsDestinations).where(eq(awsDestinations.id, destination.id));
    expect(row?.heartbeatEnabled).toBe(false);
    const audits = await api.db.select().from(auditLog).where(eq(auditLog.target, destination.id));
    expect(
      audits
        .filter((a) => a.action === 'destination.heartbeat_updated')
        .map((a) => (a.details as { heartbeatEnabled: boolean }).heartbeatEnabled),
    ).toEqual([true, false]);
  });

  it('refuses (400) a body that is not exactly { enabled: boolean }', async () => {
    const { tenantId, key, destination } = await registered();
    const path = `/v1/tenants/${tenantId}/destinations/${destination.id}/heartbeat`;

    const bodies = [{}, { enabled: 'yes' }, { enabled: true, everyMinutes: 5 }];
    const answers = await Promise.all(bodies.map((body) => api.request('PUT', path, { key, body })));

    expect(answers.map((a) => a.status)).toEqual([400, 400, 400]);
  });

  it('cannot change another tenant’s destination', async () => {
    const owner = await registered();
    const other = await api.createTenant();

    const answer = await api.request(
      'PUT',
      `/v1/tenants/${other.tenantId}/destinations/${owner.destination.id}/heartbeat`,
      { key: other.key, body: { enabled: true } },
    );

    expect(answer.status).toBe(404);
    const [row] = await api.db
      .select()
      .from(awsDestinations)
      .where(eq(awsDestinations.id, owner.destination.id));
    expect(row?.heartbeatEnabled).toBe(false);
  });
});
