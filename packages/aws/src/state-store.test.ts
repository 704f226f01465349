import {
  DynamoDBClient,
  GetItemCommand,
  ProvisionedThroughputExceededException,
  ResourceNotFoundException,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  type TransactWriteItemsCommandInput,
} from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { createStateStore, type Lease, StateError } from './state-store.ts';

// Unit tests for answers DynamoDB Local and moto cannot be made to give on demand (persistent
// transaction conflicts, throttling, a condition failure without the old item). The real
// servers run the rest in state-store.int.test.ts.

const lease: Lease = { tenantId: 't1', owner: 'worker-a', epoch: 3, expiresAtMs: 10_000 };
const next = { positionMs: 5_000, updatedAtMs: 1 };

function setup() {
  const client = new DynamoDBClient({ region: 'us-east-1' });
  const mock = mockClient(client);
  const store = createStateStore({ client, tableName: 'state', clock: () => 1_000, conflictAttempts: 3 });
  return { mock, store };
}

const cancelled = (reasons: TransactionCanceledException['CancellationReasons']) =>
  new TransactionCanceledException({
    $metadata: { httpStatusCode: 400 },
    message: 'cancelled',
    CancellationReasons: reasons,
  });

const writeIdOf = (input: TransactWriteItemsCommandInput): string =>
  input.TransactItems?.[1]?.Update?.ExpressionAttributeValues?.[':writeId']?.S ?? '';

describe('advanceCursor (error paths)', () => {
  it('gives up with a retryable CONFLICT when transactions keep conflicting', async () => {
    const { mock, store } = setup();
    mock
      .on(TransactWriteItemsCommand)
      .rejects(cancelled([{ Code: 'None' }, { Code: 'TransactionConflict' }]));

    const error = await store.advanceCursor(lease, 's1', next).catch((err: unknown) => err);

    expect(error).toBeInstanceOf(StateError);
    expect(error).toMatchObject({ code: 'CONFLICT', retryable: true });
    expect(mock.commandCalls(TransactWriteItemsCommand)).toHaveLength(3);
  });

  it('recognises its own earlier write when the lease check fails and no old item comes back', async () => {
    const { mock, store } = setup();
    let writeId = '';
    mock.on(TransactWriteItemsCommand).callsFake((input: TransactWriteItemsCommandInput) => {
      writeId = writeIdOf(input);
      throw cancelled([{ Code: 'ConditionalCheckFailed' }, { Code: 'None' }]);
    });
    mock.on(GetItemCommand).callsFake(() => ({
      Item: marshall({ pk: 'TENANT#t1', sk: 'CURSOR#s1', ...next, version: 4, writeId }),
    }));

    const outcome = await store.advanceCursor(lease, 's1', next);

    expect(outcome).toBe('advanced');
    expect(mock.commandCalls(GetItemCommand)).toHaveLength(1);
  });

  it('re-reads the cursor when its condition failed without the old item, and reports the regression', async () => {
    const { mock, store } = setup();
    mock
      .on(TransactWriteItemsCommand)
      .rejects(cancelled([{ Code: 'None' }, { Code: 'ConditionalCheckFailed' }]));
    mock.on(GetItemCommand).resolves({
      Item: marshall({
        pk: 'TENANT#t1',
        sk: 'CURSOR#s1',
        positionMs: 9_000,
        idsAtPosition: [],
        updatedAtMs: 1,
        version: 7,
      }),
    });

    const error = await store.advanceCursor(lease, 's1', next).catch((err: unknown) => err);

    expect(error).toMatchObject({ name: 'StateError', code: 'CURSOR_REGRESSION', retryable: false });
  });

  it('reports LEASE_LOST with the current holder when the lease check fails', async () => {
    const { mock, store } = setup();
    mock.on(TransactWriteItemsCommand).rejects(
      cancelled([
        {
          Code: 'ConditionalCheckFailed',
          Item: marshall({
            pk: 'TENANT#t1',
            sk: 'LEASE',
            owner: 'worker-b',
            epoch: 4,
            leaseExpiresAtMs: 99_000,
          }),
        },
        { Code: 'None' },
      ]),
    );
    mock.on(GetItemCommand).resolves({});

    const error = await store.advanceCursor(lease, 's1', next).catch((err: unknown) => err);

    expect(error).toMatchObject({ code: 'LEASE_LOST' });
    expect((error as Error).message).toContain('owner worker-b, epoch 4');
  });

  it.each([
    [
      'throttled',
      new ProvisionedThroughputExceededException({
        $metadata: { httpStatusCode: 400 },
        message: 'slow down',
      }),
      true,
    ],
    [
      'a missing table',
      new ResourceNotFoundException({ $metadata: { httpStatusCode: 400 }, message: 'no table' }),
      false,
    ],
  ])('reports %s as UNAVAILABLE with the right retryability', async (_label, err, retryable) => {
    const { mock, store } = setup();
    mock.on(TransactWriteItemsCommand).rejects(err);

    const error = await store.advanceCursor(lease, 's1', next).catch((e: unknown) => e);

    expect(error).toMatchObject({ code: 'UNAVAILABLE', retryable });
    expect((error as Error).cause).toBe(err);
  });

  it.each([
    ['a negative position', { ...next, positionMs: -1 }],
    ['a fractional position', { ...next, positionMs: 1.5 }],
    ['a position that is not a number', { ...next, positionMs: Number.NaN }],
  ])('refuses %s before calling DynamoDB', async (_label, cursor) => {
    const { mock, store } = setup();

    await expect(store.advanceCursor(lease, 's1', cursor)).rejects.toBeInstanceOf(RangeError);
    expect(mock.calls()).toHaveLength(0);
  });

  it('refuses a seen entry without an id or a finite time before calling DynamoDB', async () => {
    const { mock, store } = setup();

    await expect(
      store.advanceCursor(lease, 's1', next, { seen: [{ id: '', timestampMs: 1 }] }),
    ).rejects.toBeInstanceOf(RangeError);
    await expect(
      store.advanceCursor(lease, 's1', next, { seen: [{ id: 'a', timestampMs: Number.NaN }] }),
    ).rejects.toBeInstanceOf(RangeError);
    expect(mock.calls()).toHaveLength(0);
  });

  it('splits a large seen-set into segments under the item limit and fenced transactions under the request limits', async () => {
    const { mock, store } = setup();
    const writes: TransactWriteItemsCommandInput[] = [];
    mock.on(TransactWriteItemsCommand).callsFake((input: TransactWriteItemsCommandInput) => {
      writes.push(input);
      return {};
    });
    // 300,000 ids in one minute: twelve segments of at most 25,000 digests.
    const seen = Array.from({ length: 300_000 }, (_, i) => ({
      id: `act-${i}`,
      timestampMs: 60_000 + (i % 60_000),
    }));

    await store.advanceCursor(lease, 's1', next, { seen });

    const puts = writes.flatMap((w) => w.TransactItems ?? []).filter((item) => item.Put !== undefined);
    const digests = puts.reduce((n, item) => n + (item.Put?.Item?.d?.B?.byteLength ?? 0) / 12, 0);
    expect(digests).toBe(300_000);
    for (const item of puts) expect(item.Put?.Item?.d?.B?.byteLength ?? 0).toBeLessThanOrEqual(300_000);
    for (const w of writes) {
      expect(w.TransactItems?.length ?? 0).toBeLessThanOrEqual(100);
      // Every transaction checks the lease first.
      expect(w.TransactItems?.[0]?.ConditionCheck?.Key).toEqual(marshall({ pk: 'TENANT#t1', sk: 'LEASE' }));
      const bytes = (w.TransactItems ?? []).reduce(
        (n, item) => n + (item.Put?.Item?.d?.B?.byteLength ?? 0),
        0,
      );
      expect(bytes).toBeLessThan(4_000_000);
    }
    // The cursor is written last, after every segment.
    expect(writes.at(-1)?.TransactItems?.[1]?.Update).toBeDefined();
    // 300,000 SHA-256 digests: about 4 s of CPU on a loaded 2-core machine, past the default 5 s at times.
  }, 30_000);
});
