import { createHash } from 'node:crypto';
import { type AttributeValue, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { call, keys, type StateTable } from './state-dynamo.ts';
import type { Lease, SeenEntry, SeenSegment } from './state-model.ts';

/**
 * Bounds of the seen-set (ADR 0004, ADR 0112). Sized for 100 actions/s per agent over a 10-minute
 * window (60,000 ids, 720 KB of digests) and more: a segment holds at most `digestsPerSegment` digests
 * (300 KB, under DynamoDB's 400 KB item limit) of at most `bucketsPerSegment` consecutive time buckets,
 * so that one far-off id (a skewed clock) keeps few others from being pruned.
 */
export const SEEN_LIMITS = {
  digestBytes: 12,
  bucketMs: 60_000,
  bucketsPerSegment: 15,
  digestsPerSegment: 25_000,
} as const;

/**
 * The seen-set's key for an action id: the first 96 bits of its SHA-256. Two ids of one stream's
 * window collide with probability about n²/2⁹⁷ (60,000 ids: 2.3e-20), far below any other failure.
 */
export function seenDigest(id: string): string {
  return createHash('sha256').update(id).digest().subarray(0, SEEN_LIMITS.digestBytes).toString('base64');
}

/** The bucket (start of its minute) an action time falls in. */
const bucketOf = (timestampMs: number): number =>
  Math.floor(timestampMs / SEEN_LIMITS.bucketMs) * SEEN_LIMITS.bucketMs;

/** A segment's sort key after the stream's prefix: the bucket of its newest id first, zero-padded. */
const bucketKey = (bucketMs: number): string => String(bucketMs).padStart(15, '0');

/**
 * Every segment of a stream's seen-set that ends after `floorMs` (ADR 0112), and the digests they
 * hold. Segment keys sort by the bucket of their newest id (in both layouts: an ADR 0004 segment has
 * one bucket), so the key condition skips what was pruned without reading it; DynamoDB TTL deletes
 * those later. `epochs` gives each digest the lowest lease epoch of the writes that stored it (ADR 0143).
 */
export async function readSegments(
  table: StateTable,
  tenantId: string,
  streamId: string,
  floorMs: number,
): Promise<{ digests: Map<string, number>; epochs: Map<string, number>; segments: SeenSegment[] }> {
  // Each id's digest, with the end of the newest segment holding it.
  const digests = new Map<string, number>();
  // Each id's digest, with the epoch of the first lease that stored it (a segment without one: never counts).
  const epochs = new Map<string, number>();
  const segments: SeenSegment[] = [];
  const prefix = keys.seenPrefix(streamId);
  // The first bucket that can end after the floor; the floor is a bucket's end, so this is the floor itself.
  const fromBucket = Math.max(0, bucketOf(floorMs));
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await call(() =>
      table.client.send(
        new QueryCommand({
          TableName: table.TableName,
          // '~' sorts after every digit: the range ends with the stream's segments.
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
          ExpressionAttributeValues: {
            ':pk': { S: keys.pk(tenantId) },
            ':from': { S: `${prefix}${bucketKey(fromBucket)}` },
            ':to': { S: `${prefix}~` },
          },
          ConsistentRead: true,
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        }),
      ),
    );
    for (const item of page.Items ?? []) {
      const bytes = item.d?.B;
      const key = item.sk?.S;
      const lastBucketMs = Number(item.bucketMs?.N);
      // Segments of ADR 0004 have no `fromMs`: their one bucket is `bucketMs`.
      const fromMs = item.fromMs?.N === undefined ? lastBucketMs : Number(item.fromMs.N);
      if (key === undefined || bytes === undefined || !Number.isFinite(lastBucketMs)) continue;
      const epoch =
        item.writtenEpoch?.N === undefined ? Number.POSITIVE_INFINITY : Number(item.writtenEpoch.N);
      const bucketEndMs = lastBucketMs + SEEN_LIMITS.bucketMs;
      if (bucketEndMs <= floorMs) continue;
      const size = SEEN_LIMITS.digestBytes;
      const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let at = 0; at + size <= buffer.length; at += size) {
        const digest = buffer.toString('base64', at, at + size);
        digests.set(digest, Math.max(bucketEndMs, digests.get(digest) ?? bucketEndMs));
        if (Number.isFinite(epoch)) epochs.set(digest, Math.min(epoch, epochs.get(digest) ?? epoch));
      }
      segments.push({
        key,
        bucketStartMs: Number.isFinite(fromMs) ? fromMs : lastBucketMs,
        bucketEndMs,
        count: Math.floor(buffer.length / size),
      });
    }
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return { digests, epochs, segments };
}

/** One segment a write will store: the ids of consecutive buckets from `fromMs` to `lastBucketMs`. */
export interface SegmentPlan {
  readonly fromMs: number;
  readonly lastBucketMs: number;
  readonly ids: readonly string[];
}

/**
 * How a seen-set write is cut into segments (ADR 0112): one per run of at most `bucketsPerSegment`
 * consecutive buckets and at most `digestsPerSegment` ids (a busy run's ids make one). Throws
 * RangeError for an entry without an id or a finite time.
 */
export function planSegments(seen: readonly SeenEntry[]): SegmentPlan[] {
  const byId = new Map<string, number>();
  for (const { id, timestampMs } of seen) {
    if (typeof id !== 'string' || id.length === 0 || !Number.isFinite(timestampMs)) {
      throw new RangeError('seen entries need an id and a finite time');
    }
    const bucket = bucketOf(timestampMs);
    // An id seen twice is kept in its later bucket: it stays until that one is pruned.
    byId.set(id, Math.max(bucket, byId.get(id) ?? bucket));
  }
  const sorted = [...byId].sort((a, b) => a[1] - b[1]);
  const plans: SegmentPlan[] = [];
  const spanMs = SEEN_LIMITS.bucketsPerSegment * SEEN_LIMITS.bucketMs;
  let at = 0;
  while (at < sorted.length) {
    const fromMs = sorted[at]?.[1] ?? 0;
    let end = at;
    while (
      end < sorted.length &&
      end - at < SEEN_LIMITS.digestsPerSegment &&
      (sorted[end]?.[1] ?? 0) - fromMs < spanMs
    ) {
      end++;
    }
    const part = sorted.slice(at, end);
    plans.push({ fromMs, lastBucketMs: part.at(-1)?.[1] ?? fromMs, ids: part.map(([id]) => id) });
    at = end;
  }
  return plans;
}

/**
 * The item of one planned segment, keyed by the bucket of its newest id and collected by DynamoDB TTL
 * `retentionMs` after that bucket ends; `digests` are its ids' digests, 12 bytes each.
 */
export function segmentItem(
  lease: Lease,
  streamId: string,
  plan: SegmentPlan,
  part: number,
  writeId: string,
  retentionMs: number,
  digests: Uint8Array,
): Record<string, AttributeValue> {
  // Newest bucket first (so keys sort by when the segment may go), then the write and the part: a
  // retried put writes the same item again, and two writes never overwrite each other's segments.
  return {
    pk: { S: keys.pk(lease.tenantId) },
    sk: { S: `${keys.seenPrefix(streamId)}${bucketKey(plan.lastBucketMs)}#${writeId}#${part}` },
    bucketMs: { N: String(plan.lastBucketMs) },
    fromMs: { N: String(plan.fromMs) },
    d: { B: digests },
    writtenEpoch: { N: String(lease.epoch) },
    expiresAt: { N: String(Math.ceil((plan.lastBucketMs + SEEN_LIMITS.bucketMs + retentionMs) / 1000)) },
  };
}

/** The items of a seen-set write: its planned segments with their digests. */
export function segmentItems(
  lease: Lease,
  streamId: string,
  seen: readonly SeenEntry[],
  writeId: string,
  retentionMs: number,
): Array<Record<string, AttributeValue>> {
  return planSegments(seen).map((plan, part) => {
    const bytes = Buffer.allocUnsafe(plan.ids.length * SEEN_LIMITS.digestBytes);
    plan.ids.forEach((id, i) => {
      bytes.write(seenDigest(id), i * SEEN_LIMITS.digestBytes, SEEN_LIMITS.digestBytes, 'base64');
    });
    return segmentItem(lease, streamId, plan, part, writeId, retentionMs, bytes);
  });
}

/**
 * Stores seen-set segments, each with its own PutItem outside the cursor's transaction (ADR 0112):
 * idempotent (a retry puts the same item), and made before the cursor write, so that a failure
 * between the two leaves only ids that were handled marked as seen, never a moved cursor without them.
 * Such ids also sit beside a cursor whose window digest was written before them: each segment carries
 * its lease's epoch, so that a reader tells them from the ids that write vouched for (ADR 0143).
 * One after the other: a busy run has one, and the many of a huge write all go to one partition.
 */
export async function putSegments(
  table: StateTable,
  items: ReadonlyArray<Record<string, AttributeValue>>,
): Promise<void> {
  for (const Item of items) {
    await call(() => table.client.send(new PutItemCommand({ TableName: table.TableName, Item })));
  }
}
