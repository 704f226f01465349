/**
 * The fault proxy's in-memory SQS (`sqs: 'memory'`): standard queues with visibility timeouts, long
 * polling and receipt handles, over the JSON protocol the AWS SDK v3 speaks. For benchmarks: moto's
 * SQS scans the whole queue in Python on every receive and delete, which on a shared 2-core machine
 * took more CPU per tenant run than the worker itself (bench:fanout), and a real SQS spends none of
 * the worker machine's CPU. Tests of SQS behaviour under faults keep moto behind the proxy.
 *
 * Written here rather than taken from a library: the maintained SQS emulators (ElasticMQ, LocalStack)
 * are JVM or Python services of their own, which would bring back the CPU this exists to remove.
 */
import { createHash, randomUUID } from 'node:crypto';
import { awsErrorResponse, isRecord, jsonResponse, type RequestInfo, type WireResponse } from './wire.ts';

/** What SQS allows: at most 10 messages per receive and per batch, a long poll of at most 20 s. */
const MAX_BATCH = 10;
const MAX_WAIT_SECONDS = 20;
const DEFAULT_VISIBILITY_SECONDS = 30;
/** A waiting receive also looks again this often, for messages whose visibility timeout ran out. */
const RECHECK_MS = 50;
const ACCOUNT = '123456789012';

interface StoredMessage {
  readonly id: string;
  readonly body: string;
  /** `MessageAttributes` as sent, returned to a receive that names them (or asks for `All`). */
  readonly attributes: Record<string, unknown> | undefined;
  readonly md5: string;
  visibleAtMs: number;
  receipt: string | undefined;
  receiveCount: number;
}

interface Queue {
  readonly url: string;
  readonly messages: Map<string, StoredMessage>;
  /** Message id by its current receipt handle. */
  readonly receipts: Map<string, string>;
  readonly visibilitySeconds: number;
  readonly waiters: Set<() => void>;
}

const md5 = (text: string): string => createHash('md5').update(text, 'utf8').digest('hex');

export class SqsStore {
  private readonly queues = new Map<string, Queue>();

  constructor(
    private readonly baseUrl: () => string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Answers an SQS request; `closed` resolves when the client goes away (ends a long poll early). */
  async answer(info: RequestInfo, body: unknown, closed: Promise<void>): Promise<WireResponse> {
    const input = isRecord(body) ? body : {};
    const invalid = (message: string) =>
      awsErrorResponse(info, 400, 'AWS.SimpleQueueService.InvalidParameterValue', message);
    if (info.operation === 'CreateQueue' || info.operation === 'GetQueueUrl') {
      const name = input.QueueName;
      if (typeof name !== 'string' || !/^[A-Za-z0-9_-]{1,80}$/.test(name)) return invalid('bad QueueName');
      const url = `${this.baseUrl()}/${ACCOUNT}/${name}`;
      if (info.operation === 'GetQueueUrl' && !this.queues.has(url))
        return awsErrorResponse(info, 400, 'AWS.SimpleQueueService.NonExistentQueue', 'no such queue');
      if (!this.queues.has(url)) {
        const attributes = isRecord(input.Attributes) ? input.Attributes : {};
        const visibility = Number(attributes.VisibilityTimeout ?? DEFAULT_VISIBILITY_SECONDS);
        this.queues.set(url, {
          url,
          messages: new Map(),
          receipts: new Map(),
          visibilitySeconds: Number.isFinite(visibility) ? visibility : DEFAULT_VISIBILITY_SECONDS,
          waiters: new Set(),
        });
      }
      return jsonResponse({ QueueUrl: url });
    }
    const queue = typeof input.QueueUrl === 'string' ? this.queueOf(input.QueueUrl) : undefined;
    if (queue === undefined)
      return awsErrorResponse(info, 400, 'AWS.SimpleQueueService.NonExistentQueue', 'no such queue');
    switch (info.operation) {
      case 'SendMessage': {
        if (typeof input.MessageBody !== 'string') return invalid('MessageBody is required');
        const message = this.send(queue, input.MessageBody, input.MessageAttributes);
        return jsonResponse({ MessageId: message.id, MD5OfMessageBody: message.md5 });
      }
      case 'SendMessageBatch': {
        const entries = batchEntries(input.Entries);
        if (entries === undefined) return invalid('1 to 10 Entries are required');
        const successful = [];
        for (const entry of entries) {
          if (typeof entry.MessageBody !== 'string') return invalid('MessageBody is required');
          const message = this.send(queue, entry.MessageBody, entry.MessageAttributes);
          successful.push({ Id: entry.Id, MessageId: message.id, MD5OfMessageBody: message.md5 });
        }
        return jsonResponse({ Successful: successful, Failed: [] });
      }
      case 'ReceiveMessage':
        return jsonResponse(await this.receive(queue, input, closed));
      case 'DeleteMessage':
        return this.delete(queue, input.ReceiptHandle)
          ? jsonResponse({})
          : awsErrorResponse(info, 400, 'ReceiptHandleIsInvalid', 'the receipt handle is not valid');
      case 'DeleteMessageBatch': {
        const entries = batchEntries(input.Entries);
        if (entries === undefined) return invalid('1 to 10 Entries are required');
        const successful = [];
        const failed = [];
        for (const entry of entries) {
          if (this.delete(queue, entry.ReceiptHandle)) successful.push({ Id: entry.Id });
          else failed.push({ Id: entry.Id, Code: 'ReceiptHandleIsInvalid', SenderFault: true });
        }
        return jsonResponse({ Successful: successful, Failed: failed });
      }
      case 'ChangeMessageVisibility': {
        const changed = this.changeVisibility(queue, input.ReceiptHandle, input.VisibilityTimeout);
        if (changed === 'bad-timeout') return invalid('bad VisibilityTimeout');
        return changed === 'ok'
          ? jsonResponse({})
          : awsErrorResponse(info, 400, 'ReceiptHandleIsInvalid', 'the receipt handle is not valid');
      }
      case 'ChangeMessageVisibilityBatch': {
        const entries = batchEntries(input.Entries);
        if (entries === undefined) return invalid('1 to 10 Entries are required');
        const successful = [];
        const failed = [];
        for (const entry of entries) {
          const changed = this.changeVisibility(queue, entry.ReceiptHandle, entry.VisibilityTimeout);
          if (changed === 'ok') successful.push({ Id: entry.Id });
          else
            failed.push({
              Id: entry.Id,
              Code: changed === 'bad-timeout' ? 'InvalidParameterValue' : 'ReceiptHandleIsInvalid',
              SenderFault: true,
            });
        }
        return jsonResponse({ Successful: successful, Failed: failed });
      }
      case 'GetQueueAttributes': {
        const now = this.now();
        let visible = 0;
        for (const m of queue.messages.values()) if (m.visibleAtMs <= now) visible++;
        return jsonResponse({
          Attributes: {
            ApproximateNumberOfMessages: String(visible),
            ApproximateNumberOfMessagesNotVisible: String(queue.messages.size - visible),
            VisibilityTimeout: String(queue.visibilitySeconds),
          },
        });
      }
      default:
        return awsErrorResponse(info, 400, 'InvalidAction', `the memory SQS has no ${info.operation}`);
    }
  }

  /** Makes a received message visible again `seconds` from now (0: at once, and wakes long polls). */
  private changeVisibility(
    queue: Queue,
    receiptHandle: unknown,
    seconds: unknown,
  ): 'ok' | 'invalid-handle' | 'bad-timeout' {
    const id = typeof receiptHandle === 'string' ? queue.receipts.get(receiptHandle) : undefined;
    const message = id === undefined ? undefined : queue.messages.get(id);
    if (message === undefined) return 'invalid-handle';
    const timeout = Number(seconds);
    if (!Number.isFinite(timeout) || timeout < 0) return 'bad-timeout';
    message.visibleAtMs = this.now() + timeout * 1000;
    if (timeout === 0) this.wake(queue);
    return 'ok';
  }

  /** A queue by its URL, whatever host the caller used to reach the proxy. */
  private queueOf(url: string): Queue | undefined {
    const path = url.replace(/^[a-z]+:\/\/[^/]+/i, '');
    return this.queues.get(`${this.baseUrl()}${path}`);
  }

  private send(queue: Queue, body: string, attributes: unknown): StoredMessage {
    const message: StoredMessage = {
      id: randomUUID(),
      body,
      attributes: isRecord(attributes) ? attributes : undefined,
      md5: md5(body),
      visibleAtMs: this.now(),
      receipt: undefined,
      receiveCount: 0,
    };
    queue.messages.set(message.id, message);
    this.wake(queue);
    return message;
  }

  private wake(queue: Queue): void {
    for (const waiter of [...queue.waiters]) waiter();
  }

  private take(
    queue: Queue,
    max: number,
    visibilitySeconds: number,
    names: ReadonlySet<string>,
  ): Array<Record<string, unknown>> {
    const now = this.now();
    const taken: Array<Record<string, unknown>> = [];
    for (const message of queue.messages.values()) {
      if (taken.length >= max) break;
      if (message.visibleAtMs > now) continue;
      if (message.receipt !== undefined) queue.receipts.delete(message.receipt);
      message.receipt = `${message.id}#${randomUUID()}`;
      queue.receipts.set(message.receipt, message.id);
      message.visibleAtMs = now + visibilitySeconds * 1000;
      message.receiveCount++;
      const attributes = Object.entries(message.attributes ?? {}).filter(
        ([name]) => names.has('All') || names.has('.*') || names.has(name),
      );
      taken.push({
        MessageId: message.id,
        ReceiptHandle: message.receipt,
        MD5OfBody: message.md5,
        Body: message.body,
        Attributes: { ApproximateReceiveCount: String(message.receiveCount) },
        ...(attributes.length === 0 ? {} : { MessageAttributes: Object.fromEntries(attributes) }),
      });
    }
    return taken;
  }

  private async receive(
    queue: Queue,
    input: Record<string, unknown>,
    closed: Promise<void>,
  ): Promise<{ Messages?: Array<Record<string, unknown>> }> {
    const max = Math.min(MAX_BATCH, Math.max(1, Number(input.MaxNumberOfMessages ?? 1) || 1));
    const visibility = Number(input.VisibilityTimeout ?? queue.visibilitySeconds);
    const visibilitySeconds = Number.isFinite(visibility) ? visibility : queue.visibilitySeconds;
    const waitMs = Math.min(MAX_WAIT_SECONDS, Math.max(0, Number(input.WaitTimeSeconds ?? 0) || 0)) * 1000;
    const deadline = this.now() + waitMs;
    const names = new Set(
      Array.isArray(input.MessageAttributeNames)
        ? input.MessageAttributeNames.filter((n): n is string => typeof n === 'string')
        : [],
    );
    for (;;) {
      const taken = this.take(queue, max, visibilitySeconds, names);
      if (taken.length > 0) return { Messages: taken };
      const left = deadline - this.now();
      if (left <= 0) return {};
      let stop = false;
      await new Promise<void>((resolve) => {
        const done = () => {
          queue.waiters.delete(done);
          clearTimeout(timer);
          resolve();
        };
        queue.waiters.add(done);
        const timer = setTimeout(done, Math.min(left, RECHECK_MS));
        void closed.then(() => {
          stop = true;
          done();
        });
      });
      if (stop) return {};
    }
  }

  private delete(queue: Queue, receipt: unknown): boolean {
    if (typeof receipt !== 'string') return false;
    const id = queue.receipts.get(receipt);
    if (id === undefined) return false;
    queue.receipts.delete(receipt);
    queue.messages.delete(id);
    return true;
  }
}

function batchEntries(entries: unknown): Array<Record<string, unknown>> | undefined {
  if (!Array.isArray(entries) || entries.length === 0 || entries.length > MAX_BATCH) return undefined;
  return entries.every(isRecord) ? entries : undefined;
}
