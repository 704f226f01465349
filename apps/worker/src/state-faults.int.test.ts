import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { runs, tenantSchedules } from '@vsh/db';
import { testAwsConfig } from '@vsh/testkit';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, type SeededTenant, startHarness } from '../test/harness.ts';
import { stateClientOptions } from './runtime.ts';

describe('a tenant run when DynamoDB fails (DynamoDB Local behind a fault proxy)', () => {
  let h: Harness;
  let tenant: SeededTenant;

  beforeAll(async () => {
    h = await startHarness({ dynamoProxy: true, sim: { seed: 7 } });
    h.sim.store.addTenant('vk_test_state_faults', ['agt-s'], 30);
    tenant = await h.seedTenant({
      name: 'state faults',
      accountId: '500000000001',
      region: 'us-east-1',
      agents: ['agt-s'],
      vaikoraKey: 'vk_test_state_faults',
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('records the run as failed and schedules the next one when the cursor cannot be read, instead of leaving it running', async () => {
    h.dynamoProxy?.setRules({ throttle: false, errors: [{ match: { operation: 'Query' }, rate: 1 }] });
    const runtime = h.runtime();
    const before = Date.now();

    const result = await runtime.run(tenant.tenantId);

    h.dynamoProxy?.setRules({ throttle: false });
    expect(result.kind).toBe('ran');
    const recorded = await h.database.db.select().from(runs).where(eq(runs.tenantId, tenant.tenantId));
    expect(recorded.map((r) => [r.status, r.errorCode])).toEqual([['failed', 'STATE_UNAVAILABLE']]);
    const [schedule] = await h.database.db
      .select()
      .from(tenantSchedules)
      .where(eq(tenantSchedules.tenantId, tenant.tenantId));
    expect(schedule?.nextRunAt.getTime()).toBeGreaterThan(before);
    const lease = await runtime.state.getLease(tenant.tenantId);
    expect(lease?.expiresAtMs).toBe(0);
    expect(h.proxy.memoryFindings(tenant.accountId, tenant.region)).toEqual([]);
  });

  it('finishes, failed and rescheduled, when DynamoDB never answers: no run waits on a hung connection for ever', async () => {
    // Held, never answered: a connection that went dead under the request.
    h.dynamoProxy?.setRules({ throttle: false, timeouts: [{ match: { operation: 'Query' }, rate: 1 }] });
    const dynamodb = new DynamoDBClient({
      ...testAwsConfig(h.dynamoEndpoint),
      ...stateClientOptions(300),
      maxAttempts: 2,
    });
    const runtime = h.runtime({ dynamodb });
    const before = Date.now();

    const result = await runtime.run(tenant.tenantId);

    h.dynamoProxy?.setRules({ throttle: false });
    dynamodb.destroy();
    expect(result.kind === 'ran' && result.summary).toMatchObject({
      status: 'failed',
      errorCode: 'STATE_UNAVAILABLE',
      findingsImported: 0,
    });
    expect(result.kind === 'ran' && result.summary.errorMessage).toContain('300 ms');
    const [schedule] = await h.database.db
      .select()
      .from(tenantSchedules)
      .where(eq(tenantSchedules.tenantId, tenant.tenantId));
    expect(schedule?.nextRunAt.getTime()).toBeGreaterThan(before);
    expect((await runtime.state.getLease(tenant.tenantId))?.expiresAtMs).toBe(0);
  });
});
