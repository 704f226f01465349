import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import {
  type AttributeValue,
  type CancellationReason,
  CreateTableCommand,
  type DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  type TransactWriteItem,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { classifyAwsError } from './errors.ts';

/** The closed set of reasons a state write can fail for. */
export const STATE_ERROR_CODES = [
  /** The lease is no longer ours: expired, taken over (higher epoch), or released. */
  'LEASE_LOST',
  /** The stored cursor is already past the one we tried to write. */
  'CURSOR_REGRESSION',
  /** A concurrent write won (same position with other ids, or a transaction conflict that persisted). */
  'CONFLICT',
  /** DynamoDB could not be reached or refused for a non-state reason (throttling, 5xx, missing table). */
  'UNAVAILABLE',
] as const;
export type StateErrorCode = (typeof STATE_ERROR_CODES)[number];

/** The error of the DynamoDB state adapter; the SDK error is kept as `cause`. */
export class StateError extends Error {
  override name = 'StateError';
  constructor(
    readonly code: StateErrorCode,
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A tenant's lease: `epoch` is the fencing token, higher on every acquisition. */
export interface Lease {
  readonly tenantId: string;
  readonly owner: string;
  readonly epoch: number;
  readonly expiresAtMs: number;
}

/**
 * Where a stream has got to (ADR 0004): every action older than `positionMs` minus the reader's
 * overlap is behind it for good; inside the overlap window and after it, an action is handled when
 * its id is in the stream's seen-set (`StreamState.seen`). `version` counts the accepted writes
 * (read-only: set by the store).
 */
export interface Cursor {
  readonly positionMs: number;
  /** Legacy (cursors written before the seen-set): ids handled at exactly `positionMs`. Read only. */
  readonly idsAtPosition?: readonly string[];
  /** Legacy: ids handled shortly before `positionMs`. Read only; folded into `seen`. */
  readonly recentIds?: readonly string[];
  readonly updatedAtMs: number;
  readonly version?: number;
}

/** An action id a run handled, with the action's time (which decides when it may be forgotten). */
export interface SeenEntry {
  readonly id: string;
  readonly timestampMs: number;
}

/** The ids a stream has handled in its window: exact for ids, held as 96-bit digests. */
export interface SeenSet {
  has(id: string): boolean;
  readonly size: number;
}

/** A stream's cursor and seen-set, read together. */
export interface StreamState {
  readonly cursor: Cursor | null;
  readonly seen: SeenSet;
  /** The stored segments of the seen-set: what `advanceCursor` may prune once they fall behind the window. */
  readonly segments: readonly SeenSegment[];
}

/** One stored segment of a seen-set: the ids of actions in one time bucket, written by one run. */
export interface SeenSegment {
  readonly key: string;
  /** Start of the bucket: every id in it belongs to an action at or after this time... */
  readonly bucketStartMs: number;
  /** ...and before this one. */
  readonly bucketEndMs: number;
  readonly count: number;
}

export interface AdvanceOptions {
  /** Ids handled by this run to remember (ADR 0004: everything handled at or after the next window's start). */
  readonly seen?: readonly SeenEntry[];
  /** Segments to delete in the same write (wholly behind the next window). */
  readonly prune?: readonly SeenSegment[];
}

export type AdvanceOutcome = 'advanced' | 'unchanged';

export interface StateStore {
  /** Creates the table if missing (local and tests; production creates it with IaC) and turns TTL on. */
  ensureTable(): Promise<void>;
  /** Takes the tenant's lease when it is free, expired or already ours; null when someone else holds it. */
  acquireLease(tenantId: string, owner: string, ttlMs: number): Promise<Lease | null>;
  /** Extends our lease; LEASE_LOST when another acquisition happened since (even if ours had expired unnoticed). */
  renewLease(lease: Lease, ttlMs: number): Promise<Lease>;
  /** Frees our lease for the next worker; false when it was no longer ours. */
  releaseLease(lease: Lease): Promise<boolean>;
  /** The lease as stored (null when the tenant never had one), for status and tests. */
  getLease(tenantId: string): Promise<Lease | null>;
  getCursor(tenantId: string, streamId: string): Promise<Cursor | null>;
  /** The stream's cursor and seen-set (two consistent reads, made at once). */
  getStream(tenantId: string, streamId: string): Promise<StreamState>;
  /**
   * Moves a stream's cursor forward (or keeps its position) and adds `options.seen` to its seen-set,
   * fenced by the lease (owner + epoch, unexpired) and monotonic (never behind the stored one).
   * Throws StateError LEASE_LOST, CURSOR_REGRESSION, CONFLICT or UNAVAILABLE.
   */
  advanceCursor(
    lease: Lease,
    streamId: string,
    next: Cursor,
    options?: AdvanceOptions,
  ): Promise<AdvanceOutcome>;
}

export interface StateStoreOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** Epoch milliseconds; default Date.now. Lease expiry compares against this clock. */
  readonly clock?: (() => number) | undefined;
  /** How long DynamoDB TTL keeps a lease item after the lease expires (keeps epochs monotonic); default 7 days. */
  readonly leaseRetentionMs?: number | undefined;
  /** Attempts on a transaction conflict before CONFLICT is thrown; default 3. */
  readonly conflictAttempts?: number | undefined;
  /**
   * How long DynamoDB TTL keeps a seen-set segment after its bucket ends; default 8 days (past
   * Vaikora's 7-day retention, after which no re-read can meet its ids). Runs prune segments
   * explicitly as their window passes; TTL only collects those of streams that stopped.
   */
  readonly seenRetentionMs?: number | undefined;
}

/**
 * Bounds of the seen-set (ADR 0004). Sized for 100 actions/s per agent over a 10-minute window
 * (60,000 ids, 720 KB of digests) and more: a segment holds at most `digestsPerSegment` digests
 * (300 KB, under DynamoDB's 400 KB item limit); one transaction carries at most `itemsPerWrite`
 * items and `bytesPerWrite` bytes (DynamoDB: 100 items, 4 MB); larger writes are split, segments first.
 */
export const SEEN_LIMITS = {
  digestBytes: 12,
  bucketMs: 60_000,
  digestsPerSegment: 25_000,
  itemsPerWrite: 90,
  bytesPerWrite: 3_000_000,
} as const;

/**
 * The seen-set's key for an action id: the first 96 bits of its SHA-256. Two ids of one stream's
 * window collide with probability about n²/2⁹⁷ (60,000 ids: 2.3e-20), far below any other failure.
 */
export function seenDigest(id: string): string {
  return createHash('sha256').update(id).digest().subarray(0, SEEN_LIMITS.digestBytes).toString('base64');
}

const LEASE_SK = 'LEASE';
const pkOf = (tenantId: string): string => `TENANT#${tenantId}`;
const cursorSk = (streamId: string): string => `CURSOR#${streamId}`;
const seenPrefix = (streamId: string): string => `SEEN#${streamId}#`;
const DEFAULT_RETENTION_MS = 7 * 24 * 3600_000;
const DEFAULT_SEEN_RETENTION_MS = 8 * 24 * 3600_000;

interface LeaseItem {
  owner: string;
  epoch: number;
  leaseExpiresAtMs: number;
}

interface CursorItem {
  positionMs: number;
  idsAtPosition: string[];
  recentIds: string[];
  updatedAtMs: number;
  version: number;
  writeId?: string;
}

/**
 * The worker's state on DynamoDB (one table, design in ADR 0050): a lease item per tenant and a
 * cursor item per stream, under the same partition key.
 */
export function createStateStore(options: StateStoreOptions): StateStore {
  const { client, tableName: TableName } = options;
  const clock = options.clock ?? Date.now;
  const retentionMs = options.leaseRetentionMs ?? DEFAULT_RETENTION_MS;
  const conflictAttempts = options.conflictAttempts ?? 3;
  const leaseKey = (tenantId: string) => marshall({ pk: pkOf(tenantId), sk: LEASE_SK });
  const seenRetentionMs = options.seenRetentionMs ?? DEFAULT_SEEN_RETENTION_MS;
  const ttlSeconds = (leaseExpiresAtMs: number) => Math.ceil((leaseExpiresAtMs + retentionMs) / 1000);

  /** One fenced transaction of seen-set segments written ahead of the cursor (large writes only). */
  const writeFenced = async (lease: Lease, items: () => TransactWriteItem[]): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        await client.send(new TransactWriteItemsCommand({ TransactItems: items() }));
        return;
      } catch (err) {
        const name = errorName(err);
        const [leaseReason] = reasonsOf(err);
        if (name === 'TransactionCanceledException' && leaseReason?.Code === 'ConditionalCheckFailed') {
          throw leaseLost(lease, leaseReason.Item);
        }
        const conflicted =
          name === 'TransactionConflictException' ||
          name === 'TransactionInProgressException' ||
          reasonsOf(err).some((r) => r?.Code === 'TransactionConflict');
        if (conflicted && attempt < conflictAttempts) {
          await pauseAfterConflict(attempt);
          continue;
        }
        throw conflicted ? conflict(err) : unavailable(err);
      }
    }
  };

  const readCursor = async (tenantId: string, streamId: string): Promise<CursorItem | null> => {
    const out = await call(() =>
      client.send(
        new GetItemCommand({
          TableName,
          Key: marshall({ pk: pkOf(tenantId), sk: cursorSk(streamId) }),
          ConsistentRead: true,
        }),
      ),
    );
    return out.Item === undefined ? null : toCursorItem(out.Item);
  };

  const readSegments = async (
    tenantId: string,
    streamId: string,
  ): Promise<{ digests: Set<string>; segments: SeenSegment[] }> => {
    const digests = new Set<string>();
    const segments: SeenSegment[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await call(() =>
        client.send(
          new QueryCommand({
            TableName,
            KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
            ExpressionAttributeValues: {
              ':pk': { S: pkOf(tenantId) },
              ':prefix': { S: seenPrefix(streamId) },
            },
            ConsistentRead: true,
            ...(start === undefined ? {} : { ExclusiveStartKey: start }),
          }),
        ),
      );
      for (const item of page.Items ?? []) {
        const bytes = item.d?.B;
        const key = item.sk?.S;
        const bucketStartMs = Number(item.bucketMs?.N);
        if (key === undefined || bytes === undefined || !Number.isFinite(bucketStartMs)) continue;
        const size = SEEN_LIMITS.digestBytes;
        const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        for (let at = 0; at + size <= buffer.length; at += size) {
          digests.add(buffer.toString('base64', at, at + size));
        }
        segments.push({
          key,
          bucketStartMs,
          bucketEndMs: bucketStartMs + SEEN_LIMITS.bucketMs,
          count: Math.floor(buffer.length / size),
        });
      }
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return { digests, segments };
  };

  return {
    async ensureTable() {
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
    },

    async acquireLease(tenantId, owner, ttlMs) {
      const now = clock();
      const expiresAtMs = now + ttlMs;
      for (let attempt = 1; ; attempt++) {
        try {
          const out = await client.send(
            new UpdateItemCommand({
              TableName,
              Key: leaseKey(tenantId),
              UpdateExpression:
                'SET #owner = :owner, epoch = if_not_exists(epoch, :zero) + :one, leaseExpiresAtMs = :exp, acquiredAtMs = :now, expiresAt = :ttl',
              ConditionExpression:
                'attribute_not_exists(epoch) OR leaseExpiresAtMs <= :now OR #owner = :owner',
              ExpressionAttributeNames: { '#owner': 'owner' },
              ExpressionAttributeValues: marshall({
                ':owner': owner,
                ':zero': 0,
                ':one': 1,
                ':exp': expiresAtMs,
                ':now': now,
                ':ttl': ttlSeconds(expiresAtMs),
              }),
              ReturnValues: 'ALL_NEW',
            }),
          );
          const item = toLeaseItem(out.Attributes ?? {});
          return { tenantId, owner: item.owner, epoch: item.epoch, expiresAtMs: item.leaseExpiresAtMs };
        } catch (err) {
          const name = errorName(err);
          if (name === 'ConditionalCheckFailedException') return null;
          // A holder's cursor transaction was checking the lease item: someone holds it.
          if (name === 'TransactionConflictException') {
            if (attempt < conflictAttempts) {
              await pauseAfterConflict(attempt);
              continue;
            }
            return null;
          }
          throw unavailable(err);
        }
      }
    },

    async renewLease(lease, ttlMs) {
      const expiresAtMs = clock() + ttlMs;
      for (let attempt = 1; ; attempt++) {
        try {
          await client.send(
            new UpdateItemCommand({
              TableName,
              Key: leaseKey(lease.tenantId),
              UpdateExpression: 'SET leaseExpiresAtMs = :exp, expiresAt = :ttl',
              // No expiry check: while owner and epoch are still ours, nobody acquired it since,
              // so extending an unnoticed expiry is safe (cursor writes did check it meanwhile).
              ConditionExpression: '#owner = :owner AND epoch = :epoch',
              ExpressionAttributeNames: { '#owner': 'owner' },
              ExpressionAttributeValues: marshall({
                ':owner': lease.owner,
                ':epoch': lease.epoch,
                ':exp': expiresAtMs,
                ':ttl': ttlSeconds(expiresAtMs),
              }),
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            }),
          );
          return { ...lease, expiresAtMs };
        } catch (err) {
          const name = errorName(err);
          if (name === 'ConditionalCheckFailedException') throw leaseLost(lease, itemOf(err));
          if (name === 'TransactionConflictException' && attempt < conflictAttempts) {
            await pauseAfterConflict(attempt);
            continue;
          }
          throw name === 'TransactionConflictException' ? conflict(err) : unavailable(err);
        }
      }
    },

    async releaseLease(lease) {
      try {
        await client.send(
          new UpdateItemCommand({
            TableName,
            Key: leaseKey(lease.tenantId),
            UpdateExpression: 'SET leaseExpiresAtMs = :zero, expiresAt = :ttl',
            ConditionExpression: '#owner = :owner AND epoch = :epoch',
            ExpressionAttributeNames: { '#owner': 'owner' },
            ExpressionAttributeValues: marshall({
              ':owner': lease.owner,
              ':epoch': lease.epoch,
              ':zero': 0,
              ':ttl': ttlSeconds(clock()),
            }),
          }),
        );
        return true;
      } catch (err) {
        if (errorName(err) === 'ConditionalCheckFailedException') return false;
        throw unavailable(err);
      }
    },

    async getLease(tenantId) {
      const out = await call(() =>
        client.send(new GetItemCommand({ TableName, Key: leaseKey(tenantId), ConsistentRead: true })),
      );
      if (out.Item === undefined) return null;
      const item = toLeaseItem(out.Item);
      return { tenantId, owner: item.owner, epoch: item.epoch, expiresAtMs: item.leaseExpiresAtMs };
    },

    async getCursor(tenantId, streamId) {
      const item = await readCursor(tenantId, streamId);
      return item === null ? null : publicCursor(item);
    },

    async getStream(tenantId, streamId) {
      const [item, { digests, segments }] = await Promise.all([
        readCursor(tenantId, streamId),
        readSegments(tenantId, streamId),
      ]);
      // Cursors written before the seen-set carry their ids in the item: they count as seen.
      if (item !== null)
        for (const id of [...item.idsAtPosition, ...item.recentIds]) digests.add(seenDigest(id));
      return {
        cursor: item === null ? null : publicCursor(item),
        seen: { has: (id: string) => digests.has(seenDigest(id)), size: digests.size },
        segments,
      };
    },

    async advanceCursor(lease, streamId, next, options = {}) {
      validateCursor(next);
      // Names this write, so that a condition failure caused by our own earlier attempt having
      // been applied (an SDK retry after a lost response) is recognised as success.
      const writeId = randomUUID();
      const leaseCheck = (now: number): TransactWriteItem => ({
        ConditionCheck: {
          TableName,
          Key: leaseKey(lease.tenantId),
          ConditionExpression: '#owner = :owner AND epoch = :epoch AND leaseExpiresAtMs > :now',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: marshall({ ':owner': lease.owner, ':epoch': lease.epoch, ':now': now }),
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      });
      const segmentPuts = seenSegments(options.seen ?? [], writeId).map(
        (segment): { item: TransactWriteItem; bytes: number } => ({
          bytes: segment.digests.length + 200,
          item: {
            Put: {
              TableName,
              Item: {
                pk: { S: pkOf(lease.tenantId) },
                sk: { S: `${seenPrefix(streamId)}${segment.suffix}` },
                bucketMs: { N: String(segment.bucketStartMs) },
                d: { B: segment.digests },
                writtenEpoch: { N: String(lease.epoch) },
                expiresAt: {
                  N: String(
                    Math.ceil((segment.bucketStartMs + SEEN_LIMITS.bucketMs + seenRetentionMs) / 1000),
                  ),
                },
              },
            },
          },
        }),
      );
      const prunes = (options.prune ?? []).map(
        (segment): TransactWriteItem => ({
          Delete: { TableName, Key: { pk: { S: pkOf(lease.tenantId) }, sk: { S: segment.key } } },
        }),
      );
      // Segments go first, each group fenced by the lease; a segment stored without its cursor
      // write only makes the seen-set larger (safe). The cursor and the prunes go in the last one.
      const room = SEEN_LIMITS.itemsPerWrite - 2;
      let group: TransactWriteItem[] = [];
      let groupBytes = 0;
      const groups: TransactWriteItem[][] = [];
      for (const put of segmentPuts) {
        if (group.length >= room || groupBytes + put.bytes > SEEN_LIMITS.bytesPerWrite) {
          groups.push(group);
          group = [];
          groupBytes = 0;
        }
        group.push(put.item);
        groupBytes += put.bytes;
      }
      for (const earlier of groups) await writeFenced(lease, () => [leaseCheck(clock()), ...earlier]);
      const last = [...group, ...prunes.slice(0, Math.max(0, room - group.length))];
      for (let attempt = 1; ; attempt++) {
        const now = clock();
        try {
          await client.send(
            new TransactWriteItemsCommand({
              TransactItems: [
                leaseCheck(now),
                {
                  Update: {
                    TableName,
                    Key: marshall({ pk: pkOf(lease.tenantId), sk: cursorSk(streamId) }),
                    UpdateExpression:
                      'SET positionMs = :pos, updatedAtMs = :updated, version = if_not_exists(version, :zero) + :one, writtenBy = :owner, writtenEpoch = :epoch, writeId = :writeId',
                    // Legacy id lists (cursors written before the seen-set) are left as they are: still read as seen.
                    // Monotonic: never behind the stored position. The same position is accepted: the
                    // write then only adds to the seen-set (a run that stopped early keeps what it sent).
                    ConditionExpression: 'attribute_not_exists(positionMs) OR positionMs <= :pos',
                    ExpressionAttributeValues: marshall({
                      ':pos': next.positionMs,
                      ':updated': next.updatedAtMs,
                      ':zero': 0,
                      ':one': 1,
                      ':owner': lease.owner,
                      ':epoch': lease.epoch,
                      ':writeId': writeId,
                    }),
                    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
                  },
                },
                ...last,
              ],
            }),
          );
          return 'advanced';
        } catch (err) {
          const name = errorName(err);
          if (name === 'TransactionCanceledException') {
            const [leaseReason, cursorReason] = reasonsOf(err);
            if (
              leaseReason?.Code === 'ConditionalCheckFailed' ||
              cursorReason?.Code === 'ConditionalCheckFailed'
            ) {
              // The cursor's old image comes with its own condition failure only; re-read otherwise.
              const stored =
                cursorReason?.Item !== undefined
                  ? toCursorItem(cursorReason.Item)
                  : await readCursor(lease.tenantId, streamId);
              if (stored?.writeId === writeId) return 'advanced';
              if (leaseReason?.Code === 'ConditionalCheckFailed') throw leaseLost(lease, leaseReason.Item);
              throw refused(stored, next);
            }
            const conflicted = [leaseReason, cursorReason].some((r) => r?.Code === 'TransactionConflict');
            if (conflicted && attempt < conflictAttempts) {
              await pauseAfterConflict(attempt);
              continue;
            }
            if (conflicted) throw conflict(err);
            throw unavailable(err);
          }
          if (name === 'TransactionConflictException' || name === 'TransactionInProgressException') {
            if (attempt < conflictAttempts) {
              await pauseAfterConflict(attempt);
              continue;
            }
            throw conflict(err);
          }
          throw unavailable(err);
        }
      }
    },
  };
}

/** A short jittered pause, so that two writers that just collided do not collide again at once. */
function pauseAfterConflict(attempt: number): Promise<void> {
  return delay(Math.round(10 * attempt * (0.5 + Math.random())));
}

/** Why the monotonic condition refused `next`, given the stored cursor. */
function refused(stored: CursorItem | null, next: Cursor): StateError {
  if (stored === null) {
    return new StateError('CONFLICT', 'the cursor write was refused but no cursor is stored', true);
  }
  return new StateError(
    'CURSOR_REGRESSION',
    `cursor is at ${stored.positionMs}; refusing ${next.positionMs}`,
    false,
  );
}

/** Segments of a seen-set write: the digests of each time bucket, at most `digestsPerSegment` each. */
function seenSegments(
  seen: readonly SeenEntry[],
  writeId: string,
): Array<{ suffix: string; bucketStartMs: number; digests: Uint8Array }> {
  const byBucket = new Map<number, Set<string>>();
  for (const { id, timestampMs } of seen) {
    if (typeof id !== 'string' || id.length === 0 || !Number.isFinite(timestampMs)) {
      throw new RangeError('seen entries need an id and a finite time');
    }
    const bucket = Math.floor(timestampMs / SEEN_LIMITS.bucketMs) * SEEN_LIMITS.bucketMs;
    let digests = byBucket.get(bucket);
    if (digests === undefined) {
      digests = new Set();
      byBucket.set(bucket, digests);
    }
    digests.add(seenDigest(id));
  }
  const out: Array<{ suffix: string; bucketStartMs: number; digests: Uint8Array }> = [];
  for (const [bucket, digests] of [...byBucket].sort((a, b) => a[0] - b[0])) {
    const all = [...digests];
    for (let part = 0; part * SEEN_LIMITS.digestsPerSegment < all.length; part++) {
      const slice = all.slice(
        part * SEEN_LIMITS.digestsPerSegment,
        (part + 1) * SEEN_LIMITS.digestsPerSegment,
      );
      const bytes = Buffer.allocUnsafe(slice.length * SEEN_LIMITS.digestBytes);
      slice.forEach((digest, i) => {
        bytes.write(digest, i * SEEN_LIMITS.digestBytes, SEEN_LIMITS.digestBytes, 'base64');
      });
      // Bucket first (zero-padded, so keys sort by time), then the write and the part: a retried write
      // puts the same items again, and two runs never overwrite each other's segments.
      out.push({
        suffix: `${String(bucket).padStart(15, '0')}#${writeId}#${part}`,
        bucketStartMs: bucket,
        digests: bytes,
      });
    }
  }
  return out;
}

function validateCursor(next: Cursor): void {
  if (!Number.isSafeInteger(next.positionMs) || next.positionMs < 0) {
    throw new RangeError('cursor positionMs must be a non-negative integer');
  }
  if (!Number.isFinite(next.updatedAtMs)) throw new RangeError('cursor updatedAtMs must be a number');
}

function toLeaseItem(item: Record<string, AttributeValue>): LeaseItem {
  const raw = unmarshall(item);
  return {
    owner: String(raw.owner),
    epoch: Number(raw.epoch),
    leaseExpiresAtMs: Number(raw.leaseExpiresAtMs),
  };
}

function toCursorItem(item: Record<string, AttributeValue>): CursorItem {
  const raw = unmarshall(item);
  const ids: unknown[] = Array.isArray(raw.idsAtPosition) ? raw.idsAtPosition : [];
  const recent: unknown[] = Array.isArray(raw.recentIds) ? raw.recentIds : [];
  return {
    positionMs: Number(raw.positionMs),
    idsAtPosition: ids.map(String),
    recentIds: recent.map(String),
    updatedAtMs: Number(raw.updatedAtMs),
    version: Number(raw.version ?? 0),
    ...(typeof raw.writeId === 'string' ? { writeId: raw.writeId } : {}),
  };
}

function publicCursor(item: CursorItem): Cursor {
  return {
    positionMs: item.positionMs,
    idsAtPosition: item.idsAtPosition,
    recentIds: item.recentIds,
    updatedAtMs: item.updatedAtMs,
    version: item.version,
  };
}

function errorName(err: unknown): string {
  return typeof err === 'object' && err !== null && 'name' in err ? String(err.name) : '';
}

function itemOf(err: unknown): Record<string, AttributeValue> | undefined {
  return typeof err === 'object' && err !== null && 'Item' in err
    ? (err.Item as Record<string, AttributeValue> | undefined)
    : undefined;
}

function reasonsOf(err: unknown): (CancellationReason | undefined)[] {
  const reasons =
    typeof err === 'object' && err !== null && 'CancellationReasons' in err
      ? err.CancellationReasons
      : undefined;
  return Array.isArray(reasons) ? (reasons as CancellationReason[]) : [];
}

function leaseLost(lease: Lease, current: Record<string, AttributeValue> | undefined): StateError {
  const now = current === undefined ? 'no lease is stored' : describeLease(toLeaseItem(current));
  return new StateError(
    'LEASE_LOST',
    `lease of tenant ${lease.tenantId} (owner ${lease.owner}, epoch ${lease.epoch}) is no longer held: ${now}`,
    false,
  );
}

function describeLease(item: LeaseItem): string {
  return `owner ${item.owner}, epoch ${item.epoch}, expires at ${new Date(item.leaseExpiresAtMs).toISOString()}`;
}

function conflict(err: unknown): StateError {
  return new StateError('CONFLICT', `concurrent writes kept conflicting: ${errorName(err)}`, true, {
    cause: err,
  });
}

function unavailable(err: unknown): StateError {
  const error = classifyAwsError(err);
  return new StateError('UNAVAILABLE', `DynamoDB call failed: ${error.message}`, error.retryable, {
    cause: err,
  });
}

async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw unavailable(err);
  }
}
