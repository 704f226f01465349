import { type AttributeValue, GetItemCommand, TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
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
import type { OpenHealthCondition, StateStore } from './state-model.ts';

export type HealthStore = Pick<StateStore, 'getOpenHealth' | 'saveOpenHealth'>;

export const HEALTH_SK = 'HEALTH';

/**
 * Which connector health conditions are open for a tenant (ADR 0116): one small item next to the
 * tenant's lease and cursors, written in one transaction fenced by the lease like a cursor write.
 */
export function createHealthStore(table: StateTable): HealthStore {
  const { client, TableName, clock, conflictAttempts } = table;
  const key = (tenantId: string) => marshall({ pk: keys.pk(tenantId), sk: HEALTH_SK });
  return {
    async getOpenHealth(tenantId) {
      const out = await call(() =>
        client.send(new GetItemCommand({ TableName, Key: key(tenantId), ConsistentRead: true })),
      );
      return out.Item === undefined ? [] : openHealthOf(out.Item);
    },

    async saveOpenHealth(lease, open) {
      const item = {
        pk: keys.pk(lease.tenantId),
        sk: HEALTH_SK,
        open: open.map((c) => ({ ...c })),
        updatedAtMs: clock(),
        writtenBy: lease.owner,
        writtenEpoch: lease.epoch,
      };
      try {
        // The health item for the tenant's query to read (ADR 0127): the holder is no longer clean.
        await table.held.writingOther(lease, () =>
          retryConflicts(conflictAttempts, async () => {
            try {
              await client.send(
                new TransactWriteItemsCommand({
                  TransactItems: [
                    leaseCheck(TableName, lease, clock()),
                    { Put: { TableName, Item: marshall(item, { removeUndefinedValues: true }) } },
                  ],
                }),
              );
            } catch (err) {
              const reasons = errorName(err) === 'TransactionCanceledException' ? reasonsOf(err) : [];
              const leaseReason = reasons[0];
              if (leaseReason?.Code === 'ConditionalCheckFailed') throw leaseLost(lease, leaseReason.Item);
              throw err;
            }
          }),
        );
      } catch (err) {
        throw stateFailure(err);
      }
    },
  };
}

/** The open conditions a stored health item holds (entries that do not parse are dropped). */
export function openHealthOf(item: Record<string, AttributeValue>): OpenHealthCondition[] {
  const raw = unmarshall(item);
  const open: unknown[] = Array.isArray(raw.open) ? raw.open : [];
  return open.flatMap((entry) => {
    const parsed = toCondition(entry);
    return parsed === null ? [] : [parsed];
  });
}

function toCondition(entry: unknown): OpenHealthCondition | null {
  if (typeof entry !== 'object' || entry === null) return null;
  const { destinationId, region, condition, openedAtMs, imported, sentAtMs } = entry as Record<
    string,
    unknown
  >;
  if (typeof destinationId !== 'string' || typeof region !== 'string' || typeof condition !== 'string')
    return null;
  if (typeof openedAtMs !== 'number' || !Number.isFinite(openedAtMs)) return null;
  const open = { destinationId, region, condition, openedAtMs, imported: imported !== false };
  return typeof sentAtMs === 'number' && Number.isFinite(sentAtMs) ? { ...open, sentAtMs } : open;
}
