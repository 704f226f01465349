import { awsDestinations, runs } from '@vsh/db';
import { eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVERY_ACTION, type Harness, type SeededTenant, startHarness } from '../test/harness.ts';

// Partner-product mode (ADR 0121) end to end: two tenants' findings imported from Data443's own account
// under one product ARN, through the fault proxy's memory Security Hub, which allow-lists that account
// for the product and enforces Security Hub's BatchImportFindings quota (10 requests/s, burst 30) per
// calling account and region: here one quota shared by both tenants.

// moto's account for the worker's own credentials: the partner account the memory Security Hub allow-lists.
const PARTNER_ACCOUNT = '123456789012';
const PRODUCT = { accountId: PARTNER_ACCOUNT, name: 'data443/vaikora' };
const REGION = 'eu-west-1';
const PRODUCT_ARN = `arn:aws:securityhub:${REGION}:${PARTNER_ACCOUNT}:product/data443/vaikora`;

describe('partner-product mode: two tenants under one product ARN and one shared quota', () => {
  let h: Harness;
  const tenants: SeededTenant[] = [];
  let notAccepted: SeededTenant;
  const startedAt = Date.now();

  beforeAll(async () => {
    h = await startHarness({
      // Every action qualifies and none is malformed: the expected ids are every action's.
      sim: { seed: 21, initialActionsPerAgent: 0, burstRate: 0, badRate: 0, aliasRate: 0 },
      partners: { [PARTNER_ACCOUNT]: PRODUCT.name },
    });
    for (let i = 0; i < 2; i++) {
      const key = `vk_test_partner${i}`;
      const agents = [`agt-p${i}-a`, `agt-p${i}-b`];
      // 2 agents x 3,000 actions: 60 BatchImportFindings calls per tenant, four times the burst of 30 together.
      h.sim.store.addTenant(key, agents, 3_000);
      tenants.push(
        await h.seedTenant({
          name: `partner ${i}`,
          accountId: `30000000000${i}`,
          region: REGION,
          agents,
          vaikoraKey: key,
          thresholds: EVERY_ACTION,
          delivery: 'partner',
          acceptsProduct: PRODUCT_ARN,
        }),
      );
    }
    h.sim.store.addTenant('vk_test_partner_off', ['agt-off'], 30);
    notAccepted = await h.seedTenant({
      name: 'partner, product not accepted yet',
      accountId: '300000000009',
      region: REGION,
      agents: ['agt-off'],
      vaikoraKey: 'vk_test_partner_off',
      thresholds: EVERY_ACTION,
      delivery: 'partner',
    });
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it('imports every action of both tenants exactly once, never mixing tenants in a batch, with no throttling error surfaced', async () => {
    const runtime = h.runtime({ partnerProduct: PRODUCT });
    const assumeRolesBefore = h.proxy.operationStats('sts', 'AssumeRole').requests;

    const results = await Promise.all(tenants.map((t) => runtime.run(t.tenantId)));

    expect(results.map((r) => r.kind)).toEqual(['ran', 'ran']);
    let received = 0;
    for (const t of tenants) {
      const stored = h.proxy.memoryFindings(t.accountId, REGION);
      const expected = h.expectedFindingIds(t, startedAt - 24 * 3600_000);
      expect(expected.size).toBe(6_000);
      expect(new Set(stored.map((f) => f.Id))).toEqual(expected);
      expect(stored.length).toBe(expected.size);
      // Under Data443's product, in the customer's own account.
      expect(new Set(stored.map((f) => f.ProductArn))).toEqual(new Set([PRODUCT_ARN]));
      expect(new Set(stored.map((f) => f.AwsAccountId))).toEqual(new Set([t.accountId]));
      received += expected.size;
    }
    const batches = h.proxy.importBatches();
    const mixed = batches.filter((b) => b.accounts.length !== 1);
    const throttled = h.proxy.operationStats('securityhub', 'BatchImportFindings').throttled;
    const [runA, runB] = await h.database.db
      .select()
      .from(runs)
      .where(
        inArray(
          runs.id,
          results.map((r) => (r.kind === 'ran' ? r.runId : '')),
        ),
      );
    console.log(
      `partner mode: ${received} findings of 2 tenants in ${batches.length} BatchImportFindings calls from account ${PARTNER_ACCOUNT}; ` +
        `batches mixing tenants ${mixed.length}; throttled by the shared quota ${throttled} (retried, none surfaced)`,
    );
    expect(mixed).toEqual([]);
    expect(batches.length).toBeGreaterThanOrEqual(120);
    // The worker paces the partner account's calls to the quota (one bucket for both tenants: the
    // limiter's unit test); a 429 is a clock edge between its bucket and Security Hub's, retried.
    expect(throttled).toBeLessThanOrEqual(Math.ceil(batches.length * 0.1));
    expect(new Set(batches.map((b) => b.caller))).toEqual(new Set([PARTNER_ACCOUNT]));
    // No role assumed: partner mode imports with Data443's own credentials.
    expect(h.proxy.operationStats('sts', 'AssumeRole').requests).toBe(assumeRolesBefore);
    for (const run of [runA, runB]) {
      expect(run?.status).toBe('ok');
      expect(run?.errorCode ?? null).toBeNull();
      expect(run?.recordsRejected).toBe(0);
    }
  }, 180_000);

  it('stops a tenant whose hub has not accepted the product, rejecting nothing, and delivers everything once it has', async () => {
    const runtime = h.runtime({ partnerProduct: PRODUCT, run: { degradeAfterFailures: 1 } });

    const refused = await runtime.run(notAccepted.tenantId);

    expect(refused.kind).toBe('ran');
    const [destination] = await h.database.db
      .select()
      .from(awsDestinations)
      .where(eq(awsDestinations.id, notAccepted.destinationId));
    expect(destination?.lastError).toMatch(/^PRODUCT_NOT_ENABLED/);
    expect(destination?.lastError).toContain(PRODUCT_ARN);
    expect(destination?.lastError).toContain('EnableImportFindingsForProduct');
    expect(h.proxy.memoryFindings(notAccepted.accountId, REGION)).toEqual([]);
    const [first] = await h.database.db
      .select()
      .from(runs)
      .where(eq(runs.id, refused.kind === 'ran' ? refused.runId : ''));
    expect(first?.recordsRejected).toBe(0);

    await h.acceptProduct(notAccepted, PRODUCT_ARN);
    await h.database.db
      .update(awsDestinations)
      .set({ state: 'verified' })
      .where(eq(awsDestinations.id, notAccepted.destinationId));
    const delivered = await h.runtime({ partnerProduct: PRODUCT }).run(notAccepted.tenantId);

    expect(delivered.kind).toBe('ran');
    const expected = h.expectedFindingIds(notAccepted, startedAt - 24 * 3600_000);
    expect(expected.size).toBeGreaterThan(10);
    expect(new Set(h.proxy.memoryFindings(notAccepted.accountId, REGION).map((f) => f.Id))).toEqual(expected);
  }, 120_000);

  it('does not run a partner-product destination in a deployment that offers no partner product', async () => {
    const t = tenants[0];
    if (t === undefined) throw new Error('no tenant');
    const before = h.proxy.importBatches().length;

    const result = await h.runtime().run(t.tenantId);

    expect(result.kind).toBe('ran');
    expect(h.proxy.importBatches().length).toBe(before);
  });
});
