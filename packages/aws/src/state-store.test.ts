import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  ProvisionedThroughputExceededException,
  PutItemCommand,
  QueryCommand,
  type QueryCommandInput,
  ResourceNotFoundException,
  TransactionCanceledException,
  TransactionConflictException,
  TransactWriteItemsCommand,
  type TransactWriteItemsCommandInput,
  UpdateItemCommand,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { type CursorItem, mergeCursor } from './state-cursor.ts';
import {
  advanceCursorUnits,
  type CursorHome,
  createStateStore,
  INLINE_CURSORS_MAX,
  itemBytes,
  type Lease,
  StateError,
  type StateStore,
} from './state-store.ts';

// Unit tests for answers DynamoDB Local and moto cannot be made to give on demand (persistent
// transaction conflicts, throttling, a condition failure without the old item). The real
// servers run the rest in state-store.int.test.ts.

const lease: Lease = { tenantId: 't1', owner: 'worker-a', epoch: 3, expiresAtMs: 10_000 };
const next = { positionMs: 5_000, updatedAtMs: 1 };

/** A store over a mocked client whose cursor writes go to `home` (default: a cursor item, the transaction). */
function setup(home: CursorHome | undefined = 'item') {
  const client = new DynamoDBClient({ region: 'us-east-1' });
  const mock = mockClient(client);
  const inner = createStateStore({ client, tableName: 'state', clock: () => 1_000, conflictAttempts: 3 });
  const store: StateStore = {
    ...inner,
    advanceCursor: (l, streamId, cursor, options = {}) =>
      inner.advanceCursor(l, streamId, cursor, { home, ...options }),
  };
  return { mock, store };
}

/** The tenant query's answer: these items (cursor items, the lease item) and no more. */
const tenantItems = (...items: Record<string, unknown>[]) => ({ Items: items.map((item) => marshall(item)) });

const cancelled = (reasons: TransactionCanceledException['CancellationReasons']) =>
  new TransactionCanceledException({
    $metadata: { httpStatusCode: 400 },
    message: 'cancelled',
    CancellationReasons: reasons,
  });

const writeIdOf = (input: TransactWriteItemsCommandInput): string =>
  input.TransactItems?.[1]?.Update?.ExpressionAttributeValues?.[':writeId']?.S ?? '';

/** The order in which the store sends its seen-set puts and its transactions, as the mock answers them. */
function requestOrder(mock: ReturnType<typeof setup>['mock']): string[] {
  const order: string[] = [];
  mock.on(PutItemCommand).callsFake(() => {
    order.push('put');
    return {};
  });
  mock.on(TransactWriteItemsCommand).callsFake(() => {
    order.push('transaction');
    return {};
  });
  return order;
}

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
    mock
      .on(QueryCommand)
      .callsFake(() => tenantItems({ pk: 'TENANT#t1', sk: 'CURSOR#s1', ...next, version: 4, writeId }));

    const outcome = await store.advanceCursor(lease, 's1', next);

    expect(outcome).toBe('advanced');
    expect(mock.commandCalls(QueryCommand)).toHaveLength(1);
  });

  it('re-reads the cursor when its condition failed without the old item, and reports the regression', async () => {
    const { mock, store } = setup();
    mock
      .on(TransactWriteItemsCommand)
      .rejects(cancelled([{ Code: 'None' }, { Code: 'ConditionalCheckFailed' }]));
    mock.on(QueryCommand).resolves(
      tenantItems({
        pk: 'TENANT#t1',
        sk: 'CURSOR#s1',
        positionMs: 9_000,
        idsAtPosition: [],
        updatedAtMs: 1,
        version: 7,
      }),
    );

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
    mock.on(QueryCommand).resolves({ Items: [] });

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

  it('stores the seen-set before the cursor: one put per segment outside the transaction, then the lease check and the cursor', async () => {
    const { mock, store } = setup();
    const order = requestOrder(mock);
    // A busy run: 100 actions over 5 minutes, six minute buckets.
    const seen = Array.from({ length: 100 }, (_, i) => ({
      id: `act-${i}`,
      timestampMs: 600_000 + i * 3_000,
    }));

    await store.advanceCursor(lease, 's1', next, { seen });

    expect(order).toEqual(['put', 'transaction']);
    const [put] = mock.commandCalls(PutItemCommand);
    expect(put?.args[0].input.Item?.d?.B?.byteLength).toBe(100 * 12);
    expect(put?.args[0].input.ConditionExpression).toBeUndefined();
    const items = mock.commandCalls(TransactWriteItemsCommand)[0]?.args[0].input.TransactItems ?? [];
    // The lease item's part checks the lease and sets its query flag (ADR 0127); then the cursor item.
    expect(items.map((item) => Object.keys(item)[0])).toEqual(['Update', 'Update']);
    expect(items[0]?.Update?.UpdateExpression).toBe('REMOVE #q');
  });

  it('leaves the cursor where it is when its seen-set could not be stored', async () => {
    const { mock, store } = setup();
    mock.on(PutItemCommand).rejects(
      new ProvisionedThroughputExceededException({
        $metadata: { httpStatusCode: 400 },
        message: 'slow down',
      }),
    );

    const error = await store
      .advanceCursor(lease, 's1', next, { seen: [{ id: 'a', timestampMs: 4_000 }] })
      .catch((err: unknown) => err);

    expect(error).toMatchObject({ name: 'StateError', code: 'UNAVAILABLE', retryable: true });
    expect(mock.commandCalls(TransactWriteItemsCommand)).toHaveLength(0);
  });

  it('splits a large seen-set into segments under the item limit, all stored before the cursor', async () => {
    const { mock, store } = setup();
    const order = requestOrder(mock);
    // 300,000 ids in one minute: twelve segments of at most 25,000 digests.
    const seen = Array.from({ length: 300_000 }, (_, i) => ({
      id: `act-${i}`,
      timestampMs: 60_000 + (i % 60_000),
    }));

    await store.advanceCursor(lease, 's1', next, { seen });

    const puts = mock.commandCalls(PutItemCommand).map((c) => c.args[0].input.Item);
    const digests = puts.reduce((n, item) => n + (item?.d?.B?.byteLength ?? 0) / 12, 0);
    expect(digests).toBe(300_000);
    expect(puts).toHaveLength(12);
    for (const item of puts) expect(item?.d?.B?.byteLength ?? 0).toBeLessThanOrEqual(300_000);
    expect(new Set(puts.map((item) => item?.sk?.S)).size).toBe(12);
    expect(order.at(-1)).toBe('transaction');
    expect(order.filter((o) => o === 'transaction')).toHaveLength(1);
    // 300,000 SHA-256 digests: about 4 s of CPU on a loaded 2-core machine, past the default 5 s at times.
  }, 30_000);

  it('keeps ids more than 15 minutes apart in separate segments, each keyed by the minute of its newest id', async () => {
    const { mock, store } = setup();
    const base = 1_800_000_000_000;

    await store.advanceCursor(lease, 's1', next, {
      seen: [
        { id: 'a', timestampMs: base },
        { id: 'b', timestampMs: base + 14 * 60_000 },
        { id: 'far', timestampMs: base + 3_600_000 },
      ],
    });

    const puts = mock.commandCalls(PutItemCommand).map((c) => c.args[0].input.Item);
    expect(
      puts.map((item) => [item?.fromMs?.N, item?.bucketMs?.N, (item?.d?.B?.byteLength ?? 0) / 12]),
    ).toEqual([
      [String(base), String(base + 14 * 60_000), 2],
      [String(base + 3_600_000), String(base + 3_600_000), 1],
    ]);
    expect(puts[0]?.sk?.S?.startsWith(`SEEN#s1#00${base + 14 * 60_000}#`)).toBe(true);
  });

  it('prunes without deletes: the cursor update records where the seen-set now starts', async () => {
    const { mock, store } = setup();
    const segment = (endMs: number) => ({
      key: `SEEN#s1#${endMs}`,
      bucketStartMs: endMs - 60_000,
      bucketEndMs: endMs,
      count: 3,
    });

    await store.advanceCursor(lease, 's1', next, {
      prune: [segment(180_000), segment(240_000), segment(120_000)],
    });

    const items = mock.commandCalls(TransactWriteItemsCommand)[0]?.args[0].input.TransactItems ?? [];
    // The lease item's part checks the lease and sets its query flag (ADR 0127); then the cursor item.
    expect(items.map((item) => Object.keys(item)[0])).toEqual(['Update', 'Update']);
    expect(items[0]?.Update?.UpdateExpression).toBe('REMOVE #q');
    expect(items[1]?.Update?.UpdateExpression).toContain('seenFloorMs = :floor');
    expect(items[1]?.Update?.ExpressionAttributeValues?.[':floor']).toEqual({ N: '240000' });
    expect(mock.commandCalls(PutItemCommand)).toHaveLength(0);
  });

  it('reads the seen-set from where the cursor says it starts, and no segment that ends before', async () => {
    const { mock, store } = setup();
    const cursorItem = tenantItems({
      pk: 'TENANT#t1',
      sk: 'CURSOR#s1',
      positionMs: 900_000,
      updatedAtMs: 1,
      version: 2,
      seenFloorMs: 240_000,
    });
    const segment = (bucketMs: number, digests: number) => ({
      pk: { S: 'TENANT#t1' },
      sk: { S: `SEEN#s1#${String(bucketMs).padStart(15, '0')}#w#0` },
      bucketMs: { N: String(bucketMs) },
      d: { B: new Uint8Array(digests * 12).fill(bucketMs / 60_000) },
    });
    mock
      .on(QueryCommand)
      .callsFake((input: QueryCommandInput) =>
        input.ExpressionAttributeValues?.[':from']?.S === 'CURSOR#'
          ? cursorItem
          : { Items: [segment(120_000, 1), segment(240_000, 2)] },
      );

    const stream = await store.getStream('t1', 's1');

    const query = mock.commandCalls(QueryCommand)[1]?.args[0].input;
    expect(query?.ExpressionAttributeValues?.[':from']).toEqual({ S: 'SEEN#s1#000000000240000' });
    expect(stream.segments.map((s) => [s.bucketStartMs, s.bucketEndMs, s.count])).toEqual([
      [240_000, 300_000, 2],
    ]);
    expect(stream.seen.size).toBe(1);
  });
});

describe('advanceCursor into the lease item (ADR 0126)', () => {
  const held = { pk: 'TENANT#t1', sk: 'LEASE', owner: 'worker-a', epoch: 3, leaseExpiresAtMs: 10_000 };
  const refusedWith = (item: Record<string, unknown>) =>
    new ConditionalCheckFailedException({
      $metadata: { httpStatusCode: 400 },
      message: 'The conditional request failed',
      Item: marshall(item, { removeUndefinedValues: true }),
    });
  const writeIdOfUpdate = (input: UpdateItemCommandInput) =>
    input.ExpressionAttributeValues?.[':writeId']?.S ??
    input.ExpressionAttributeValues?.[':entry']?.M?.w?.S ??
    '';

  it('moves an inline cursor with one conditional UpdateItem fenced by the lease in the same item', async () => {
    const { mock, store } = setup('lease');
    mock.on(UpdateItemCommand).resolves({});

    const outcome = await store.advanceCursor(lease, 's1', next, {
      prune: [{ key: 'k', bucketStartMs: 0, bucketEndMs: 60_000, count: 1 }],
    });

    const input = mock.commandCalls(UpdateItemCommand)[0]?.args[0].input;
    expect(outcome).toBe('advanced');
    expect(mock.commandCalls(TransactWriteItemsCommand)).toHaveLength(0);
    expect(input?.Key).toEqual(marshall({ pk: 'TENANT#t1', sk: 'LEASE' }));
    expect(input?.ConditionExpression).toBe(
      '#owner = :owner AND epoch = :epoch AND leaseExpiresAtMs > :now AND #c.#s.p <= :pos',
    );
    expect(input?.UpdateExpression).toContain('#c.#s.f = :floor');
    expect(input?.ExpressionAttributeNames).toMatchObject({ '#c': 'c', '#s': 's1' });
  });

  it('makes the entry when the refused update shows none and the item has room, in one more call', async () => {
    const { mock, store } = setup('lease');
    mock
      .on(UpdateItemCommand)
      .rejectsOnce(refusedWith({ ...held, c: {} }))
      .resolves({});

    const outcome = await store.advanceCursor(lease, 's1', next);

    const calls = mock.commandCalls(UpdateItemCommand).map((c) => c.args[0].input);
    expect(outcome).toBe('advanced');
    expect(calls.map((input) => input.UpdateExpression)).toEqual([
      expect.stringContaining('#c.#s.p'),
      'SET #c.#s = :entry',
    ]);
    expect(calls[1]?.ConditionExpression).toContain('attribute_not_exists(#c.#s) AND size(#c) < :max');
  });

  it('writes a cursor item in a transaction when the lease item is full', async () => {
    const { mock, store } = setup('new');
    const full = Object.fromEntries(
      Array.from({ length: INLINE_CURSORS_MAX }, (_, i) => [
        `other-${i}`,
        { p: 1, u: 1, v: 1, w: 'x', e: 3 },
      ]),
    );
    mock.on(UpdateItemCommand).rejects(refusedWith({ ...held, c: full }));
    mock.on(TransactWriteItemsCommand).resolves({});

    const outcome = await store.advanceCursor(lease, 's1', next);

    expect(outcome).toBe('advanced');
    expect(mock.commandCalls(UpdateItemCommand)).toHaveLength(1);
    expect(mock.commandCalls(TransactWriteItemsCommand)).toHaveLength(1);
  });

  it.each([
    ['taken by another owner', { owner: 'worker-b', epoch: 4 }],
    ['acquired again since (a later epoch)', { epoch: 4 }],
    ['expired', { leaseExpiresAtMs: 1_000 }],
  ])('reports LEASE_LOST when the lease in the returned item is %s', async (_label, change) => {
    const { mock, store } = setup('lease');
    mock
      .on(UpdateItemCommand)
      .rejects(refusedWith({ ...held, ...change, c: { s1: { p: 1, u: 1, v: 1, w: 'x', e: 3 } } }));

    const error = await store.advanceCursor(lease, 's1', next).catch((err: unknown) => err);

    expect(error).toMatchObject({ name: 'StateError', code: 'LEASE_LOST', retryable: false });
    expect(mock.commandCalls(UpdateItemCommand)).toHaveLength(1);
  });

  it('reports LEASE_LOST when the refusal brings no item (the lease item is gone)', async () => {
    const { mock, store } = setup('lease');
    mock
      .on(UpdateItemCommand)
      .rejects(
        new ConditionalCheckFailedException({ $metadata: { httpStatusCode: 400 }, message: 'failed' }),
      );

    const error = await store.advanceCursor(lease, 's1', next).catch((err: unknown) => err);

    expect(error).toMatchObject({ code: 'LEASE_LOST' });
    expect((error as Error).message).toContain('no lease is stored');
  });

  it('retries an inline write that met a transaction on the lease item', async () => {
    const { mock, store } = setup('lease');
    mock
      .on(UpdateItemCommand)
      .rejectsOnce(
        new TransactionConflictException({ $metadata: { httpStatusCode: 400 }, message: 'conflict' }),
      )
      .resolves({});

    await expect(store.advanceCursor(lease, 's1', next)).resolves.toBe('advanced');
    expect(mock.commandCalls(UpdateItemCommand)).toHaveLength(2);
  });

  it('reports CURSOR_REGRESSION when the inline cursor is ahead', async () => {
    const { mock, store } = setup('lease');
    mock
      .on(UpdateItemCommand)
      .rejects(refusedWith({ ...held, c: { s1: { p: 9_000, u: 1, v: 7, w: 'x', e: 3 } } }));

    const error = await store.advanceCursor(lease, 's1', next).catch((err: unknown) => err);

    expect(error).toMatchObject({ code: 'CURSOR_REGRESSION', retryable: false });
    expect((error as Error).message).toContain('cursor is at 9000');
  });

  it('recognises its own write in the returned item (an SDK retry after a lost answer), even past the lease', async () => {
    const { mock, store } = setup('new');
    mock.on(UpdateItemCommand).callsFake((input: UpdateItemCommandInput) => {
      const w = writeIdOfUpdate(input);
      throw refusedWith({ ...held, owner: 'worker-b', c: { s1: { p: 5_000, u: 1, v: 1, w, e: 3 } } });
    });

    await expect(store.advanceCursor(lease, 's1', next)).resolves.toBe('advanced');
  });

  it('gives up with a retryable CONFLICT when the item keeps changing under the write', async () => {
    const { mock, store } = setup('lease');
    // The entry is there and behind each time, yet each update is refused: a writer racing on the same lease.
    mock
      .on(UpdateItemCommand)
      .rejects(refusedWith({ ...held, c: { s1: { p: 1, u: 1, v: 1, w: 'x', e: 3 } } }));

    const error = await store.advanceCursor(lease, 's1', next).catch((err: unknown) => err);

    expect(error).toMatchObject({ code: 'CONFLICT', retryable: true });
    expect(mock.commandCalls(UpdateItemCommand)).toHaveLength(4);
  });

  it('reports a throttled write as UNAVAILABLE and retryable', async () => {
    const { mock, store } = setup('lease');
    const err = new ProvisionedThroughputExceededException({
      $metadata: { httpStatusCode: 400 },
      message: 'slow',
    });
    mock.on(UpdateItemCommand).rejects(err);

    const error = await store.advanceCursor(lease, 's1', next).catch((e: unknown) => e);

    expect(error).toMatchObject({ code: 'UNAVAILABLE', retryable: true });
  });
});

describe('mergeCursor (a stream with a cursor in both homes, ADR 0126)', () => {
  const cursor = (positionMs: number, extra: Partial<CursorItem> = {}): CursorItem => ({
    positionMs,
    idsAtPosition: [],
    recentIds: [],
    updatedAtMs: 1,
    version: 1,
    ...extra,
  });

  it.each([
    [
      'the lease item ahead',
      cursor(9_000, { seenFloorMs: 2_000, writeId: 'in' }),
      cursor(5_000, { seenFloorMs: 4_000 }),
      9_000,
      'in',
    ],
    [
      'the cursor item ahead',
      cursor(5_000, { seenFloorMs: 4_000, writeId: 'in' }),
      cursor(9_000, { seenFloorMs: 2_000, writeId: 'it' }),
      9_000,
      'it',
    ],
  ])(
    "with %s: the further position, the higher floor, the item's legacy ids",
    (_label, inline, item, position, writeId) => {
      const merged = mergeCursor(inline, { ...item, idsAtPosition: ['legacy'] });

      expect(merged).toMatchObject({
        positionMs: position,
        seenFloorMs: 4_000,
        writeId,
        idsAtPosition: ['legacy'],
      });
    },
  );

  it("at the same position, the later write's digest and stuck findings are read (ADR 0133)", () => {
    const stuck = (runs: number) => [{ key: 'AbCdEfGhIjKlMnOpQrSt_-', actionMs: 1_100, runs, sinceMs: 100 }];
    const olderInline = cursor(1_000, { updatedAtMs: 1_000, stuck: stuck(1), windowDigest: 'old' });
    const newerItem = cursor(1_000, { updatedAtMs: 9_000, stuck: stuck(5) });
    expect(mergeCursor(olderInline, newerItem)).toMatchObject({ stuck: stuck(5), updatedAtMs: 9_000 });
    expect(mergeCursor(olderInline, newerItem)?.windowDigest).toBeUndefined();
    expect(mergeCursor({ ...newerItem, updatedAtMs: 10_000 }, olderInline)?.stuck).toEqual(stuck(5));
  });

  it('keeps a floor that only one home has, and the one home when there is one', () => {
    expect(mergeCursor(cursor(9_000), cursor(5_000, { seenFloorMs: 3_000 }))?.seenFloorMs).toBe(3_000);
    expect(mergeCursor(cursor(9_000), cursor(5_000))?.seenFloorMs).toBeUndefined();
    expect(mergeCursor(undefined, cursor(5_000))?.positionMs).toBe(5_000);
    expect(mergeCursor(cursor(7_000), undefined)?.positionMs).toBe(7_000);
    expect(mergeCursor(undefined, undefined)).toBeNull();
  });
});

describe('advanceCursorUnits', () => {
  it('counts the write units of the requests advanceCursor sends', async () => {
    const { mock, store } = setup();
    const seen = Array.from({ length: 100 }, (_, i) => ({
      id: `act-${i}`,
      timestampMs: 600_000 + i * 3_000,
    }));
    const prune = [{ key: 'k', bucketStartMs: 0, bucketEndMs: 60_000, count: 9 }];

    await store.advanceCursor(lease, 's1', next, { seen, prune });
    const counted = advanceCursorUnits(lease, 's1', next, { seen, prune, home: 'item' });
    const inline = advanceCursorUnits(lease, 's1', next, { seen, prune });

    const [put] = mock.commandCalls(PutItemCommand);
    const putUnits = Math.ceil(itemBytes(put?.args[0].input.Item ?? {}) / 1024);
    // A busy run: one segment of 100 digests (1.2 KB: 2 units) and a transaction of two small items
    // (2 x 2 units); with the cursor in the lease item, one UpdateItem of it (1 unit).
    expect(putUnits).toBe(2);
    expect(counted).toEqual({ requests: 2, writeUnits: putUnits + 4 });
    expect(inline).toEqual({ requests: 2, writeUnits: putUnits + 1 });
  });

  it('sizes items as DynamoDB does: names, string and binary bytes, numbers by significant digits', () => {
    expect(itemBytes({ ab: { S: 'xyz' } })).toBe(5);
    expect(itemBytes({ d: { B: new Uint8Array(1200) } })).toBe(1201);
    // Trailing zeros of a number cost nothing: 18e11 has two significant digits.
    expect(itemBytes({ n: { N: '1800000000000' } })).toBe(1 + 1 + 1);
    expect(itemBytes({ n: { N: '123456' } })).toBe(1 + 3 + 1);
  });
});
