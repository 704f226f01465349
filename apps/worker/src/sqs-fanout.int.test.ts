import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { rowsOf, runs, tenantSchedules } from '@vsh/db';
import { testAwsConfig } from '@vsh/testkit';
import { inArray, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, type SeededTenant, startHarness } from '../test/harness.ts';
import { finishedRuns, ledger, makeDue, waitFor } from '../test/ledger.ts';
import { killAllWorkers, spawnWorker, type WorkerProcess } from '../test/processes.ts';

const TENANTS = 30;
const CONSUMERS = 4;

/** The SQS calls workers make that the test answers with 5xx now and then. */
const SQS_FAULTED = ['SendMessageBatch', 'ReceiveMessage', 'DeleteMessageBatch', 'ChangeMessageVisibility'];

describe('SQS fan-out: one dispatcher and four consumer processes on moto SQS, with DynamoDB leases', () => {
  let h: Harness;
  let sqs: SQSClient;
  const tenants: SeededTenant[] = [];

  beforeAll(async () => {
    h = await startHarness({ sim: { seed: 33, burstRate: 0.1, aliasRate: 0.2 } });
    sqs = new SQSClient(testAwsConfig(h.proxy.endpoint));
    for (let i = 0; i < TENANTS; i++) {
      const key = `vk_test_sqs_${i}`;
      const agents = i % 3 === 0 ? [`agt-${i}-a`, `agt-${i}-b`] : [`agt-${i}-a`];
      h.sim.store.addTenant(key, agents, 60);
      tenants.push(
        await h.seedTenant({
          name: `sqs ${i}`,
          accountId: String(700_000_000_000 + i),
          region: i % 2 === 0 ? 'us-east-1' : 'eu-west-1',
          agents,
          vaikoraKey: key,
        }),
      );
    }
  });
  afterAll(async () => {
    await killAllWorkers();
    sqs?.destroy();
    await h?.close();
  });

  it('never runs a tenant twice at once, and processes every tenant', { timeout: 180_000 }, async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'vsh-work' }));
    if (QueueUrl === undefined) throw new Error('no queue url');
    const all = tenants.map((t) => t.tenantId);
    // Slow enough answers that runs last a while, so that re-dispatched tenants meet runs in progress.
    h.sim.setOptions({ latencyMs: 40, latencyJitterMs: 40 });
    // SQS itself misbehaves too: 5xx on the calls the dispatcher and the consumers make, and latency.
    h.proxy.setRules({
      latency: [
        { match: { service: 'securityhub' }, minMs: 200, maxMs: 400 },
        { match: { service: 'sqs' }, minMs: 5, maxMs: 60 },
      ],
      errors: SQS_FAULTED.map((operation) => ({
        match: { service: 'sqs', operation },
        rate: 0.08,
        status: 500,
      })),
    });
    const env = (name: string, mode: string) =>
      h.workerEnv({
        WORKER_ID: name,
        WORKER_MODE: mode,
        WORK_QUEUE_URL: QueueUrl,
        WORKER_CONCURRENCY: '4',
        LEASE_TTL_MS: '10000',
        DISPATCH_INTERVAL_MS: '300',
      });
    const consumers: WorkerProcess[] = [];
    for (let i = 0; i < CONSUMERS; i++)
      consumers.push(spawnWorker(`consumer-${i}`, env(`consumer-${i}`, 'sqs-consumer')));
    await Promise.all(consumers.map((c) => c.ready));
    const started = new Date();
    const dispatcher = spawnWorker('dispatcher', env('dispatcher', 'dispatcher'));
    await dispatcher.ready;

    // SQS delivers at least once: every tenant's message arrives three times more, at once, on top of
    // what the dispatcher sends. And "run now" for every tenant, over and over: the dispatcher sends
    // tenants again while their runs are still going. Only the lease keeps the copies apart.
    for (let i = 0; i < all.length; i += 10) {
      const Entries = all.slice(i, i + 10).flatMap((tenantId) =>
        [0, 1, 2].map((copy) => ({
          Id: `${tenantId}-${copy}`,
          MessageBody: JSON.stringify({ tenantId, dispatchedAt: new Date().toISOString() }),
        })),
      );
      for (let j = 0; j < Entries.length; j += 10)
        await sqs.send(new SendMessageBatchCommand({ QueueUrl, Entries: Entries.slice(j, j + 10) }));
    }
    // Each "run now" once the dispatcher has claimed every tenant of the one before.
    for (let round = 0; round < 6; round++) {
      await makeDue(h, all);
      await waitFor(
        async () => (await dueTenants(h, all)) === 0,
        30_000,
        () => dispatcher.tail().slice(-2000),
        100,
      );
    }
    await waitFor(
      async () => {
        const done = await finishedRuns(h, started, 'ok');
        const { Attributes } = await sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl,
            AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
          }),
        );
        const queued =
          Number(Attributes?.ApproximateNumberOfMessages ?? 1) +
          Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 1);
        return queued === 0 && all.every((id) => done.has(id));
      },
      90_000,
      () => consumers.map((c) => c.tail().slice(-2000)).join('\n'),
      500,
    );
    for (const p of [dispatcher, ...consumers]) p.kill('SIGTERM');
    const exits = await Promise.all([dispatcher, ...consumers].map((p) => p.exited));

    const recorded = await h.database.db.select().from(runs).where(inArray(runs.tenantId, all));
    // Runs under the tenant's lease never overlap. A quiet run (ADR 0136) took no lease: it may overlap
    // another (a message delivered twice), and wrote nothing (the table's check: ok, nothing imported).
    const overlaps: string[] = [];
    for (const id of all) {
      const mine = recorded
        .filter((r) => r.tenantId === id && !r.quiet)
        .sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime());
      for (let i = 1; i < mine.length; i++) {
        const before = mine[i - 1];
        const after = mine[i];
        if (before === undefined || after === undefined) continue;
        const end = before.finishedAt?.getTime() ?? Number.POSITIVE_INFINITY;
        if (after.startedAt.getTime() < end)
          overlaps.push(`${id}: ${before.workerId} ${before.id} and ${after.workerId} ${after.id}`);
      }
    }
    // Consumers delete finished messages in batches: the entries that reached SQS are the messages handled.
    const handled = h.proxy.operationStats('sqs', 'DeleteMessageBatch').batchEntries;
    const sqs5xx = SQS_FAULTED.reduce(
      (n, operation) => n + h.proxy.operationStats('sqs', operation).injected5xx,
      0,
    );
    const byWorker = new Map<string, number>();
    for (const r of recorded) byWorker.set(r.workerId ?? '?', (byWorker.get(r.workerId ?? '?') ?? 0) + 1);
    const figures = ledger(h, tenants);
    console.log(
      [
        'SQS fan-out',
        `  tenants ${TENANTS}, consumer processes ${CONSUMERS}, messages handled ${handled}, runs ${recorded.length}`,
        `  turned away by the lease (busy) ${handled - recorded.length}`,
        `  SQS 5xx injected ${sqs5xx}`,
        `  runs per process ${[...byWorker].map(([w, n]) => `${w}=${n}`).join(' ')}`,
        `  overlapping runs of one tenant under its lease ${overlaps.length}; quiet runs (no lease) ${recorded.filter((r) => r.quiet).length}`,
        `  tenants processed ${new Set(recorded.filter((r) => r.status === 'ok').map((r) => r.tenantId)).size}/${TENANTS}`,
        `  lost ${figures.lost}, duplicate ids ${figures.duplicateIds}, re-imports ${figures.reimports}`,
      ].join('\n'),
    );

    expect(sqs5xx).toBeGreaterThan(0);
    expect(overlaps).toEqual([]);
    expect(exits.every((e) => e.code === 0)).toBe(true);
    expect(recorded.every((r) => r.status === 'ok')).toBe(true);
    expect(handled - recorded.length).toBeGreaterThan(0);
    expect([...byWorker.keys()].filter((w) => w.startsWith('consumer-'))).toHaveLength(CONSUMERS);
    expect(figures).toMatchObject({ lost: 0, duplicateIds: 0, unexpected: 0 });
  });
});

/** How many of `tenantIds` are due now (no dispatcher has claimed them since they were made due). */
async function dueTenants(h: Harness, tenantIds: readonly string[]): Promise<number> {
  const rows = await h.database.db.execute(sql`
    select count(*)::int as n from ${tenantSchedules}
    where ${inArray(tenantSchedules.tenantId, [...tenantIds])} and ${tenantSchedules.nextRunAt} <= now()`);
  return rowsOf<{ n: number }>(rows)[0]?.n ?? 0;
}
