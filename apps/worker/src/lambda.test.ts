import { createHash } from 'node:crypto';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createDispatcherHandler } from './dispatcher-lambda.ts';
import { captureStdout, emfViolations } from './emf.test-support.ts';
import { createWorkerLambdaHandler } from './lambda.ts';
import { createWorkerMetrics } from './metrics.ts';
import type { RunSummary } from './ports.ts';
import type { RunResult } from './run-tenant.ts';

const logger = pino({ level: 'silent' });
let stdout: ReturnType<typeof captureStdout> | undefined;
afterEach(() => stdout?.restore());

/** One SQS record as the Lambda event source mapping delivers it. */
function sqsRecord(messageId: string, body: string) {
  return {
    messageId,
    receiptHandle: `AQEB${Buffer.from(messageId).toString('base64')}/Vaikora+receipt==`,
    body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '1780315200000',
      SenderId: 'AROAEXAMPLEDISPATCHER:dispatcher',
      ApproximateFirstReceiveTimestamp: '1780315200042',
    },
    messageAttributes: {},
    md5OfBody: createHash('md5').update(body).digest('hex'),
    eventSource: 'aws:sqs',
    eventSourceARN:
      'arn:aws:sqs:eu-west-1:123456789012:VaikoraSecurityHubCentral-WorkQueue6B7A1C2D-Ab12Cd34Ef56',
    awsRegion: 'eu-west-1',
  };
}

const tenantBody = (tenantId: string) =>
  JSON.stringify({ tenantId, dispatchedAt: '2026-06-01T12:00:00.000Z' });

function summary(status: RunSummary['status'], findingsImported: number): RunSummary {
  return {
    status,
    actionsRead: findingsImported,
    findingsMapped: findingsImported,
    findingsImported,
    actionsSkipped: 0,
    recordsRejected: 0,
    throttles: 0,
    lagSeconds: 42,
    errorCode: status === 'failed' ? 'VAIKORA_UNAUTHORIZED' : null,
    errorMessage: null,
    recentFindings: [],
    destinationStats: {},
  };
}

describe('the worker Lambda handler', () => {
  it('answers an SQS event with partial batch failures and prints its runs as EMF only when the invocation ends', async () => {
    stdout = captureStdout();
    const metrics = createWorkerMetrics();
    const emfLinesDuringRuns: number[] = [];
    const run = async (tenantId: string): Promise<RunResult> => {
      if (tenantId === 'ten_throws') throw new Error('database unreachable');
      // What run-tenant.ts records at the end of a run.
      const status = tenantId === 'ten_bad' ? 'failed' : 'ok';
      const imported = tenantId === 'ten_bad' ? 0 : 5;
      metrics.imported.inc({ tenant: tenantId }, imported);
      metrics.skipped.inc({ tenant: tenantId }, 1);
      metrics.throttles.inc({ tenant: tenantId }, 0);
      metrics.runs.inc({ status });
      metrics.runDuration.observe({ status }, 0.5);
      metrics.lagSeconds.set({ tenant: tenantId }, 42);
      emfLinesDuringRuns.push(stdout?.emf().length ?? -1);
      return { kind: 'ran', runId: `run_${tenantId}`, summary: summary(status, imported) };
    };
    const handler = createWorkerLambdaHandler({
      run,
      runClaimedBackfill: async () => null,
      metrics,
      logger,
    });
    const event = {
      Records: [
        sqsRecord('059f36b4-87a3-44ab-83d2-661975830a7d', tenantBody('ten_ok')),
        sqsRecord('2e1424d4-f796-459a-8184-9c92662be6da', tenantBody('ten_bad')),
        sqsRecord('c80e8021-a70a-42c7-a470-796e1186f753', tenantBody('ten_throws')),
        sqsRecord('f3b5e2a1-0c4d-4e6f-9a8b-7c6d5e4f3a2b', '{"tenantId":'),
      ],
    };

    const response = await handler(event);

    expect(response).toEqual({
      batchItemFailures: [
        { itemIdentifier: 'c80e8021-a70a-42c7-a470-796e1186f753' },
        { itemIdentifier: 'f3b5e2a1-0c4d-4e6f-9a8b-7c6d5e4f3a2b' },
      ],
    });
    expect(emfLinesDuringRuns).toEqual([0, 0]);
    const lines = stdout.emf();
    for (const line of lines) expect(emfViolations(line)).toEqual([]);
    expect(lines.map((l) => l.tenantId ?? `status:${String(l.Status)}`).toSorted()).toEqual([
      'status:failed',
      'status:ok',
      'ten_bad',
      'ten_ok',
    ]);
    expect(lines.find((l) => l.tenantId === 'ten_ok')).toMatchObject({
      FindingsImported: 5,
      CursorLagSeconds: 42,
    });
    expect(lines.find((l) => l.Status === 'failed')).toMatchObject({ Runs: 1 });
  });

  it('prints each invocation its own metrics, also when the invocation fails as a whole', async () => {
    stdout = captureStdout();
    const metrics = createWorkerMetrics();
    const failingLogger = pino({ level: 'silent' });
    failingLogger.error = (() => {
      throw new Error('log sink gone');
    }) as typeof failingLogger.error;
    const handler = createWorkerLambdaHandler({
      run: async (tenantId) => {
        metrics.runs.inc({ status: 'ok' });
        metrics.imported.inc({ tenant: tenantId }, 1);
        return { kind: 'ran', runId: `run_${tenantId}`, summary: summary('ok', 1) };
      },
      runClaimedBackfill: async () => null,
      metrics,
      logger: failingLogger,
    });

    await handler({ Records: [sqsRecord('a1', tenantBody('ten_1'))] });
    // The malformed body is logged as an error, which throws here: the invocation fails after ten_2 ran.
    await expect(
      handler({ Records: [sqsRecord('b2', tenantBody('ten_2')), sqsRecord('b3', '{')] }),
    ).rejects.toThrow('log sink gone');
    await handler({ Records: [sqsRecord('c4', tenantBody('ten_3'))] });

    expect(stdout.emf().map((l) => l.tenantId ?? `runs:${String(l.Runs)}`)).toEqual([
      'runs:1',
      'ten_1',
      'runs:1',
      'ten_2',
      'runs:1',
      'ten_3',
    ]);
  });
});

describe('the dispatcher Lambda handler', () => {
  it('dispatches on an EventBridge Scheduler invocation and prints TenantsDispatched with the tick', async () => {
    stdout = captureStdout();
    let calls = 0;
    const handler = createDispatcherHandler(async () => {
      calls++;
      return 3;
    }, logger);
    // The central stack's schedule input, with EventBridge Scheduler's context attributes filled in.
    const event = {
      executionId: 'd32c5kddcf5bb8c3',
      scheduledTime: '2026-06-01T12:00:00Z',
      attemptNumber: '1',
    };

    const result = await handler(event);

    expect(result).toEqual({ dispatched: 3 });
    expect(calls).toBe(1);
    const [line, ...rest] = stdout.emf();
    expect(rest).toEqual([]);
    expect(emfViolations(line)).toEqual([]);
    expect(line).toMatchObject({
      service: 'dispatcher',
      executionId: 'd32c5kddcf5bb8c3',
      scheduledTime: '2026-06-01T12:00:00Z',
      attemptNumber: '1',
      TenantsDispatched: 3,
    });
  });

  it('dispatches just the same on an event without the tick (an empty payload, a manual test invoke)', async () => {
    stdout = captureStdout();
    const handler = createDispatcherHandler(async () => 0, logger);

    const results = [await handler({}), await handler(null), await handler({ executionId: 7 })];

    expect(results).toEqual([{ dispatched: 0 }, { dispatched: 0 }, { dispatched: 0 }]);
    expect(stdout.emf().map((l) => [l.TenantsDispatched, l.executionId])).toEqual([
      [0, undefined],
      [0, undefined],
      [0, undefined],
    ]);
  });
});
