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
const next = { positionMs: 5_000, idsAtPosition: ['a1'], updatedAtMs: 1 };

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
    ['an empty id', { ...next, idsAtPosition: [''] }],
    ['too many ids', { ...next, idsAtPosition: Array.from({ length: 1001 }, (_, i) => `id-${i}`) }],
  ])('refuses %s before calling DynamoDB', async (_label, cursor) => {
    const { mock, store } = setup();

    await expect(store.advanceCursor(lease, 's1', cursor)).rejects.toBeInstanceOf(RangeError);
    expect(mock.calls()).toHaveLength(0);
  });
});
