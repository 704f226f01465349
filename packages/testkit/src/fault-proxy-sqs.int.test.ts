import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testAwsConfig } from './aws-config.ts';
import { type FaultProxy, startFaultProxy } from './fault-proxy.ts';

// The memory SQS through the real SDK (which checks every MD5 it is given): what the worker's consumer
// and dispatcher rely on, visibility, long polling, batches, receipt handles.
describe('the fault proxy’s memory SQS', () => {
  let proxy: FaultProxy;
  let sqs: SQSClient;
  let queue = 0;

  beforeAll(async () => {
    proxy = await startFaultProxy({ securityHub: 'memory', sqs: 'memory' });
    sqs = new SQSClient(testAwsConfig(proxy.endpoint));
  });
  afterAll(async () => {
    sqs?.destroy();
    await proxy?.stop();
  });

  const newQueue = async (): Promise<string> => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `q-${queue++}` }));
    if (QueueUrl === undefined) throw new Error('no queue url');
    return QueueUrl;
  };
  const sendBodies = async (QueueUrl: string, bodies: readonly string[]) => {
    for (let i = 0; i < bodies.length; i += 10) {
      const entries = bodies.slice(i, i + 10).map((MessageBody, j) => ({ Id: String(j), MessageBody }));
      const out = await sqs.send(new SendMessageBatchCommand({ QueueUrl, Entries: entries }));
      expect(out.Failed ?? []).toEqual([]);
    }
  };

  it('hands each message to one receiver at a time, at most ten a call, with its body and MD5', async () => {
    const QueueUrl = await newQueue();
    const bodies = Array.from({ length: 15 }, (_, i) => JSON.stringify({ tenantId: `ten_${i}`, note: 'é✓' }));
    await sendBodies(QueueUrl, bodies);

    const first = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
    const second = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
    const third = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
    const attributes = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
    );

    expect(first.Messages).toHaveLength(10);
    expect(second.Messages).toHaveLength(5);
    expect(third.Messages ?? []).toEqual([]);
    expect([...(first.Messages ?? []), ...(second.Messages ?? [])].map((m) => m.Body).sort()).toEqual(
      [...bodies].sort(),
    );
    expect(attributes.Attributes).toMatchObject({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '15',
    });
  });

  it('keeps a message attribute and returns it to a receive that names it (or asks for All) only', async () => {
    const QueueUrl = await newQueue();
    const attribute = { 'vsh-quiet': { DataType: 'String', StringValue: 'true' } };
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl,
        Entries: [
          { Id: '0', MessageBody: 'with', MessageAttributes: attribute },
          { Id: '1', MessageBody: 'without' },
        ],
      }),
    );
    const named = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 0,
        MessageAttributeNames: ['vsh-quiet'],
      }),
    );
    const unnamed = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 0 }),
    );
    const all = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'] }),
    );

    const byBody = (out: typeof named) =>
      Object.fromEntries((out.Messages ?? []).map((m) => [m.Body, m.MessageAttributes ?? null]));
    expect(byBody(named)).toEqual({ with: attribute, without: null });
    expect(byBody(unnamed)).toEqual({ with: null, without: null });
    expect(byBody(all)).toEqual({ with: attribute, without: null });
  });

  it('gives a message again when it is not deleted in time, and never after it is deleted', async () => {
    const QueueUrl = await newQueue();
    await sendBodies(QueueUrl, ['a', 'b']);
    const taken = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 2 }));
    const [a, b] = taken.Messages ?? [];
    if (a?.ReceiptHandle === undefined || b?.ReceiptHandle === undefined) throw new Error('not received');

    // `a` times out (visibility set to 0, as an expired one), `b` is deleted.
    await sqs.send(
      new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: a.ReceiptHandle, VisibilityTimeout: 0 }),
    );
    const deleted = await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl,
        Entries: [
          { Id: 'b', ReceiptHandle: b.ReceiptHandle },
          { Id: 'stale', ReceiptHandle: 'not-a-handle' },
        ],
      }),
    );
    const again = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['All'] }),
    );
    // The first receipt of `a` no longer deletes it: only the newest one does.
    const staleDelete = await sqs.send(
      new DeleteMessageBatchCommand({ QueueUrl, Entries: [{ Id: 'a', ReceiptHandle: a.ReceiptHandle }] }),
    );

    expect(deleted.Successful?.map((e) => e.Id)).toEqual(['b']);
    expect(deleted.Failed?.map((e) => [e.Id, e.Code])).toEqual([['stale', 'ReceiptHandleIsInvalid']]);
    expect(again.Messages?.map((m) => [m.Body, m.Attributes?.ApproximateReceiveCount])).toEqual([['a', '2']]);
    expect(staleDelete.Failed?.map((e) => e.Id)).toEqual(['a']);
    expect(proxy.operationStats('sqs', 'DeleteMessageBatch').batchEntries).toBeGreaterThanOrEqual(3);
  });

  it('hands messages back in a batch (visibility 0): visible at once, a bad handle failed alone', async () => {
    const QueueUrl = await newQueue();
    await sendBodies(QueueUrl, ['a', 'b', 'c']);
    const taken = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 3 }));
    const [a, b] = taken.Messages ?? [];
    if (a?.ReceiptHandle === undefined || b?.ReceiptHandle === undefined) throw new Error('not received');
    // A long poll waiting when they are handed back is answered at once.
    const waiting = sqs.send(
      new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 20 }),
    );

    const out = await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl,
        Entries: [
          { Id: 'a', ReceiptHandle: a.ReceiptHandle, VisibilityTimeout: 0 },
          { Id: 'b', ReceiptHandle: b.ReceiptHandle, VisibilityTimeout: 0 },
          { Id: 'stale', ReceiptHandle: 'not-a-handle', VisibilityTimeout: 0 },
        ],
      }),
    );

    expect(out.Successful?.map((e) => e.Id)).toEqual(['a', 'b']);
    expect(out.Failed?.map((e) => [e.Id, e.Code])).toEqual([['stale', 'ReceiptHandleIsInvalid']]);
    expect((await waiting).Messages?.map((m) => m.Body).sort()).toEqual(['a', 'b']);
  });

  it('answers a long poll as soon as a message arrives, and ends one whose caller went away', async () => {
    const QueueUrl = await newQueue();
    const started = performance.now();
    const waiting = sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 20 }));
    await sendBodies(QueueUrl, ['late']);
    const got = await waiting;
    const waitedMs = performance.now() - started;

    const aborted = new AbortController();
    const abandoned = sqs
      .send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 20 }), { abortSignal: aborted.signal })
      .catch((err: unknown) => err);
    aborted.abort();
    await abandoned;
    await sendBodies(QueueUrl, ['after']);
    const after = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 1 }));

    expect(got.Messages?.map((m) => m.Body)).toEqual(['late']);
    // Woken by the message, not by the end of its 20 s wait.
    expect(waitedMs).toBeLessThan(10_000);
    expect(after.Messages?.map((m) => m.Body)).toEqual(['after']);
  });
});
