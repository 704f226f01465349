import { randomUUID } from 'node:crypto';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { cursorWrite, seenFloorOf } from './state-cursor.ts';
import { INLINE_ATTRIBUTE, keys } from './state-dynamo.ts';
import type { AdvanceOptions, Cursor, Lease, SeenSegment } from './state-model.ts';
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
  if (value.BOOL !== undefined) return 1;
  // A map: 3 bytes, and each entry's name and value plus 1 byte.
  if (value.M !== undefined) {
    let bytes = 3;
    for (const [name, entry] of Object.entries(value.M))
      bytes += Buffer.byteLength(name) + valueBytes(entry) + 1;
    return bytes;
  }
  if (value.B !== undefined) return value.B.byteLength;
  if (value.N !== undefined) {
    const digits = value.N.replace(/^[-+]/, '')
      .replace(/e.*$/i, '')
      .replace('.', '')
      .replace(/^0+/, '')
      .replace(/0+$/, '').length;
    return Math.ceil(Math.max(1, digits) / 2) + 1;
  }
  throw new RangeError(
    'itemBytes sizes strings, numbers, binaries, booleans and maps only (what this store writes)',
  );
}

const units = (bytes: number): number => Math.max(1, Math.ceil(bytes / 1024));

/**
 * The lease item as the store keeps it (ADR 0050, ADR 0126) with an inline cursor for each of
 * `streams`, each written as `cursor` was: what a lease write or an inline cursor write is billed on.
 */
export function leaseItem(
  lease: Lease,
  streams: readonly string[],
  cursor: Cursor = { positionMs: lease.expiresAtMs, updatedAtMs: lease.expiresAtMs },
  seenFloorMs: number | undefined = cursor.positionMs,
): Record<string, AttributeValue> {
  const entry = {
    p: cursor.positionMs,
    u: cursor.updatedAtMs,
    v: 1,
    w: randomUUID(),
    e: lease.epoch,
    ...(seenFloorMs === undefined ? {} : { f: seenFloorMs }),
    // A window digest on every entry, as cursor.ts of the worker writes it (ADR 0128, 0146): a 22-character
    // hash, a count of up to 99,999 ids and an epoch of up to 8 digits (a run every minute for 190 years):
    // what a complete write carries, and the most an entry holds.
    d: cursor.windowDigest ?? `${'A'.repeat(22)}.${'9'.repeat(5)}.${'9'.repeat(8)}`,
  };
  return {
    ...keys.lease(lease.tenantId),
    ...marshall({
      owner: lease.owner,
      epoch: lease.epoch,
      leaseExpiresAtMs: lease.expiresAtMs,
      acquiredAtMs: lease.expiresAtMs,
      // ADR 0127's stamp: the epoch of the holder before.
      q: lease.epoch,
      [INLINE_ATTRIBUTE]: Object.fromEntries(streams.map((id) => [id, entry])),
    }),
  };
}

/** The write units of one lease write (acquire, renew, release) while the item holds `streams`' cursors. */
export function leaseWriteUnits(lease: Lease, streams: readonly string[]): number {
  return units(itemBytes(leaseItem(lease, streams)));
}

/**
 * The DynamoDB requests and write request units one `advanceCursor` spends, from the items this store
 * sends (ADR 0112, ADR 0126): a PutItem per seen-set segment (1 WRU per KB), then, for a cursor in the
 * lease item, one UpdateItem billed on the lease item (holding `inlineStreams`' cursors, this one
 * among them), or for a cursor item (`home: 'item'`), a transaction of the lease check and the cursor
 * update (2 WRU per KB of each item). For cost models (bench:cost).
 */
export function advanceCursorUnits(
  lease: Lease,
  streamId: string,
  next: Cursor,
  options: AdvanceOptions = {},
  seenRetentionMs = 8 * 24 * 3600_000,
  inlineStreams: readonly string[] = [streamId],
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
  const segmentUnits = segments.reduce((n, item) => n + units(itemBytes(item)), 0);
  if (options.home !== 'item') {
    const inline = leaseItem(lease, inlineStreams, next, floor);
    return { requests: segments.length + 1, writeUnits: segmentUnits + units(itemBytes(inline)) };
  }
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
  return {
    requests: segments.length + 1,
    writeUnits:
      segmentUnits + 2 * (units(itemBytes(leaseItem(lease, inlineStreams))) + units(itemBytes(cursorItem))),
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

/**
 * The read units of the consistent query that reads a stream's seen-set (state-seen.ts): the bytes of
 * the segments it returns, 4 KB a unit, at least one. A busy stream's query meets three segments of
 * 100 digests (1.4 KB each): 2 units (state-store.int.test.ts measures it on DynamoDB Local).
 */
export function seenReadUnits(lease: Lease, streamId: string, segments: readonly SeenSegment[]): number {
  let bytes = 0;
  for (const segment of segments) {
    const plan = {
      fromMs: segment.bucketStartMs,
      lastBucketMs: segment.bucketEndMs - SEEN_LIMITS.bucketMs,
      ids: [],
    };
    const digests = new Uint8Array(segment.count * SEEN_LIMITS.digestBytes);
    bytes += itemBytes(segmentItem(lease, streamId, plan, 0, randomUUID(), 8 * 24 * 3600_000, digests));
  }
  return Math.max(1, Math.ceil(bytes / 4096));
}
