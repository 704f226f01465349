import {
  CreateTableCommand,
  type DynamoDBClient,
  GetItemCommand,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { observeServerClock, type ServerClock } from './server-clock.ts';
import { createCursorStore } from './state-cursor.ts';
import { errorName, HeldLeases, type StateTable, unavailable } from './state-dynamo.ts';
import { createHealthStore } from './state-health.ts';
import { createLeaseStore } from './state-lease.ts';
import { StateError, type StateStore } from './state-model.ts';

export { INLINE_CURSORS_MAX } from './state-cursor.ts';
export * from './state-model.ts';
export { SEEN_LIMITS, seenDigest } from './state-seen.ts';
export { advanceCursorUnits, itemBytes, leaseItem, leaseWriteUnits, seenReadUnits } from './state-units.ts';

export interface StateStoreOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** Epoch milliseconds; default `serverClock.now`, else Date.now. Lease expiry compares against this clock. */
  readonly clock?: (() => number) | undefined;
  /**
   * AWS's clock as this process reads it (ADR 0135): every answer of `client` corrects it, and no lease
   * is taken before one was read. What production passes (the runs' clock too); tests that drive a
   * clock of their own leave it out.
   */
  readonly serverClock?: ServerClock | undefined;
  /**
   * Whether cursor writes may go to the lease item (ADR 0126); default true. False reads both homes
   * and writes cursor items only: the first phase of the rollout, while workers of a version before
   * ADR 0126 (which read only cursor items) may still run.
   */
  readonly inlineCursors?: boolean | undefined;
  /** Attempts on a transaction conflict before CONFLICT is thrown; default 3. */
  readonly conflictAttempts?: number | undefined;
  /**
   * How long DynamoDB TTL keeps a seen-set segment after its bucket ends; default 8 days (past
   * Vaikora's 7-day retention, after which no re-read can meet its ids). A pruned segment is no
   * longer read (ADR 0112); TTL deletes it, and the segments of streams that stopped.
   */
  readonly seenRetentionMs?: number | undefined;
}

const DEFAULT_SEEN_RETENTION_MS = 8 * 24 * 3600_000;

/**
 * The worker's state on DynamoDB (one table, design in ADR 0050): a lease item per tenant that holds
 * the cursors of its first streams (ADR 0126), a cursor item for any further stream, and seen-set
 * segments per stream, under the same partition key.
 */
export function createStateStore(options: StateStoreOptions): StateStore {
  const { serverClock } = options;
  if (serverClock !== undefined) observeServerClock(options.client, serverClock);
  const table: StateTable = {
    client: options.client,
    TableName: options.tableName,
    clock: options.clock ?? serverClock?.now ?? Date.now,
    beforeAcquire: serverClock === undefined ? undefined : readServiceClock(options, serverClock),
    conflictAttempts: options.conflictAttempts ?? 3,
    inlineCursors: options.inlineCursors ?? true,
    held: new HeldLeases(),
  };
  return {
    ensureTable: () => ensureTable(table),
    ...createLeaseStore(table),
    ...createCursorStore(
      table,
      options.seenRetentionMs ?? DEFAULT_SEEN_RETENTION_MS,
      options.inlineCursors ?? true,
    ),
    ...createHealthStore(table),
  };
}

/**
 * What runs before a lease is taken when the store judges leases by the service's clock (ADR 0135):
 * until one answer of the service was read, a read of a key no item has (0.5 read units), shared by
 * every acquisition waiting for it, and asked again (3 times at most per acquisition) when it brought
 * no answer. Without one the acquisition fails as UNAVAILABLE: no lease is written by a clock that
 * was never checked.
 */
function readServiceClock(options: StateStoreOptions, clock: ServerClock): () => Promise<void> {
  let asking: Promise<unknown> | undefined;
  return async () => {
    for (let attempt = 0; !clock.sampled(); attempt++) {
      if (attempt === 3) {
        throw new StateError('UNAVAILABLE', 'the state store could not read the service clock', true);
      }
      asking ??= options.client
        .send(
          new GetItemCommand({
            TableName: options.tableName,
            Key: { pk: { S: 'CLOCK' }, sk: { S: 'CLOCK' } },
          }),
        )
        .catch(() => undefined)
        .finally(() => {
          asking = undefined;
        });
      await asking;
    }
  };
}

/** Creates the table if missing and turns TTL on (local and tests; production creates it with IaC). */
async function ensureTable({ client, TableName }: StateTable): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
      }),
    );
  } catch (err) {
    if (errorName(err) !== 'ResourceInUseException') throw unavailable(err);
  }
  await waitUntilTableExists({ client, maxWaitTime: 60, minDelay: 1, maxDelay: 2 }, { TableName });
  try {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName,
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      }),
    );
  } catch (err) {
    // Already enabled is the only ValidationException UpdateTimeToLive gives for a valid table.
    if (errorName(err) !== 'ValidationException') throw unavailable(err);
  }
}
