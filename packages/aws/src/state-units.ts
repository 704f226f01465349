import { randomUUID } from 'node:crypto';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { cursorWrite, seenFloorOf } from './state-cursor.ts';
import { keys } from './state-dynamo.ts';
import type { AdvanceOptions, Cursor, Lease } from './state-model.ts';
import { planSegments, SEEN_LIMITS, segmentItem } from './state-seen.ts';

/**
 * An item's size as DynamoDB bills it: each attribute's name plus its value (strings and binaries by
 * their bytes, numbers by about one byte per two significant digits plus one).
 */
export function itemBytes(item: Record<string, AttributeValue>): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(item)) bytes += Buffer.byteLength(name) + valueBytes(value);
  return bytes;
}

function valueBytes(value: AttributeValue): number {
  if (value.S !== undefined) return Buffer.byteLength(value.S);
  if (value.B !== undefined) return value.B.byteLength;
  if (value.N !== undefined) {
    const digits = value.N.replace(/^[-+]/, '')
      .replace(/e.*$/i, '')
      .replace('.', '')
      .replace(/^0+/, '')
      .replace(/0+$/, '').length;
    return Math.ceil(Math.max(1, digits) / 2) + 1;
  }
  throw new RangeError('itemBytes sizes strings, numbers and binaries only (what this store writes)');
}

const units = (bytes: number): number => Math.max(1, Math.ceil(bytes / 1024));

/**
 * The DynamoDB requests and write request units one `advanceCursor` spends, from the items this store
 * sends (ADR 0112): a PutItem per seen-set segment (1 WRU per KB), then a transaction of the lease
 * check and the cursor update (2 WRU per KB of each item). For cost models (bench:cost).
 */
export function advanceCursorUnits(
  lease: Lease,
  streamId: string,
  next: Cursor,
  options: AdvanceOptions = {},
  seenRetentionMs = 8 * 24 * 3600_000,
): { requests: number; writeUnits: number } {
  const writeId = randomUUID();
  // The items as the store builds them, with zeroed digests: a digest's size does not depend on its value.
  const segments = planSegments(options.seen ?? []).map((plan, part) =>
    segmentItem(
      lease,
      streamId,
      plan,
      part,
      writeId,
      seenRetentionMs,
      new Uint8Array(plan.ids.length * SEEN_LIMITS.digestBytes),
    ),
  );
  const floor = seenFloorOf(options.prune ?? []);
  const update = cursorWrite('state', lease, streamId, next, writeId, floor).Update;
  const values = update?.ExpressionAttributeValues ?? {};
  const cursorItem: Record<string, AttributeValue> = {
    ...keys.cursor(lease.tenantId, streamId),
    ...pick(values, {
      positionMs: ':pos',
      updatedAtMs: ':updated',
      version: ':one',
      writtenBy: ':owner',
      writtenEpoch: ':epoch',
      writeId: ':writeId',
      seenFloorMs: ':floor',
    }),
  };
  const leaseItem = {
    ...keys.lease(lease.tenantId),
    ...marshall({
      owner: lease.owner,
      epoch: lease.epoch,
      leaseExpiresAtMs: lease.expiresAtMs,
      acquiredAtMs: lease.expiresAtMs,
      expiresAt: Math.ceil(lease.expiresAtMs / 1000),
    }),
  };
  const segmentUnits = segments.reduce((n, item) => n + units(itemBytes(item)), 0);
  return {
    requests: segments.length + 1,
    writeUnits: segmentUnits + 2 * (units(itemBytes(leaseItem)) + units(itemBytes(cursorItem))),
  };
}

function pick(
  values: Record<string, AttributeValue>,
  names: Record<string, string>,
): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const [name, placeholder] of Object.entries(names)) {
    const value = values[placeholder];
    if (value !== undefined) out[name] = value;
  }
  return out;
}
