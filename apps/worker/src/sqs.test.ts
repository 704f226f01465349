import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import type { BackfillResult } from './backfill.ts';
import type { RunResult } from './run-tenant.ts';
import { DeleteBatcher, handleTenantMessage, startSqsConsumer } from './sqs.ts';

const logger = pino({ level: 'silent' });
const progress = {
  progressPercent: 100,
  pages: 1,
  actionsRead: 0,
  actionsInRange: 0,
  findingsImported: 0,
  recordsRejected: 0,
  actionsSkipped: 0,
};

/** A tenant runner that records what it was asked to run; one per test, so no test sees another's calls. */
function recordingRunner() {
  const tenantRuns: string[] = [];
  const run = async (tenantId: string): Promise<RunResult> => {
    tenantRuns.push(tenantId);
    return { kind: 'busy' };
  };
  return { tenantRuns, run };
}

describe('work messages', () => {
  it('hands a backfill message to the backfill runner: done when it ends or is no longer claimed, retried while the tenant is busy', async () => {
    const { tenantRuns, run } = recordingRunner();
    const answers: Array<BackfillResult | null> = [{ kind: 'done', progress }, null, { kind: 'busy' }];
    const asked: string[] = [];
    const runBackfill = async (id: string) => {
      asked.push(id);
      return answers.shift() ?? null;
    };
    const body = JSON.stringify({
      kind: 'backfill',
      backfillId: 'bkf_1',
      tenantId: 'ten_1',
      dispatchedAt: '2026-01-01T00:00:00Z',
    });

    const outcomes = [
      await handleTenantMessage(body, run, logger, undefined, runBackfill),
      await handleTenantMessage(body, run, logger, undefined, runBackfill),
      await handleTenantMessage(body, run, logger, undefined, runBackfill),
    ];

    expect(outcomes).toEqual(['done', 'done', 'retry']);
    expect(asked).toEqual(['bkf_1', 'bkf_1', 'bkf_1']);
    expect(tenantRuns).toEqual([]);
  });

  it('retries (then dead-letters) a backfill message with an unknown field or no runner, and still runs tenant messages', async () => {
    const { tenantRuns, run } = recordingRunner();
    const extra = JSON.stringify({
      kind: 'backfill',
      backfillId: 'b',
      tenantId: 't',
      dispatchedAt: 'x',
      more: 1,
    });
    const valid = JSON.stringify({ kind: 'backfill', backfillId: 'b', tenantId: 't', dispatchedAt: 'x' });

    const outcomes = [
      await handleTenantMessage(extra, run, logger, undefined, async () => null),
      await handleTenantMessage(valid, run, logger),
      await handleTenantMessage(JSON.stringify({ tenantId: 'ten_2', dispatchedAt: 'x' }), run, logger),
    ];

    expect(outcomes).toEqual(['retry', 'retry', 'done']);
    expect(tenantRuns).toEqual(['ten_2']);
  });
});

/** An SQS client that answers DeleteMessageBatch (failing the entries named in `failIds`) and records each call. */
function deletingSqs(failIds: ReadonlySet<string> = new Set()) {
  const batches: string[][] = [];
  const sqs = {
    send: async (command: DeleteMessageBatchCommand) => {
      const handles = (command.input.Entries ?? []).map((e) => e.ReceiptHandle ?? '');
      batches.push(handles);
      return {
        Successful: [],
        Failed: (command.input.Entries ?? [])
          .filter((e) => failIds.has(e.ReceiptHandle ?? ''))
          .map((e) => ({ Id: e.Id, Code: 'ReceiptHandleIsInvalid', SenderFault: true })),
      };
    },
  };
  return { sqs, batches };
}

describe('deleting finished messages (issue 16)', () => {
  it('sends ten a DeleteMessageBatch, the rest after the linger, and what is left on flush', async () => {
    const { sqs, batches } = deletingSqs();
    const deletes = new DeleteBatcher(sqs, 'https://sqs.local/q', logger, { lingerMs: 20 });

    for (let i = 0; i < 23; i++) deletes.add(`r${i}`);
    const full = batches.map((b) => b.length);
    await vi.waitFor(() => expect(batches).toHaveLength(3));
    const afterLinger = batches.map((b) => b.length);
    deletes.add('late');
    await deletes.flush();

    expect(full).toEqual([10, 10]);
    expect(afterLinger).toEqual([10, 10, 3]);
    expect(batches.at(-1)).toEqual(['late']);
    expect(batches.flat()).toHaveLength(24);
    expect(new Set(batches.flat()).size).toBe(24);
  });

  it('keeps going when SQS refuses some entries or the whole call: those messages come back and run again', async () => {
    const { sqs, batches } = deletingSqs(new Set(['r1']));
    const failing = {
      send: async () => {
        throw new Error('503 Service Unavailable');
      },
    };
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const partly = new DeleteBatcher(sqs, 'https://sqs.local/q', log, { lingerMs: 5 });
    const broken = new DeleteBatcher(failing, 'https://sqs.local/q', log, { lingerMs: 5 });

    partly.add('r0');
    partly.add('r1');
    broken.add('r2');
    await Promise.all([partly.flush(), broken.flush()]);

    expect(batches).toEqual([['r0', 'r1']]);
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual([
      'some finished messages were not deleted; they will run again',
      'finished messages not deleted; they will run again',
    ]);
  });

  it('a consumer deletes what it finished in batches and flushes on stop, not one DeleteMessage per run', async () => {
    const { sqs, calls, deleted } = fakeQueue(25);
    const consumer = startSqsConsumer({
      sqs,
      queueUrl: 'https://sqs.local/q',
      run: async (): Promise<RunResult> => ({ kind: 'gone' }),
      concurrency: 10,
      waitTimeSeconds: 20,
      visibilityTimeoutSeconds: 150,
      logger,
    });
    while (consumer.processed < 25) await new Promise((r) => setImmediate(r));
    await consumer.stop();

    expect(new Set(deleted)).toEqual(new Set(Array.from({ length: 25 }, (_, i) => `r${i}`)));
    expect(deleted).toHaveLength(25);
    expect(calls.filter((c) => c === 'DeleteMessageBatchCommand').length).toBeLessThanOrEqual(5);
    expect(calls).not.toContain('DeleteMessageCommand');
  });
});

/**
 * A fake SQS queue for the consumer: counts every call by command, hands out messages of `queue` on
 * ReceiveMessage (a long poll that ends only on abort once the queue is empty) and records the
 * visibility changes asked for.
 */
function fakeQueue(messages: number) {
  const calls: string[] = [];
  const received: number[] = [];
  const deleted: string[] = [];
  const visibility: Array<{ handle: string; seconds: number | undefined }> = [];
  const queue = Array.from({ length: messages }, (_, i) => ({
    MessageId: `m${i}`,
    ReceiptHandle: `r${i}`,
    Body: JSON.stringify({ tenantId: `ten_${i}`, dispatchedAt: new Date().toISOString() }),
  }));
  const sqs = {
    send: (
      command: { constructor: { name: string }; input: Record<string, unknown> },
      options?: { abortSignal?: AbortSignal },
    ) => {
      calls.push(command.constructor.name);
      const input = command.input as {
        MaxNumberOfMessages?: number;
        Entries?: Array<{ ReceiptHandle?: string; VisibilityTimeout?: number }>;
        ReceiptHandle?: string;
        VisibilityTimeout?: number;
      };
      if (command instanceof ReceiveMessageCommand) {
        const batch = queue.splice(0, input.MaxNumberOfMessages ?? 1);
        if (batch.length > 0) {
          received.push(batch.length);
          return Promise.resolve({ Messages: batch });
        }
        return new Promise((_, reject) =>
          options?.abortSignal?.addEventListener('abort', () => reject(new Error('stopped'))),
        );
      }
      if (command instanceof DeleteMessageBatchCommand) {
        deleted.push(...(input.Entries ?? []).map((e) => e.ReceiptHandle ?? ''));
        return Promise.resolve({ Successful: [], Failed: [] });
      }
      if (command instanceof ChangeMessageVisibilityBatchCommand) {
        for (const e of input.Entries ?? [])
          visibility.push({ handle: e.ReceiptHandle ?? '', seconds: e.VisibilityTimeout });
        return Promise.resolve({ Successful: [], Failed: [] });
      }
      if (command instanceof ChangeMessageVisibilityCommand) {
        visibility.push({ handle: input.ReceiptHandle ?? '', seconds: input.VisibilityTimeout });
      }
      return Promise.resolve({});
    },
  } as unknown as SQSClient;
  return { sqs, calls, received, deleted, visibility, queue };
}

describe('receiving ahead of a free slot (issue 16)', () => {
  it('receives a batch for the next runs while every slot is taken: about one ReceiveMessage per `concurrency` runs, not one per run', async () => {
    const { sqs, calls, received, deleted } = fakeQueue(40);
    const started: string[] = [];
    let running = 0;
    let most = 0;
    const consumer = startSqsConsumer({
      sqs,
      queueUrl: 'https://sqs.local/q',
      run: async (tenantId): Promise<RunResult> => {
        started.push(tenantId);
        most = Math.max(most, ++running);
        // fault-injection delay: runs of a few ms each, so that slots free one at a time as in a busy process.
        await new Promise((r) => setTimeout(r, 2 + (started.length % 3)));
        running--;
        return { kind: 'gone' };
      },
      concurrency: 4,
      waitTimeSeconds: 20,
      visibilityTimeoutSeconds: 150,
      logger,
    });
    await vi.waitFor(() => expect(consumer.processed).toBe(40), { timeout: 5000 });
    await consumer.stop();

    const receives = calls.filter((c) => c === 'ReceiveMessageCommand').length;
    // 40 runs, 4 at a time: 40 / 4 = 10 batches of 4, plus the first (8: the slots and the batch ahead).
    expect(receives).toBeLessThanOrEqual(12);
    expect(received.reduce((a, b) => a + b, 0)).toBe(40);
    expect(new Set(started).size).toBe(40);
    expect(started).toHaveLength(40);
    expect(most).toBeLessThanOrEqual(4);
    expect(new Set(deleted).size).toBe(40);
  });

  it('on stop, hands the messages received ahead back to the queue at once (visibility 0) and never runs them', async () => {
    const { sqs, visibility, deleted, received } = fakeQueue(12);
    const started: string[] = [];
    const release: Array<() => void> = [];
    const consumer = startSqsConsumer({
      sqs,
      queueUrl: 'https://sqs.local/q',
      run: (tenantId, signal): Promise<RunResult> => {
        started.push(tenantId);
        return new Promise((resolve) => {
          const done = () => resolve({ kind: 'gone' });
          release.push(done);
          signal?.addEventListener('abort', done);
        });
      },
      concurrency: 2,
      waitTimeSeconds: 20,
      visibilityTimeoutSeconds: 150,
      logger,
    });
    await vi.waitFor(() => expect(started).toHaveLength(2));
    // Received: the 2 running and 2 ahead of them.
    expect(received).toEqual([4]);
    await consumer.stop();

    expect(started).toEqual(['ten_0', 'ten_1']);
    const handedBack = visibility.filter((v) => v.seconds === 0).map((v) => v.handle);
    expect(handedBack.sort()).toEqual(['r2', 'r3']);
    // The stopped runs go back on the queue too (not deleted); nothing else was received.
    expect(deleted).toEqual([]);
  });

  it('keeps a message received ahead invisible while it waits for a slot', async () => {
    const { sqs, visibility } = fakeQueue(2);
    const started: string[] = [];
    const consumer = startSqsConsumer({
      sqs,
      queueUrl: 'https://sqs.local/q',
      run: async (tenantId): Promise<RunResult> => {
        started.push(tenantId);
        // fault-injection delay: a run longer than the visibility extension's interval (1 s).
        if (tenantId === 'ten_0') await new Promise((r) => setTimeout(r, 1300));
        return { kind: 'gone' };
      },
      concurrency: 1,
      waitTimeSeconds: 20,
      // Extended every second (half of it, at least 1 s).
      visibilityTimeoutSeconds: 2,
      logger,
    });
    await vi.waitFor(() => expect(consumer.processed).toBe(2), { timeout: 5000 });
    await consumer.stop();

    expect(started).toEqual(['ten_0', 'ten_1']);
    // ten_1 waited behind ten_0 for 1.3 s: its visibility was extended meanwhile, as the running one's.
    expect(visibility).toContainEqual({ handle: 'r1', seconds: 2 });
    expect(visibility).toContainEqual({ handle: 'r0', seconds: 2 });
  });
});
