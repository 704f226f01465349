import { randomUUID } from 'node:crypto';
import {
  type AttributeValue,
  type CancellationReason,
  GetItemCommand,
  QueryCommand,
  type TransactWriteItem,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import {
  CURSOR_PREFIX,
  call,
  errorName,
  keys,
  leaseLost,
  reasonsOf,
  retryConflicts,
  type StateTable,
  stateFailure,
} from './state-dynamo.ts';
import { HEALTH_SK, openHealthOf } from './state-health.ts';
import { leaseCheck } from './state-lease.ts';
import {
  type AdvanceOutcome,
  type Cursor,
  type Lease,
  type OpenHealthCondition,
  type SeenSegment,
  StateError,
  type StateStore,
  type StreamState,
} from './state-model.ts';
import { putSegments, readSegments, seenDigest, segmentItems } from './state-seen.ts';

export type CursorStore = Pick<StateStore, 'getCursor' | 'getStream' | 'readTenant' | 'advanceCursor'>;

interface CursorItem {
  positionMs: number;
  idsAtPosition: string[];
  recentIds: string[];
  updatedAtMs: number;
  version: number;
  writeId?: string;
  /** Segments ending at or before this were pruned (ADR 0112); absent before the first prune. */
  seenFloorMs?: number;
}

/**
 * The streams' cursors and seen-sets (ADR 0004, ADR 0050, ADR 0112): a write puts its seen-set
 * segments, then moves the cursor in one transaction fenced by the tenant's lease; `seenRetentionMs`
 * is how long TTL keeps a segment after its newest bucket ends.
 */
export function createCursorStore(table: StateTable, seenRetentionMs: number): CursorStore {
  const { client, TableName, clock, conflictAttempts } = table;

  const readCursor = async (tenantId: string, streamId: string): Promise<CursorItem | null> => {
    const out = await call(() =>
      client.send(
        new GetItemCommand({ TableName, Key: keys.cursor(tenantId, streamId), ConsistentRead: true }),
      ),
    );
    return out.Item === undefined ? null : toCursorItem(out.Item);
  };

  /**
   * One transaction of `items()` (built again for each attempt), retried on conflicts. When it is
   * cancelled by a condition (the lease check first, then the others), `onCondition` decides: a result
   * stands for success, a throw for the failure. Any other failure is a StateError.
   */
  const transact = async (
    items: () => TransactWriteItem[],
    onCondition: (reasons: (CancellationReason | undefined)[]) => Promise<AdvanceOutcome>,
  ): Promise<AdvanceOutcome> => {
    try {
      return await retryConflicts(conflictAttempts, async () => {
        try {
          await client.send(new TransactWriteItemsCommand({ TransactItems: items() }));
          return 'advanced';
        } catch (err) {
          const reasons = errorName(err) === 'TransactionCanceledException' ? reasonsOf(err) : [];
          if (reasons.some((r) => r?.Code === 'ConditionalCheckFailed')) return await onCondition(reasons);
          throw err;
        }
      });
    } catch (err) {
      throw stateFailure(err);
    }
  };

  /** A stream's state from its cursor item: the seen-set starts where the cursor says (ADR 0112). */
  const streamState = async (
    tenantId: string,
    streamId: string,
    item: CursorItem | null,
  ): Promise<StreamState> => {
    const { digests, segments } = await readSegments(table, tenantId, streamId, item?.seenFloorMs ?? 0);
    // Cursors written before the seen-set carry their ids in the item: they count as seen.
    if (item !== null)
      for (const id of [...item.idsAtPosition, ...item.recentIds]) digests.add(seenDigest(id));
    return {
      cursor: item === null ? null : publicCursor(item),
      seen: { has: (id: string) => digests.has(seenDigest(id)), size: digests.size },
      segments,
    };
  };

  return {
    async getCursor(tenantId, streamId) {
      const item = await readCursor(tenantId, streamId);
      return item === null ? null : publicCursor(item);
    },

    async getStream(tenantId, streamId) {
      // One after the other: the cursor says where the seen-set starts (ADR 0112).
      return streamState(tenantId, streamId, await readCursor(tenantId, streamId));
    },

    async readTenant(tenantId) {
      // Cursors ('CURSOR#…') and the health item ('HEALTH') sort next to each other, before the lease
      // and the seen-set segments: one consistent range query reads them all (issue 16).
      const cursors = new Map<string, CursorItem>();
      let openHealth: OpenHealthCondition[] = [];
      let start: Record<string, AttributeValue> | undefined;
      do {
        const page = await call(() =>
          client.send(
            new QueryCommand({
              TableName,
              KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
              ExpressionAttributeValues: {
                ':pk': { S: keys.pk(tenantId) },
                ':from': { S: CURSOR_PREFIX },
                ':to': { S: HEALTH_SK },
              },
              ConsistentRead: true,
              ...(start === undefined ? {} : { ExclusiveStartKey: start }),
            }),
          ),
        );
        for (const item of page.Items ?? []) {
          const sk = item.sk?.S ?? '';
          if (sk === HEALTH_SK) openHealth = openHealthOf(item);
          else if (sk.startsWith(CURSOR_PREFIX))
            cursors.set(sk.slice(CURSOR_PREFIX.length), toCursorItem(item));
        }
        start = page.LastEvaluatedKey;
      } while (start !== undefined);
      return {
        openHealth,
        stream: (streamId: string) => streamState(tenantId, streamId, cursors.get(streamId) ?? null),
      };
    },

    async advanceCursor(lease, streamId, next, options = {}) {
      validateCursor(next);
      const prune = options.prune ?? [];
      for (const segment of prune) {
        if (!Number.isFinite(segment.bucketEndMs)) throw new RangeError('pruned segments need a finite end');
      }
      // Names this write, so that a condition failure caused by our own earlier attempt having
      // been applied (an SDK retry after a lost response) is recognised as success.
      const writeId = randomUUID();
      const segments = segmentItems(lease, streamId, options.seen ?? [], writeId, seenRetentionMs);
      // The seen-set first, outside the transaction (ADR 0112): if the cursor write then fails or
      // never happens, the ids this run handled are seen and the position has not moved.
      await putSegments(table, segments);
      const write = cursorWrite(TableName, lease, streamId, next, writeId, seenFloorOf(prune));
      return transact(
        () => [leaseCheck(TableName, lease, clock()), write],
        async ([leaseReason, cursorReason]) => {
          // The cursor's old image comes with its own condition failure only; re-read otherwise.
          const stored =
            cursorReason?.Item !== undefined
              ? toCursorItem(cursorReason.Item)
              : await readCursor(lease.tenantId, streamId);
          if (stored?.writeId === writeId) return 'advanced';
          if (leaseReason?.Code === 'ConditionalCheckFailed') throw leaseLost(lease, leaseReason.Item);
          throw refused(stored, next);
        },
      );
    },
  };
}

/**
 * Where the seen-set starts after pruning `prune` (ADR 0112): the latest end among them. Segments that
 * end at or before it are not read again (they hold only ids behind the window) and TTL deletes them.
 */
export function seenFloorOf(prune: readonly SeenSegment[]): number | undefined {
  return prune.length === 0 ? undefined : Math.max(...prune.map((s) => s.bucketEndMs));
}

/** The cursor's conditional update: fenced by the lease check beside it, never behind the stored position. */
export function cursorWrite(
  TableName: string,
  lease: Lease,
  streamId: string,
  next: Cursor,
  writeId: string,
  seenFloorMs: number | undefined,
): TransactWriteItem {
  return {
    Update: {
      TableName,
      Key: keys.cursor(lease.tenantId, streamId),
      UpdateExpression: `SET positionMs = :pos, updatedAtMs = :updated, version = if_not_exists(version, :zero) + :one, writtenBy = :owner, writtenEpoch = :epoch, writeId = :writeId${seenFloorMs === undefined ? '' : ', seenFloorMs = :floor'}`,
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
        ...(seenFloorMs === undefined ? {} : { ':floor': seenFloorMs }),
      }),
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
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

function validateCursor(next: Cursor): void {
  if (!Number.isSafeInteger(next.positionMs) || next.positionMs < 0) {
    throw new RangeError('cursor positionMs must be a non-negative integer');
  }
  if (!Number.isFinite(next.updatedAtMs)) throw new RangeError('cursor updatedAtMs must be a number');
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
    ...(typeof raw.seenFloorMs === 'number' ? { seenFloorMs: raw.seenFloorMs } : {}),
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
