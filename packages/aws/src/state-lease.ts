import { GetItemCommand, type TransactWriteItem, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import {
  call,
  errorName,
  INLINE_ATTRIBUTE,
  isConflict,
  itemOf,
  keys,
  LEASE_HELD,
  leaseHeldValues,
  leaseLost,
  QUERY_FLAG,
  retryConflicts,
  type StateTable,
  stateFailure,
  toLeaseItem,
  unavailable,
} from './state-dynamo.ts';
import type { Lease, StateStore } from './state-model.ts';

export type LeaseStore = Pick<StateStore, 'acquireLease' | 'renewLease' | 'releaseLease' | 'getLease'>;

/**
 * The tenants' leases (ADR 0050): one item per tenant whose `epoch` goes up on every acquisition and
 * fences every cursor write. The item also holds the inline cursors (ADR 0126), so DynamoDB TTL must
 * never delete it: every lease write removes the `expiresAt` that items written before kept.
 */
export function createLeaseStore(table: StateTable): LeaseStore {
  const { client, TableName, clock, conflictAttempts } = table;

  /** Updates our lease item only while owner and epoch are still ours (ConditionalCheckFailed otherwise). */
  const updateOurs = (
    lease: Lease,
    set: string,
    values: Record<string, unknown>,
    names: Record<string, string> = {},
    condition = '',
  ) =>
    client.send(
      new UpdateItemCommand({
        TableName,
        Key: keys.lease(lease.tenantId),
        UpdateExpression: set,
        ConditionExpression: `#owner = :owner AND epoch = :epoch${condition}`,
        ExpressionAttributeNames: { '#owner': 'owner', ...names },
        ExpressionAttributeValues: marshall({ ':owner': lease.owner, ':epoch': lease.epoch, ...values }),
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );

  return {
    async acquireLease(tenantId, owner, ttlMs) {
      await table.beforeAcquire?.();
      const now = clock();
      const expiresAtMs = now + ttlMs;
      try {
        const out = await retryConflicts(conflictAttempts, () =>
          client.send(
            new UpdateItemCommand({
              TableName,
              Key: keys.lease(tenantId),
              UpdateExpression:
                // The inline cursors' map is made here, so that a cursor's first write can add to it.
                'SET #owner = :owner, epoch = if_not_exists(epoch, :zero) + :one, leaseExpiresAtMs = :exp, acquiredAtMs = :now, #c = if_not_exists(#c, :empty) REMOVE expiresAt',
              ConditionExpression:
                'attribute_not_exists(epoch) OR leaseExpiresAtMs <= :now OR #owner = :owner',
              ExpressionAttributeNames: { '#owner': 'owner', '#c': INLINE_ATTRIBUTE },
              ExpressionAttributeValues: marshall({
                ':owner': owner,
                ':zero': 0,
                ':one': 1,
                ':exp': expiresAtMs,
                ':now': now,
                ':empty': {},
              }),
              ReturnValues: 'ALL_NEW',
            }),
          ),
        );
        const item = toLeaseItem(out.Attributes ?? {});
        const lease = { tenantId, owner: item.owner, epoch: item.epoch, expiresAtMs: item.leaseExpiresAtMs };
        table.held.set(lease, out.Attributes ?? {});
        return lease;
      } catch (err) {
        // Held by someone else; or a holder's cursor transaction kept checking the lease item: held too.
        if (errorName(err) === 'ConditionalCheckFailedException' || isConflict(err)) return null;
        throw unavailable(err);
      }
    },

    async renewLease(lease, ttlMs) {
      const expiresAtMs = clock() + ttlMs;
      try {
        // No expiry check: while owner and epoch are still ours, nobody acquired it since,
        // so extending an unnoticed expiry is safe (cursor writes did check it meanwhile).
        // Never a released lease (expiry 0): a renewal still on its way when the holder released it (by
        // call, or with its last cursor write, ADR 0140) would hold it again for a whole TTL.
        await retryConflicts(conflictAttempts, () =>
          updateOurs(
            lease,
            'SET leaseExpiresAtMs = :exp REMOVE expiresAt',
            { ':exp': expiresAtMs, ':released': RELEASED_AT_MS },
            {},
            ' AND leaseExpiresAtMs > :released',
          ),
        );
        return { ...lease, expiresAtMs };
      } catch (err) {
        if (errorName(err) === 'ConditionalCheckFailedException') throw leaseLost(lease, itemOf(err));
        throw stateFailure(err);
      }
    },

    async releaseLease(lease) {
      const released = releaseUpdate(table, lease);
      table.held.delete(lease);
      try {
        await updateOurs(
          lease,
          `SET ${released.set.join(', ')} REMOVE ${released.remove.join(', ')}`,
          released.values,
          released.names,
        );
        return true;
      } catch (err) {
        if (errorName(err) === 'ConditionalCheckFailedException') return false;
        throw unavailable(err);
      }
    },

    async getLease(tenantId) {
      const out = await call(() =>
        client.send(new GetItemCommand({ TableName, Key: keys.lease(tenantId), ConsistentRead: true })),
      );
      if (out.Item === undefined) return null;
      const item = toLeaseItem(out.Item);
      return { tenantId, owner: item.owner, epoch: item.epoch, expiresAtMs: item.leaseExpiresAtMs };
    },
  };
}

/** A released lease's expiry: never renewed again (`renewLease`), free to acquire at once. */
const RELEASED_AT_MS = 0;

/**
 * What a release writes to the lease item, by `releaseLease` or with a run's last cursor write (ADR
 * 0140): expired at RELEASED_AT_MS, without TTL, and stamped with the holder's epoch when it knows the
 * tenant's query would find only the lease item, with no write of another item in flight (ADR 0127):
 * the next holder, one epoch on, then reads the lease item it acquires and sends no query. The
 * expression names `:epoch`, which the lease's fence supplies.
 */
export function releaseUpdate(table: StateTable, lease: Lease) {
  const held = table.held.get(lease);
  const stamp = held?.clean === true && held.inFlight === 0 && table.inlineCursors;
  return {
    set: ['leaseExpiresAtMs = :released', ...(stamp ? ['#q = :epoch'] : [])],
    remove: ['expiresAt'],
    names: stamp ? { '#q': QUERY_FLAG } : ({} as Record<string, string>),
    values: { ':released': RELEASED_AT_MS },
  };
}

/**
 * The item of a transaction that fences it by the lease: still ours (owner + epoch) and unexpired at
 * `now`. It writes a cursor item or the health item, which the tenant's query must read again: so it
 * also removes the lease item's stamp `q` (ADR 0127), an `Update` billed as the `ConditionCheck` it
 * replaces.
 */
export function leaseCheck(TableName: string, lease: Lease, now: number): TransactWriteItem {
  return {
    Update: {
      TableName,
      Key: keys.lease(lease.tenantId),
      UpdateExpression: 'REMOVE #q',
      ConditionExpression: LEASE_HELD,
      ExpressionAttributeNames: { '#owner': 'owner', '#q': QUERY_FLAG },
      ExpressionAttributeValues: marshall(leaseHeldValues(lease, now)),
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}
