import { DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
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
    const calls: string[] = [];
    const deleted: string[] = [];
    const queue = Array.from({ length: 25 }, (_, i) => ({
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
        if (command instanceof ReceiveMessageCommand) {
          const batch = queue.splice(0, command.input.MaxNumberOfMessages ?? 1);
          if (batch.length > 0) return Promise.resolve({ Messages: batch });
          return new Promise((_, reject) =>
            options?.abortSignal?.addEventListener('abort', () => reject(new Error('stopped'))),
          );
        }
        if (command instanceof DeleteMessageBatchCommand) {
          deleted.push(...(command.input.Entries ?? []).map((e) => e.ReceiptHandle ?? ''));
          return Promise.resolve({ Successful: [], Failed: [] });
        }
        return Promise.resolve({});
      },
    } as unknown as SQSClient;
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
