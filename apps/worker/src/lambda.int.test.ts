import { createHash } from 'node:crypto';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { tenantSchedules } from '@vsh/db';
import { testAwsConfig } from '@vsh/testkit';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Harness, type SeededTenant, startHarness } from '../test/harness.ts';
import { captureStdout, emfViolations } from './emf.test-support.ts';
import { METRICS_NAMESPACE } from './metrics-contract.ts';

/** One SQS record as the Lambda event source mapping delivers it. */
function sqsRecord(messageId: string, body: string) {
  return {
    messageId,
    receiptHandle: `AQEB${Buffer.from(messageId).toString('base64')}`,
    body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: String(Date.now()),
      SenderId: 'AROAEXAMPLEDISPATCHER:dispatcher',
      ApproximateFirstReceiveTimestamp: String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: createHash('md5').update(body).digest('hex'),
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:VaikoraSecurityHubCentral-WorkQueue',
    awsRegion: 'us-east-1',
  };
}

describe('the worker Lambda entry, configured by its environment as the central stack does', () => {
  let h: Harness;
  let tenant: SeededTenant;
  const startedAt = Date.now();

  beforeAll(async () => {
    h = await startHarness({ sim: { seed: 72, initialActionsPerAgent: 0, badRate: 0.1 } });
    const key = 'vk_test_lambda_tenant';
    h.sim.store.addTenant(key, ['agt-l-a', 'agt-l-b'], 60);
    tenant = await h.seedTenant({
      name: 'lambda',
      accountId: '100000000072',
      region: 'us-east-1',
      agents: ['agt-l-a', 'agt-l-b'],
      vaikoraKey: key,
    });
    for (const [name, value] of Object.entries(h.workerEnv({ LOG_LEVEL: 'silent' }))) vi.stubEnv(name, value);
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await h?.close();
  });

  it('runs the tenant an SQS event names, fails only the bad message, and prints the run as EMF on stdout', async () => {
    const { handler } = await import('./lambda.ts');
    const stdout = captureStdout();
    let response: Awaited<ReturnType<typeof handler>>;
    try {
      response = await handler({
        Records: [
          sqsRecord(
            '059f36b4-87a3-44ab-83d2-661975830a7d',
            JSON.stringify({ tenantId: tenant.tenantId, dispatchedAt: new Date().toISOString() }),
          ),
          sqsRecord('2e1424d4-f796-459a-8184-9c92662be6da', 'not json'),
        ],
      });
    } finally {
      stdout.restore();
    }

    expect(response).toEqual({
      batchItemFailures: [{ itemIdentifier: '2e1424d4-f796-459a-8184-9c92662be6da' }],
    });
    const imported = h.actionFindings(tenant.accountId, tenant.region).length;
    expect(imported).toBeGreaterThan(0);
    expect(imported).toBe(h.expectedFindingIds(tenant, startedAt - 24 * 3600_000).size);
    const lines = stdout.emf();
    for (const line of lines) expect(emfViolations(line)).toEqual([]);
    expect(new Set(lines.flatMap((l) => l._aws.CloudWatchMetrics.map((d) => d.Namespace)))).toEqual(
      new Set([METRICS_NAMESPACE]),
    );
    expect(lines.find((l) => l.tenantId === tenant.tenantId && 'FindingsImported' in l)).toMatchObject({
      service: 'worker',
      FindingsImported: imported,
      CursorLagSeconds: expect.any(Number),
    });
    expect(lines.find((l) => l.Status === 'ok')).toMatchObject({ Runs: 1, RunDuration: expect.any(Number) });
    const rejected = lines.filter((l) => l.tenantId === tenant.tenantId && 'RecordsRejected' in l);
    expect(rejected.length).toBeGreaterThan(0);
    for (const line of rejected) expect(line.Stage).toEqual(expect.any(String));
    expect(stdout.text()).not.toContain(tenant.vaikoraKey);
    expect(stdout.text()).not.toContain(h.masterKey);
  });

  it('dispatches the due tenant on an EventBridge Scheduler invocation and prints TenantsDispatched', async () => {
    const sqs = new SQSClient(testAwsConfig(h.proxy.endpoint));
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'vsh-lambda-dispatch' }));
    if (QueueUrl === undefined) throw new Error('no queue url');
    vi.stubEnv('WORK_QUEUE_URL', QueueUrl);
    await h.database.db
      .update(tenantSchedules)
      .set({ nextRunAt: sql`now()` })
      .where(eq(tenantSchedules.tenantId, tenant.tenantId));
    const { handler } = await import('./dispatcher-lambda.ts');
    const stdout = captureStdout();
    let result: Awaited<ReturnType<typeof handler>>;
    try {
      // The central stack's schedule input, as EventBridge Scheduler fills in its context attributes.
      result = await handler({
        executionId: 'd32c5kddcf5bb8c3',
        scheduledTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
        attemptNumber: '1',
      });
    } finally {
      stdout.restore();
    }

    expect(result).toEqual({ dispatched: 1 });
    const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
    expect(received.Messages?.map((m) => JSON.parse(m.Body ?? '{}').tenantId)).toEqual([tenant.tenantId]);
    const [line, ...rest] = stdout.emf();
    expect(rest).toEqual([]);
    expect(emfViolations(line)).toEqual([]);
    expect(line).toMatchObject({
      service: 'dispatcher',
      executionId: 'd32c5kddcf5bb8c3',
      TenantsDispatched: 1,
    });
    sqs.destroy();
  });
});
