import { randomUUID } from 'node:crypto';
import {
  type AttributeValue,
  type CancellationReason,
  GetItemCommand,
  type TransactWriteItem,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import {
  call,
  errorName,
  keys,
  leaseLost,
  reasonsOf,
  retryConflicts,
  type StateTable,
  stateFailure,
} from './state-dynamo.ts';
import { leaseCheck } from './state-lease.ts';
import { type AdvanceOutcome, type Cursor, StateError, type StateStore } from './state-model.ts';
import { readSegments, SEEN_LIMITS, seenDigest, segmentPuts } from './state-seen.ts';

export type CursorStore = Pick<StateStore, 'getCursor' | 'getStream' | 'advanceCursor'>;

interface CursorItem {
  positionMs: number;
  idsAtPosition: string[];
  recentIds: string[];
  updatedAtMs: number;
  version: number;
  writeId?: string;
}

/**
 * The streams' cursors and seen-sets (ADR 0004, ADR 0050): every write is one or more transactions
 * fenced by the tenant's lease; `seenRetentionMs` is how long TTL keeps a segment after its bucket ends.
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

  return {
    async getCursor(tenantId, streamId) {
      const item = await readCursor(tenantId, streamId);
      return item === null ? null : publicCursor(item);
    },

    async getStream(tenantId, streamId) {
      const [item, { digests, segments }] = await Promise.all([
        readCursor(tenantId, streamId),
        readSegments(table, tenantId, streamId),
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
      const puts = segmentPuts(TableName, lease, streamId, options.seen ?? [], writeId, seenRetentionMs);
      const prunes = (options.prune ?? []).map(
        (segment): TransactWriteItem => ({
          Delete: { TableName, Key: { pk: { S: keys.pk(lease.tenantId) }, sk: { S: segment.key } } },
        }),
      );
      // Segments go first, each group fenced by the lease; a segment stored without its cursor
      // write only makes the seen-set larger (safe). The cursor and the prunes go in the last one.
      const room = SEEN_LIMITS.itemsPerWrite - 2;
      let group: TransactWriteItem[] = [];
      let groupBytes = 0;
      const groups: TransactWriteItem[][] = [];
      for (const put of puts) {
        if (group.length >= room || groupBytes + put.bytes > SEEN_LIMITS.bytesPerWrite) {
          groups.push(group);
          group = [];
          groupBytes = 0;
        }
        group.push(put.item);
        groupBytes += put.bytes;
      }
      const fenced = (items: TransactWriteItem[]) => () => [leaseCheck(TableName, lease, clock()), ...items];
      for (const earlier of groups) {
        await transact(fenced(earlier), async ([leaseReason]) => {
          throw leaseLost(lease, leaseReason?.Item);
        });
      }
      const cursorWrite: TransactWriteItem = {
        Update: {
          TableName,
          Key: keys.cursor(lease.tenantId, streamId),
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
      };
      const last = [cursorWrite, ...group, ...prunes.slice(0, Math.max(0, room - group.length))];
      return transact(fenced(last), async ([leaseReason, cursorReason]) => {
        // The cursor's old image comes with its own condition failure only; re-read otherwise.
        const stored =
          cursorReason?.Item !== undefined
            ? toCursorItem(cursorReason.Item)
            : await readCursor(lease.tenantId, streamId);
        if (stored?.writeId === writeId) return 'advanced';
        if (leaseReason?.Code === 'ConditionalCheckFailed') throw leaseLost(lease, leaseReason.Item);
        throw refused(stored, next);
      });
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
