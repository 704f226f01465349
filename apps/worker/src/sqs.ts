import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { errorMessage } from '@vsh/core';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { BackfillJob, BackfillResult } from './backfill.ts';
import type { RunHint } from './ports.ts';
import type { RunResult } from './run-tenant.ts';
import { RunSlots } from './slots.ts';
import type { TenantScheduler } from './tenant-store.ts';

/**
 * The message a dispatcher sends for one due tenant. Fields this worker does not know are dropped, not
 * refused: a dispatcher of a later release may add one, and a refused message is retried until it is
 * dead-lettered (a backfill message is told apart by its `kind`, `parseWorkMessage`).
 */
export const tenantMessageSchema = z.object({
  tenantId: z.string().min(1).max(64),
  dispatchedAt: z.string(),
});

/**
 * The message attribute that says the tenant's last run was quiet when it was dispatched (ADR 0136):
 * an attribute, not a field of the body, so that a worker of a release before reads the body it knows
 * (its schema is strict) and runs the tenant under the lease. Absent: it was not.
 */
export const QUIET_ATTRIBUTE = 'vsh-quiet';
export type TenantMessage = z.infer<typeof tenantMessageSchema>;

/** The message a dispatcher sends for one claimed backfill (ADR 0095). */
export const backfillMessageSchema = z
  .object({
    kind: z.literal('backfill'),
    backfillId: z.string().min(1).max(64),
    tenantId: z.string().min(1).max(64),
    dispatchedAt: z.string(),
  })
  .strict();
export type BackfillMessage = z.infer<typeof backfillMessageSchema>;

/**
 * A message of the work queue: a backfill's when it says so (`kind`), a tenant's otherwise. Throws when
 * it is neither (malformed: left for the dead-letter queue).
 */
export function parseWorkMessage(body: string | undefined): TenantMessage | BackfillMessage {
  const raw: unknown = JSON.parse(body ?? '');
  return typeof raw === 'object' && raw !== null && 'kind' in raw
    ? backfillMessageSchema.parse(raw)
    : tenantMessageSchema.parse(raw);
}

/** Runs the backfill a message names; null when it is no longer claimed (finished, or claimed again). */
export type ClaimedBackfillRunner = (
  backfillId: string,
  signal?: AbortSignal,
) => Promise<BackfillResult | null>;

export interface DispatchOptions {
  readonly scheduler: TenantScheduler;
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly now: Date;
  /** Most tenants handed out per dispatch. */
  readonly limit: number;
  /** How long a dispatched tenant is held before it is due again if its run never reschedules it. */
  readonly holdMs: number;
  /** Claims queued backfills to send as messages too. */
  readonly backfills?: { claim(limit: number): Promise<BackfillJob[]> } | undefined;
}

/** Claims due tenants and sends one message per tenant (SendMessageBatch, 10 per call). Returns how many. */
export async function dispatchDueTenants(options: DispatchOptions): Promise<number> {
  const due = await options.scheduler.claimDueTenants(options.now, options.limit, options.holdMs);
  const dispatchedAt = options.now.toISOString();
  const messages: Array<{ body: string; quiet: boolean }> = due.map(({ tenantId, lastRunQuiet }) => ({
    body: JSON.stringify({ tenantId, dispatchedAt } satisfies TenantMessage),
    quiet: lastRunQuiet,
  }));
  for (const job of (await options.backfills?.claim(options.limit)) ?? []) {
    messages.push({
      body: JSON.stringify({
        kind: 'backfill',
        backfillId: job.id,
        tenantId: job.tenantId,
        dispatchedAt,
      } satisfies BackfillMessage),
      quiet: false,
    });
  }
  for (let i = 0; i < messages.length; i += 10) {
    const entries = messages.slice(i, i + 10).map(({ body, quiet }, j) => ({
      Id: String(j),
      MessageBody: body,
      ...(quiet
        ? { MessageAttributes: { [QUIET_ATTRIBUTE]: { DataType: 'String', StringValue: 'true' } } }
        : {}),
    }));
    const result = await options.sqs.send(
      new SendMessageBatchCommand({ QueueUrl: options.queueUrl, Entries: entries }),
    );
    if (result.Failed !== undefined && result.Failed.length > 0) {
      // The claim holds them for `holdMs`; they become due again then. Say so rather than fail the batch.
      throw new Error(
        `SQS refused ${result.Failed.length} of ${entries.length} messages: ${result.Failed[0]?.Code}`,
      );
    }
  }
  return messages.length;
}

/** Runs one tenant (`runTenant` with the runtime's dependencies). */
export type TenantRunner = (tenantId: string, signal?: AbortSignal, hint?: RunHint) => Promise<RunResult>;

/** The run hint a message's `QUIET_ATTRIBUTE` carries. */
function hintOf(quiet: string | undefined): RunHint | undefined {
  return quiet === 'true' ? { lastRunQuiet: true } : undefined;
}

/** What happened to one message. */
export type MessageOutcome = 'done' | 'retry';

/** Runs the job for one SQS message: malformed bodies and failed runs are retried (then dead-lettered). */
export async function handleTenantMessage(
  body: string | undefined,
  run: TenantRunner,
  logger: Logger,
  signal?: AbortSignal,
  runBackfill?: ClaimedBackfillRunner,
  hint?: RunHint,
): Promise<MessageOutcome> {
  let message: TenantMessage | BackfillMessage;
  try {
    message = parseWorkMessage(body);
  } catch {
    logger.error(
      { body: (body ?? '').slice(0, 200) },
      'malformed work message; leaving it for the dead-letter queue',
    );
    return 'retry';
  }
  if ('kind' in message) {
    if (runBackfill === undefined) {
      logger.error({ backfillId: message.backfillId }, 'backfill message but no backfill runner');
      return 'retry';
    }
    try {
      const result = await runBackfill(message.backfillId, signal);
      // Busy: the tenant's run holds the lease; the message comes back after its visibility timeout.
      return signal?.aborted || result?.kind === 'busy' ? 'retry' : 'done';
    } catch (err) {
      logger.error({ backfillId: message.backfillId, err: errorMessage(err) }, 'backfill threw');
      return 'retry';
    }
  }
  try {
    await run(message.tenantId, signal, hint);
    // A run stopped by shutdown goes back on the queue for another process; a 'busy' tenant is being
    // served by the lease holder right now, and any other outcome is recorded in its run.
    return signal?.aborted ? 'retry' : 'done';
  } catch (err) {
    logger.error({ tenantId: message.tenantId, err: errorMessage(err) }, 'run threw');
    return 'retry';
  }
}

export interface SqsConsumerOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly run: TenantRunner;
  /** Runs at once, not counting slow ones (see `RunSlots`). */
  readonly concurrency: number;
  readonly slowAfterMs?: number | undefined;
  readonly maxInFlight?: number | undefined;
  readonly waitTimeSeconds: number;
  /** Visibility timeout to keep extending while a run is in progress, or a message waits for a slot. */
  readonly visibilityTimeoutSeconds: number;
  readonly logger: Logger;
  readonly runBackfill?: ClaimedBackfillRunner | undefined;
}

export interface SqsConsumer {
  stop(): Promise<void>;
  readonly processed: number;
}

/** Longest a finished message waits for others to be deleted with it. */
const DELETE_LINGER_MS = 500;
/** SQS's most entries per `DeleteMessageBatch`. */
const DELETE_BATCH_MAX = 10;

/**
 * Deletes finished messages ten to a `DeleteMessageBatch` (issue 16: one `DeleteMessage` per run was a
 * request, and its CPU, per run): a batch goes when it is full or its first message has waited
 * `lingerMs`, and `flush` sends what is left (at shutdown). A message not deleted (a failed entry, a
 * failed call, a process killed meanwhile) comes back after its visibility timeout and runs again,
 * which the lease and the cursors make harmless, as for any redelivery.
 */
export class DeleteBatcher {
  private pending: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly sending = new Set<Promise<void>>();

  constructor(
    private readonly sqs: Pick<SQSClient, 'send'>,
    private readonly queueUrl: string,
    private readonly logger: Logger,
    private readonly options: { readonly lingerMs: number },
  ) {}

  add(receiptHandle: string): void {
    this.pending.push(receiptHandle);
    if (this.pending.length >= DELETE_BATCH_MAX) this.send();
    else this.timer ??= setTimeout(() => this.send(), this.options.lingerMs);
  }

  /** Sends every pending delete and waits for all sent so far. */
  async flush(): Promise<void> {
    while (this.pending.length > 0) this.send();
    clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.all([...this.sending]);
  }

  private send(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const handles = this.pending.splice(0, DELETE_BATCH_MAX);
    if (handles.length === 0) return;
    const sent = this.deleteBatch(handles).finally(() => this.sending.delete(sent));
    this.sending.add(sent);
  }

  private async deleteBatch(handles: readonly string[]): Promise<void> {
    try {
      const result = await this.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: handles.map((ReceiptHandle, i) => ({ Id: String(i), ReceiptHandle })),
        }),
      );
      const failed = result.Failed ?? [];
      if (failed.length > 0) {
        this.logger.warn(
          { failed: failed.length, of: handles.length, code: failed[0]?.Code },
          'some finished messages were not deleted; they will run again',
        );
      }
    } catch (err) {
      this.logger.warn(
        { messages: handles.length, err: errorMessage(err) },
        'finished messages not deleted; they will run again',
      );
    }
  }
}

/** A message received and not yet finished, kept invisible to other consumers until `release`. */
interface HeldMessage {
  readonly message: Message;
  release(): void;
}

/**
 * A long-polling consumer: N of these in N processes share the queue; the lease prevents double runs.
 * It receives the next runs' messages while every slot is taken (ADR 0138), so that a busy process
 * asks SQS once per `concurrency` runs rather than once per run: a ReceiveMessage costs a worker about the
 * CPU of a DynamoDB read (issue 16, bench:fanout's call floor). A process holds at most `concurrency`
 * messages no slot has taken, kept invisible meanwhile, and hands them back when it stops.
 */
export function startSqsConsumer(options: SqsConsumerOptions): SqsConsumer {
  const controller = new AbortController();
  const slots = new RunSlots({ ...options, clock: Date.now });
  // One batch of its concurrency ahead (ADR 0138): more would hoard messages an idle process could run.
  const prefetch = options.concurrency;
  let processed = 0;
  const deletes = new DeleteBatcher(options.sqs, options.queueUrl, options.logger, {
    // Well inside the visibility timeout: a message waiting to be deleted must not come back meanwhile.
    lingerMs: Math.min(DELETE_LINGER_MS, (options.visibilityTimeoutSeconds * 1000) / 4),
  });
  /** Received, waiting for a slot: oldest first. */
  const waiting: HeldMessage[] = [];

  /** Keeps a message invisible from its receipt until `release`. */
  const hold = (message: Message): HeldMessage => {
    const extend = setInterval(
      () => {
        options.sqs
          .send(
            new ChangeMessageVisibilityCommand({
              QueueUrl: options.queueUrl,
              ReceiptHandle: message.ReceiptHandle,
              VisibilityTimeout: options.visibilityTimeoutSeconds,
            }),
          )
          .catch(() => undefined);
      },
      Math.max(1000, (options.visibilityTimeoutSeconds * 1000) / 2),
    );
    return { message, release: () => clearInterval(extend) };
  };

  const process = async ({ message, release }: HeldMessage): Promise<void> => {
    try {
      const outcome = await handleTenantMessage(
        message.Body,
        options.run,
        options.logger,
        controller.signal,
        options.runBackfill,
        hintOf(message.MessageAttributes?.[QUIET_ATTRIBUTE]?.StringValue),
      );
      if (outcome === 'done' && message.ReceiptHandle !== undefined) deletes.add(message.ReceiptHandle);
      processed++;
    } finally {
      release();
    }
  };

  const startWaiting = (): void => {
    while (waiting.length > 0 && slots.free() > 0) {
      const held = waiting.shift() as HeldMessage;
      slots.add(
        process(held).catch((err: unknown) => {
          options.logger.warn({ err: errorMessage(err) }, 'message handling failed');
        }),
      );
    }
  };

  const loop = async (): Promise<void> => {
    while (!controller.signal.aborted) {
      startWaiting();
      // Messages still wait for a slot: the next receive waits until they have one.
      const wanted = waiting.length > 0 ? 0 : Math.min(10, slots.free() + prefetch);
      if (wanted <= 0) {
        await slots.change(controller.signal);
        continue;
      }
      try {
        const received = await options.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: options.queueUrl,
            MaxNumberOfMessages: wanted,
            WaitTimeSeconds: options.waitTimeSeconds,
            VisibilityTimeout: options.visibilityTimeoutSeconds,
            MessageAttributeNames: [QUIET_ATTRIBUTE],
          }),
          { abortSignal: controller.signal },
        );
        for (const message of received.Messages ?? []) waiting.push(hold(message));
      } catch (err) {
        if (controller.signal.aborted) break;
        options.logger.warn({ err: errorMessage(err) }, 'receive failed; backing off');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  };
  const looping = loop();

  /** Hands the messages no slot took back to the queue, visible at once to every consumer. */
  const handBack = async (): Promise<void> => {
    const held = waiting.splice(0);
    for (const h of held) h.release();
    const handles = held.flatMap((h) =>
      h.message.ReceiptHandle === undefined ? [] : [h.message.ReceiptHandle],
    );
    for (let i = 0; i < handles.length; i += 10) {
      try {
        await options.sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: options.queueUrl,
            Entries: handles
              .slice(i, i + 10)
              .map((ReceiptHandle, j) => ({ Id: String(j), ReceiptHandle, VisibilityTimeout: 0 })),
          }),
        );
      } catch (err) {
        // They come back after their visibility timeout instead.
        options.logger.warn(
          { messages: handles.length, err: errorMessage(err) },
          'messages not handed back; they come back later',
        );
      }
    }
  };

  return {
    get processed() {
      return processed;
    },
    async stop() {
      controller.abort(new Error('shutting down'));
      await looping;
      await handBack();
      await slots.drain();
      await deletes.flush();
    },
  };
}

/** The AWS Lambda SQS event and partial batch response, as much of them as the handler reads. */
export interface SqsEvent {
  readonly Records: ReadonlyArray<{
    readonly messageId: string;
    readonly body: string;
    readonly messageAttributes?: Readonly<Record<string, { readonly stringValue?: string | undefined }>>;
  }>;
}
export interface SqsBatchResponse {
  batchItemFailures: Array<{ itemIdentifier: string }>;
}

/** A Lambda SQS handler with partial batch responses: only failed messages are retried. */
export function createSqsLambdaHandler(
  run: TenantRunner,
  logger: Logger,
  runBackfill?: ClaimedBackfillRunner,
): (event: SqsEvent) => Promise<SqsBatchResponse> {
  return async (event) => {
    const outcomes = await Promise.all(
      event.Records.map(async (record) => ({
        id: record.messageId,
        outcome: await handleTenantMessage(
          record.body,
          run,
          logger,
          undefined,
          runBackfill,
          hintOf(record.messageAttributes?.[QUIET_ATTRIBUTE]?.stringValue),
        ),
      })),
    );
    return {
      batchItemFailures: outcomes.filter((o) => o.outcome === 'retry').map((o) => ({ itemIdentifier: o.id })),
    };
  };
}
