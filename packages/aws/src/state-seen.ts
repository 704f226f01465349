import { createHash } from 'node:crypto';
import { type AttributeValue, QueryCommand, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { call, keys, type StateTable } from './state-dynamo.ts';
import type { Lease, SeenEntry, SeenSegment } from './state-model.ts';

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

/** Every stored segment of a stream's seen-set, and the digests they hold. */
export async function readSegments(
  table: StateTable,
  tenantId: string,
  streamId: string,
): Promise<{ digests: Set<string>; segments: SeenSegment[] }> {
  const digests = new Set<string>();
  const segments: SeenSegment[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await call(() =>
      table.client.send(
        new QueryCommand({
          TableName: table.TableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: {
            ':pk': { S: keys.pk(tenantId) },
            ':prefix': { S: keys.seenPrefix(streamId) },
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
}

/**
 * The puts of a seen-set write, with their size: one item per time bucket of `seen` (and part, at
 * most `digestsPerSegment` digests each), collected by DynamoDB TTL `retentionMs` after its bucket ends.
 */
export function segmentPuts(
  TableName: string,
  lease: Lease,
  streamId: string,
  seen: readonly SeenEntry[],
  writeId: string,
  retentionMs: number,
): Array<{ item: TransactWriteItem; bytes: number }> {
  return seenSegments(seen, writeId).map((segment) => ({
    bytes: segment.digests.length + 200,
    item: {
      Put: {
        TableName,
        Item: {
          pk: { S: keys.pk(lease.tenantId) },
          sk: { S: `${keys.seenPrefix(streamId)}${segment.suffix}` },
          bucketMs: { N: String(segment.bucketStartMs) },
          d: { B: segment.digests },
          writtenEpoch: { N: String(lease.epoch) },
          expiresAt: {
            N: String(Math.ceil((segment.bucketStartMs + SEEN_LIMITS.bucketMs + retentionMs) / 1000)),
          },
        },
      },
    },
  }));
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
