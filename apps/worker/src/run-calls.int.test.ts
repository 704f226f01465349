import { createDb, type DbHandle, tenantSchedules } from '@vsh/db';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, type SeededTenant, startHarness } from '../test/harness.ts';

/**
 * What one tenant run costs in round trips (issue 16): every call is CPU in the worker and a line on
 * the bill, so an idle run (nothing new in Vaikora) must make only the calls it cannot do without.
 * PostgreSQL statements are counted by drizzle's logger on a database handle of the run's own;
 * DynamoDB calls by the fault proxy in front of DynamoDB Local; AWS and Vaikora calls by theirs.
 */
describe('the calls of one tenant run', () => {
  let h: Harness;
  let counted: DbHandle;
  let tenant: SeededTenant;
  const statements: string[] = [];

  beforeAll(async () => {
    h = await startHarness({ dynamoProxy: true, sim: { seed: 16, initialActionsPerAgent: 0, badRate: 0 } });
    counted = await createDb({
      kind: 'postgres',
      url: h.database.url,
      max: 2,
      logger: { logQuery: (query) => void statements.push(query) },
    });
    h.sim.store.addTenant('vk_calls', ['agt-calls'], 30);
    tenant = await h.seedTenant({
      name: 'calls',
      accountId: '160000000001',
      region: 'us-east-1',
      agents: ['agt-calls'],
      vaikoraKey: 'vk_calls',
    });
  });
  afterAll(async () => {
    await counted?.close();
    await h?.close();
  });

  const dynamoCalls = (): Record<string, number> =>
    Object.fromEntries(
      Object.entries(h.dynamoProxy?.stats().operations.dynamodb ?? {}).map(([op, s]) => [op, s.requests]),
    );
  const total = (calls: Record<string, number>) => Object.values(calls).reduce((n, c) => n + c, 0);
  /** What the dispatch hands out with the tenant (ADR 0136), read outside the counted handle. */
  const hint = async () => {
    const [row] = await h.database.db
      .select({ lastRunQuiet: tenantSchedules.lastRunQuiet })
      .from(tenantSchedules)
      .where(eq(tenantSchedules.tenantId, tenant.tenantId));
    return { lastRunQuiet: row?.lastRunQuiet ?? false };
  };

  it('an idle run: one Vaikora request, no STS or Security Hub call, no cursor write, 3 PostgreSQL statements, 2 DynamoDB calls', async () => {
    const runtime = h.runtime({ db: counted.db });
    const first = await runtime.run(tenant.tenantId);
    expect(first.kind === 'ran' && first.summary.findingsImported).toBeGreaterThan(0);

    statements.length = 0;
    h.dynamoProxy?.resetStats();
    h.proxy.resetStats();
    h.sim.resetStats();
    const idle = await runtime.run(tenant.tenantId);
    expect(idle.kind === 'ran' && idle.summary.status).toBe('ok');
    expect(idle.kind === 'ran' && idle.summary.findingsImported).toBe(0);

    const dynamo = dynamoCalls();
    const calls = {
      vaikora: h.sim.stats().requests,
      sts: h.proxy.operationStats('sts', 'AssumeRole').requests,
      securityHub: h.proxy.operationStats('securityhub', 'BatchImportFindings').requests,
      dynamodb: total(dynamo),
      // Every write but the lease's two UpdateItems (taken, released) belongs to a cursor.
      cursorWrites: (dynamo.TransactWriteItems ?? 0) + (dynamo.PutItem ?? 0) + (dynamo.UpdateItem ?? 0) - 2,
      postgres: statements.length,
    };
    console.log(`idle run: ${JSON.stringify(calls)}; DynamoDB ${JSON.stringify(dynamo)}`);
    // Lease taken and released (2 writes): the cursors come with the lease item, since the last run
    // found nothing else (ADR 0127), and the seen-set is not read, since Vaikora's one page holds the ids
    // the last write vouched for (ADR 0128).
    expect(calls).toEqual({
      vaikora: 1,
      sts: 0,
      securityHub: 0,
      dynamodb: 2,
      cursorWrites: 0,
      postgres: 3,
    });
  });

  it('a quiet run (the one after an idle run, ADR 0136): one Vaikora request, no DynamoDB call (ADR 0137), no lease, 2 PostgreSQL statements', async () => {
    const runtime = h.runtime({ db: counted.db });
    // The run before wrote nothing and sent nothing (the idle run of the test above, or this one).
    await runtime.run(tenant.tenantId);
    statements.length = 0;
    h.dynamoProxy?.resetStats();
    h.sim.resetStats();
    const quiet = await runtime.run(tenant.tenantId, undefined, await hint());
    expect(quiet.kind === 'ran' && quiet.summary.status).toBe('ok');
    const dynamo = dynamoCalls();
    console.log(`quiet run: DynamoDB ${JSON.stringify(dynamo)}; PostgreSQL ${statements.length}`);
    // No lease taken or released, and no state read: the state the run before found came with the
    // tenant (ADR 0137); the tenant loaded, the run recorded.
    expect({ vaikora: h.sim.stats().requests, dynamo, postgres: statements.length }).toEqual({
      vaikora: 1,
      dynamo: {},
      postgres: 2,
    });
  });

  it('a busy run writes its cursor with one UpdateItem of the lease item, no transaction (ADR 0126), which releases the lease (ADR 0140)', async () => {
    const runtime = h.runtime({ db: counted.db });
    await runtime.run(tenant.tenantId);
    h.sim.store.append('vk_calls', 'agt-calls', 12);

    h.dynamoProxy?.resetStats();
    const busy = await runtime.run(tenant.tenantId, undefined, await hint());
    expect(busy.kind === 'ran' && busy.summary.findingsImported).toBeGreaterThan(0);
    const afterQuiet = dynamoCalls();
    h.sim.store.append('vk_calls', 'agt-calls', 12);
    h.dynamoProxy?.resetStats();
    const again = await runtime.run(tenant.tenantId, undefined, await hint());
    expect(again.kind === 'ran' && again.summary.findingsImported).toBeGreaterThan(0);

    const dynamo = dynamoCalls();
    console.log(
      `busy run: DynamoDB ${JSON.stringify(dynamo)}; after a quiet run ${JSON.stringify(afterQuiet)}`,
    );
    // Lease taken (UpdateItem), the cursor written and the lease released in one UpdateItem (ADR 0140);
    // the seen-set's query (no tenant query, ADR 0127); the seen-set segment put.
    expect(dynamo).toEqual({ UpdateItem: 2, Query: 1, PutItem: 1 });
    // After a quiet run, the attempt without the lease starts from the state the quiet run found (ADR
    // 0137): no more calls than under the lease.
    expect(afterQuiet).toEqual({ UpdateItem: 2, Query: 1, PutItem: 1 });
  });
});
