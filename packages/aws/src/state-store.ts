import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import {
  type AttributeValue,
  type CancellationReason,
  CreateTableCommand,
  type DynamoDBClient,
  GetItemCommand,
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
 * Where a stream has got to: every action up to `positionMs` is handled, except that at exactly
 * `positionMs` only the ids in `idsAtPosition` are (several actions can share one timestamp).
 * `version` counts the accepted writes (read-only: set by the store).
 */
export interface Cursor {
  readonly positionMs: number;
  readonly idsAtPosition: readonly string[];
  /**
   * Ids handled shortly before `positionMs` (the reader's overlap window), so that re-reading the
   * window does not send them again. Bounded; at one position it may only grow.
   */
  readonly recentIds?: readonly string[];
  readonly updatedAtMs: number;
  readonly version?: number;
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
  /**
   * Moves a stream's cursor forward, fenced by the lease (owner + epoch, unexpired) and monotonic
   * (never behind the stored one). 'unchanged' when the stored cursor already equals `next`.
   * Throws StateError LEASE_LOST, CURSOR_REGRESSION, CONFLICT or UNAVAILABLE.
   */
  advanceCursor(lease: Lease, streamId: string, next: Cursor): Promise<AdvanceOutcome>;
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
}

/** Bounds on a cursor so that a cursor item stays far below DynamoDB's 400 KB. */
export const CURSOR_LIMITS = { idsAtPosition: 1000, recentIds: 1000, idLength: 1024 } as const;

const LEASE_SK = 'LEASE';
const pkOf = (tenantId: string): string => `TENANT#${tenantId}`;
const cursorSk = (streamId: string): string => `CURSOR#${streamId}`;
const DEFAULT_RETENTION_MS = 7 * 24 * 3600_000;

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
  const ttlSeconds = (leaseExpiresAtMs: number) => Math.ceil((leaseExpiresAtMs + retentionMs) / 1000);

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

    async advanceCursor(lease, streamId, next) {
      const ids = validateCursor(next);
      const recent = validateIds([...new Set(next.recentIds ?? [])], CURSOR_LIMITS.recentIds, 'recent');
      // Names this write, so that a condition failure caused by our own earlier attempt having
      // been applied (an SDK retry after a lost response) is recognised as success.
      const writeId = randomUUID();
      for (let attempt = 1; ; attempt++) {
        const now = clock();
        try {
          await client.send(
            new TransactWriteItemsCommand({
              TransactItems: [
                {
                  ConditionCheck: {
                    TableName,
                    Key: leaseKey(lease.tenantId),
                    ConditionExpression: '#owner = :owner AND epoch = :epoch AND leaseExpiresAtMs > :now',
                    ExpressionAttributeNames: { '#owner': 'owner' },
                    ExpressionAttributeValues: marshall({
                      ':owner': lease.owner,
                      ':epoch': lease.epoch,
                      ':now': now,
                    }),
                    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
                  },
                },
                {
                  Update: {
                    TableName,
                    Key: marshall({ pk: pkOf(lease.tenantId), sk: cursorSk(streamId) }),
                    UpdateExpression:
                      'SET positionMs = :pos, idsAtPosition = :ids, recentIds = :recent, updatedAtMs = :updated, version = if_not_exists(version, :zero) + :one, writtenBy = :owner, writtenEpoch = :epoch, writeId = :writeId',
                    // Monotonic: a later position, or the same position with more ids handled (at it,
                    // or in the window just before it).
                    ConditionExpression:
                      'attribute_not_exists(positionMs) OR positionMs < :pos OR (positionMs = :pos AND (size(idsAtPosition) < :count OR (size(idsAtPosition) = :count AND (attribute_not_exists(recentIds) OR size(recentIds) < :rcount))))',
                    ExpressionAttributeValues: marshall({
                      ':pos': next.positionMs,
                      ':ids': ids,
                      ':count': ids.length,
                      ':recent': recent,
                      ':rcount': recent.length,
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
              return judgeRefused(stored, next, ids, recent);
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

/** Why a monotonic condition refused `next`, given the stored cursor. */
function judgeRefused(
  stored: CursorItem | null,
  next: Cursor,
  ids: readonly string[],
  recent: readonly string[],
): AdvanceOutcome {
  if (stored === null) {
    throw new StateError('CONFLICT', 'the cursor write was refused but no cursor is stored', true);
  }
  const storedIds = new Set(stored.idsAtPosition);
  const sameIds = storedIds.size === ids.length && ids.every((id) => storedIds.has(id));
  if (stored.positionMs === next.positionMs && sameIds && recent.length <= stored.recentIds.length)
    return 'unchanged';
  const behind =
    next.positionMs < stored.positionMs ||
    (next.positionMs === stored.positionMs && ids.every((id) => storedIds.has(id)));
  if (behind) {
    throw new StateError(
      'CURSOR_REGRESSION',
      `cursor is at ${stored.positionMs} (${stored.idsAtPosition.length} ids); refusing ${next.positionMs} (${ids.length} ids)`,
      false,
    );
  }
  throw new StateError(
    'CONFLICT',
    `cursor at ${stored.positionMs} holds other ids than the ${ids.length} given; a concurrent writer was here`,
    false,
  );
}

function validateCursor(next: Cursor): string[] {
  if (!Number.isSafeInteger(next.positionMs) || next.positionMs < 0) {
    throw new RangeError('cursor positionMs must be a non-negative integer');
  }
  if (!Number.isFinite(next.updatedAtMs)) throw new RangeError('cursor updatedAtMs must be a number');
  return validateIds([...new Set(next.idsAtPosition)], CURSOR_LIMITS.idsAtPosition, 'at one position');
}

function validateIds(ids: string[], max: number, what: string): string[] {
  if (ids.length > max) throw new RangeError(`cursor holds ${ids.length} ids ${what}; at most ${max}`);
  if (ids.some((id) => typeof id !== 'string' || id.length === 0 || id.length > CURSOR_LIMITS.idLength)) {
    throw new RangeError(`cursor ids must be 1 to ${CURSOR_LIMITS.idLength} characters`);
  }
  return ids;
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
