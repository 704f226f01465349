import { setTimeout as delay } from 'node:timers/promises';
import type { AttributeValue, CancellationReason, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { classifyAwsError } from './errors.ts';
import { type Lease, StateError } from './state-model.ts';

/** What every part of the state store shares: the table, its client and clock. */
export interface StateTable {
  readonly client: DynamoDBClient;
  readonly TableName: string;
  /** Epoch milliseconds; lease expiry compares against this clock. */
  readonly clock: () => number;
  /** Attempts on a transaction conflict before CONFLICT is thrown. */
  readonly conflictAttempts: number;
  /** Whether cursors may be written to the lease item (ADR 0126). */
  readonly inlineCursors: boolean;
  /** The lease items this store acquired, as the acquisition returned them (ADR 0127). */
  readonly held: HeldLeases;
  /** Called before a lease is taken: makes sure `clock` has read the service's clock (ADR 0135). */
  readonly beforeAcquire?: (() => Promise<void>) | undefined;
}

/** What a holder knows of its lease item (ADR 0127). */
export interface HeldLease {
  /** The item as the acquisition wrote it (`ReturnValues: ALL_NEW`): the inline cursors, the `q` stamp. */
  readonly item: Record<string, AttributeValue>;
  /**
   * The tenant's query would find only the lease item: this holder's query found nothing else (or the
   * last holder's stamp said so), and it has written no other item since. Its release may then stamp
   * `q` with its epoch, so that the next holder needs no query.
   */
  clean: boolean;
  /** Writes of other items begun (a query that started before one cannot call the tenant clean). */
  writes: number;
  /** Writes of other items not yet finished (a release meanwhile must not stamp). */
  inFlight: number;
}

/**
 * The lease item's stamp (ADR 0127): the epoch of the last holder that found only the lease item and
 * wrote nothing else. A holder whose epoch is the next one skips the tenant's query; any acquisition
 * in between (by any worker, of any version) raises the epoch past it.
 */
export const QUERY_FLAG = 'q';

/**
 * The leases a store holds, by tenant, owner and epoch (renewed copies of a lease find the same
 * entry). Bounded: a holder that never releases (its process about to die) cannot grow it for ever;
 * an entry evicted only costs its holder the query.
 */
export class HeldLeases {
  private readonly entries = new Map<string, HeldLease>();
  constructor(private readonly max = 10_000) {}

  static key(lease: Lease): string {
    return `${lease.tenantId}\u0000${lease.owner}\u0000${lease.epoch}`;
  }

  set(lease: Lease, item: Record<string, AttributeValue>): void {
    const key = HeldLeases.key(lease);
    this.entries.delete(key);
    this.entries.set(key, { item, clean: false, writes: 0, inFlight: 0 });
    // Maps keep insertion order: the first key is the oldest.
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.max) break;
      this.entries.delete(oldest);
    }
  }

  get(lease: Lease): HeldLease | undefined {
    return this.entries.get(HeldLeases.key(lease));
  }

  delete(lease: Lease): void {
    this.entries.delete(HeldLeases.key(lease));
  }

  /**
   * Runs a write of a cursor item or the health item: the tenant's query has something to read again,
   * so the holder is no longer clean, from before the write is sent until after it settles.
   */
  async writingOther<T>(lease: Lease, write: () => Promise<T>): Promise<T> {
    const held = this.get(lease);
    if (held === undefined) return write();
    held.clean = false;
    held.writes++;
    held.inFlight++;
    try {
      return await write();
    } finally {
      held.inFlight--;
    }
  }
}

/** The sort key of a tenant's lease item (which also holds inline cursors, ADR 0126). */
export const LEASE_SK = 'LEASE';

/** The lease item's map of inline cursors (ADR 0126). */
export const INLINE_ATTRIBUTE = 'c';

/**
 * The condition that the lease item is still ours (owner + epoch) and unexpired at `:now` (names
 * `#owner`; values from `leaseHeldValues`): a cursor or health write's fence, in the lease item itself
 * or beside it in a transaction.
 */
export const LEASE_HELD = '#owner = :owner AND epoch = :epoch AND leaseExpiresAtMs > :now';

/** The values `LEASE_HELD` names. */
export function leaseHeldValues(lease: Lease, now: number) {
  return { ':owner': lease.owner, ':epoch': lease.epoch, ':now': now };
}

/** The sort key prefix of a stream's cursor item. */
export const CURSOR_PREFIX = 'CURSOR#';

/** The table's keys (ADR 0050): one partition per tenant, a lease item, a cursor item and seen segments per stream. */
export const keys = {
  pk: (tenantId: string): string => `TENANT#${tenantId}`,
  lease: (tenantId: string) => marshall({ pk: keys.pk(tenantId), sk: LEASE_SK }),
  cursor: (tenantId: string, streamId: string) =>
    marshall({ pk: keys.pk(tenantId), sk: `${CURSOR_PREFIX}${streamId}` }),
  seenPrefix: (streamId: string): string => `SEEN#${streamId}#`,
};

export interface LeaseItem {
  owner: string;
  epoch: number;
  leaseExpiresAtMs: number;
}

export function toLeaseItem(item: Record<string, AttributeValue>): LeaseItem {
  const raw = unmarshall(item);
  return {
    owner: String(raw.owner),
    epoch: Number(raw.epoch),
    leaseExpiresAtMs: Number(raw.leaseExpiresAtMs),
  };
}

export function errorName(err: unknown): string {
  return typeof err === 'object' && err !== null && 'name' in err ? String(err.name) : '';
}

/** The old item DynamoDB returns with a condition failure (`ReturnValuesOnConditionCheckFailure`). */
export function itemOf(err: unknown): Record<string, AttributeValue> | undefined {
  return typeof err === 'object' && err !== null && 'Item' in err
    ? (err.Item as Record<string, AttributeValue> | undefined)
    : undefined;
}

/** A cancelled transaction's reasons, one per item in the order they were sent. */
export function reasonsOf(err: unknown): (CancellationReason | undefined)[] {
  const reasons =
    typeof err === 'object' && err !== null && 'CancellationReasons' in err
      ? err.CancellationReasons
      : undefined;
  return Array.isArray(reasons) ? (reasons as CancellationReason[]) : [];
}

/** A write that collided with a concurrent transaction: the same write can succeed a moment later. */
export function isConflict(err: unknown): boolean {
  const name = errorName(err);
  return (
    name === 'TransactionConflictException' ||
    name === 'TransactionInProgressException' ||
    (name === 'TransactionCanceledException' && reasonsOf(err).some((r) => r?.Code === 'TransactionConflict'))
  );
}

/**
 * Runs `write` again after a short jittered pause while it fails with a transaction conflict, up to
 * `attempts` times in all; any other failure, and the last conflict, is thrown as it came. The SDK's
 * retry strategy does not retry these: a conflict is a condition of the data, not of the service.
 */
export async function retryConflicts<T>(attempts: number, write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (!isConflict(err) || attempt >= attempts) throw err;
      // So that two writers that just collided do not collide again at once.
      await delay(Math.round(10 * attempt * (0.5 + Math.random())));
    }
  }
}

export function leaseLost(lease: Lease, current: Record<string, AttributeValue> | undefined): StateError {
  const held = current === undefined ? 'no lease is stored' : describeLease(toLeaseItem(current));
  return new StateError(
    'LEASE_LOST',
    `lease of tenant ${lease.tenantId} (owner ${lease.owner}, epoch ${lease.epoch}) is no longer held: ${held}`,
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

export function unavailable(err: unknown): StateError {
  const error = classifyAwsError(err);
  return new StateError('UNAVAILABLE', `DynamoDB call failed: ${error.message}`, error.retryable, {
    cause: err,
  });
}

/** Any failure of a state write as the adapter's error: a StateError as it is, a conflict, or UNAVAILABLE. */
export function stateFailure(err: unknown): StateError {
  if (err instanceof StateError) return err;
  return isConflict(err) ? conflict(err) : unavailable(err);
}

/** A read: any failure is UNAVAILABLE. */
export async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw unavailable(err);
  }
}
