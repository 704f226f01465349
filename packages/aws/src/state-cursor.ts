import { randomUUID } from 'node:crypto';
import {
  type AttributeValue,
  type CancellationReason,
  GetItemCommand,
  QueryCommand,
  type TransactWriteItem,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import {
  CURSOR_PREFIX,
  call,
  errorName,
  INLINE_ATTRIBUTE,
  itemOf,
  keys,
  LEASE_HELD,
  LEASE_SK,
  leaseHeldValues,
  leaseLost,
  QUERY_FLAG,
  reasonsOf,
  retryConflicts,
  type StateTable,
  stateFailure,
  toLeaseItem,
} from './state-dynamo.ts';
import { HEALTH_SK, openHealthOf } from './state-health.ts';
import { leaseCheck, releaseUpdate } from './state-lease.ts';
import {
  type AdvanceOutcome,
  type Cursor,
  type CursorHome,
  type Lease,
  type OpenHealthCondition,
  type SeenSegment,
  STUCK_FINDINGS_MAX,
  StateError,
  type StateStore,
  type StreamState,
  type StuckFinding,
} from './state-model.ts';
import { putSegments, readSegments, seenDigest, segmentItems } from './state-seen.ts';

export type CursorStore = Pick<
  StateStore,
  'getCursor' | 'getStream' | 'readTenant' | 'peekTenant' | 'advanceCursor'
>;

export interface CursorItem {
  positionMs: number;
  idsAtPosition: string[];
  recentIds: string[];
  updatedAtMs: number;
  version: number;
  writeId?: string;
  /** Segments ending at or before this were pruned (ADR 0112); absent before the first prune. */
  seenFloorMs?: number;
  /** `Cursor.windowDigest` of the write that set this position (ADR 0128). */
  windowDigest?: string;
  /** `Cursor.stuck` (ADR 0133). */
  stuck?: readonly StuckFinding[];
}

/**
 * At most this many streams keep their cursor in the tenant's lease item (ADR 0126): with owner ids
 * up to 128 bytes the item then stays under 1 KB, so that every lease write and every inline cursor
 * write costs one write unit (state-units.test.ts). Further streams keep a cursor item of their own.
 */
export const INLINE_CURSORS_MAX = 5;

/** An inline cursor as stored: short names, since every lease write pays for them. */
interface InlineEntry {
  p: number;
  u: number;
  v: number;
  w: string;
  e: number;
  f?: number;
  /** `Cursor.windowDigest` (ADR 0128). */
  d?: string;
  /** `Cursor.stuck` (ADR 0133), as `StoredStuck`. */
  k?: StoredStuck[];
}

/** A stuck finding as stored (ADR 0133): short names, like an inline entry's. */
interface StoredStuck {
  k: string;
  a: number;
  n: number;
  s: number;
}

const storedStuck = (stuck: readonly StuckFinding[]): StoredStuck[] =>
  stuck.map((f) => ({ k: f.key, a: f.actionMs, n: f.runs, s: f.sinceMs }));

/**
 * The stuck findings of a stored cursor, read by the rules a write is held to (`validStuck`): an entry
 * that breaks them is dropped, and the list is cut to STUCK_FINDINGS_MAX, so that what is read can
 * always be written back (it only delays a give-up).
 */
function stuckOf(raw: unknown): { stuck?: StuckFinding[] } {
  if (!Array.isArray(raw)) return {};
  const stuck: StuckFinding[] = [];
  for (const e of raw as Partial<StoredStuck>[]) {
    const entry = { key: e?.k, actionMs: e?.a, runs: e?.n, sinceMs: e?.s };
    if (validStuck(entry) && stuck.length < STUCK_FINDINGS_MAX) stuck.push(entry);
  }
  return stuck.length === 0 ? {} : { stuck };
}

function validStuck(e: Partial<Record<keyof StuckFinding, unknown>>): e is StuckFinding {
  return (
    typeof e.key === 'string' &&
    /^[A-Za-z0-9_-]{1,64}$/.test(e.key) &&
    [e.actionMs, e.sinceMs].every((n) => Number.isSafeInteger(n) && Number(n) >= 0) &&
    Number.isSafeInteger(e.runs) &&
    Number(e.runs) >= 1
  );
}

/**
 * The parts of a cursor update that belong to the write that carries them (ADR 0128, 0133): each is set
 * when the write has it and removed when it has not. `path` prefixes the attribute names.
 */
function carried(next: Cursor, digestPath: string, stuckPath: string) {
  const set: string[] = [];
  const remove: string[] = [];
  const values: Record<string, unknown> = {};
  if (next.windowDigest === undefined) remove.push(digestPath);
  else {
    set.push(`${digestPath} = :digest`);
    values[':digest'] = next.windowDigest;
  }
  if (next.stuck === undefined || next.stuck.length === 0) remove.push(stuckPath);
  else {
    set.push(`${stuckPath} = :stuck`);
    values[':stuck'] = storedStuck(next.stuck);
  }
  return { set, remove, values, tail: updateTail(set, remove) };
}

/** `, a = :a, b = :b REMOVE c, d`: what follows a SET clause's first assignment. */
function updateTail(set: readonly string[], remove: readonly string[]): string {
  return `${set.map((x) => `, ${x}`).join('')}${remove.length === 0 ? '' : ` REMOVE ${remove.join(', ')}`}`;
}

/**
 * The streams' cursors and seen-sets (ADR 0004, ADR 0050, ADR 0112): a write puts its seen-set
 * segments, then moves the cursor in one transaction fenced by the tenant's lease; `seenRetentionMs`
 * is how long TTL keeps a segment after its newest bucket ends.
 */
export function createCursorStore(
  table: StateTable,
  seenRetentionMs: number,
  inlineCursors: boolean,
): CursorStore {
  const { client, TableName, clock, conflictAttempts } = table;

  /**
   * The tenant's cursor items, its health item and its lease item (with the inline cursors) sort next
   * to each other ('CURSOR#…' < 'HEALTH' < 'LEASE' < 'SEEN#…'): one consistent range query reads them.
   */
  const readCursors = async (tenantId: string) => {
    const legacy = new Map<string, CursorItem>();
    let inline = new Map<string, CursorItem>();
    let openHealth: OpenHealthCondition[] = [];
    // Cursor items, and a health item holding any entry (parsed or not): what makes a tenant not clean.
    let otherItems = 0;
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
              ':to': { S: LEASE_SK },
            },
            ConsistentRead: true,
            ...(start === undefined ? {} : { ExclusiveStartKey: start }),
          }),
        ),
      );
      for (const item of page.Items ?? []) {
        const sk = item.sk?.S ?? '';
        if (sk === HEALTH_SK) {
          openHealth = openHealthOf(item);
          if ((item.open?.L?.length ?? 1) > 0) otherItems++;
        } else if (sk === LEASE_SK) inline = inlineCursorsOf(item);
        else if (sk.startsWith(CURSOR_PREFIX)) {
          legacy.set(sk.slice(CURSOR_PREFIX.length), toCursorItem(item));
          otherItems++;
        }
      }
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return { legacy, inline, openHealth, otherItems };
  };

  /** A stream's cursor from both homes (ADR 0126): the further position, the higher floor, legacy ids kept. */
  const readCursor = async (tenantId: string, streamId: string): Promise<CursorItem | null> => {
    const { legacy, inline } = await readCursors(tenantId);
    return mergeCursor(inline.get(streamId), legacy.get(streamId));
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
    const { digests, epochs, segments } = await readSegments(
      table,
      tenantId,
      streamId,
      item?.seenFloorMs ?? 0,
    );
    // Cursors written before the seen-set carry their ids in the item: they count as seen.
    if (item !== null)
      for (const id of [...item.idsAtPosition, ...item.recentIds])
        digests.set(seenDigest(id), Number.POSITIVE_INFINITY);
    return {
      cursor: item === null ? null : publicCursor(item),
      seen: {
        has: (id: string) => digests.has(seenDigest(id)),
        size: digests.size,
        until: (id: string) => digests.get(seenDigest(id)),
        epochOf: (id: string) => epochs.get(seenDigest(id)),
      },
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

    async readTenant(lease) {
      const { tenantId } = lease;
      const held = table.held.get(lease);
      let found: Awaited<ReturnType<typeof readCursors>>;
      if (inlineCursors && held !== undefined && held.item[QUERY_FLAG]?.N === String(lease.epoch - 1)) {
        // The holder of the epoch before ours found only the lease item and wrote nothing else, and
        // nobody acquired in between (ADR 0127): the item this holder acquired is all there is.
        found = { legacy: new Map(), inline: inlineCursorsOf(held.item), openHealth: [], otherItems: 0 };
        if (held.writes === 0) held.clean = true;
      } else {
        // One query for every cursor, the health item and the lease item (issue 16, ADR 0126).
        const writesBefore = held?.writes ?? 0;
        found = await readCursors(tenantId);
        if (held !== undefined && held.writes === writesBefore) held.clean = found.otherItems === 0;
      }
      const { legacy, inline, openHealth, otherItems } = found;
      // Streams handed the lease item for their first write: the bound holds across the run's streams.
      let placed = inlineCursors ? inline.size : INLINE_CURSORS_MAX;
      return {
        openHealth,
        alone: inlineCursors && otherItems === 0,
        cursor: (streamId: string) => {
          const item = mergeCursor(inline.get(streamId), legacy.get(streamId));
          return item === null ? null : publicCursor(item);
        },
        stream: async (streamId: string) => {
          const item = mergeCursor(inline.get(streamId), legacy.get(streamId));
          let home: CursorHome = 'item';
          if (inlineCursors && inline.has(streamId)) home = 'lease';
          else if (placed < INLINE_CURSORS_MAX) {
            home = 'new';
            placed++;
          }
          return { ...(await streamState(tenantId, streamId, item)), home };
        },
      };
    },

    async peekTenant(tenantId) {
      if (!inlineCursors) return null;
      const { Item: raw } = await call(() =>
        client.send(new GetItemCommand({ TableName, Key: keys.lease(tenantId), ConsistentRead: true })),
      );
      if (raw === undefined) return null;
      const item = toLeaseItem(raw);
      // Held: a run is on it. Released by the holder of its epoch, who stamped it knowing the tenant's
      // query would find only this item (ADR 0127): nothing else to read. Anything else: take the lease.
      if (item.leaseExpiresAtMs > clock() || raw[QUERY_FLAG]?.N !== String(item.epoch)) return null;
      const inline = inlineCursorsOf(raw);
      return {
        openHealth: [],
        alone: true,
        cursor: (streamId: string) => {
          const found = inline.get(streamId);
          return found === undefined ? null : publicCursor(found);
        },
        stream: (streamId: string) => streamState(tenantId, streamId, inline.get(streamId) ?? null),
      };
    },

    async advanceCursor(lease, streamId, next, options = {}) {
      validateCursor(next);
      const prune = options.prune ?? [];
      for (const segment of prune) {
        if (!Number.isFinite(segment.bucketEndMs)) throw new RangeError('pruned segments need a finite end');
      }
      // Names this write, so that a condition failure caused by our own earlier attempt having
      // been applied (an SDK retry after a lost response, or the caller's retry with the same id) is
      // recognised as success.
      const writeId = options.writeId ?? randomUUID();
      const segments = segmentItems(lease, streamId, options.seen ?? [], writeId, seenRetentionMs);
      // The seen-set first, outside the transaction (ADR 0112): if the cursor write then fails or
      // never happens, the ids this run handled are seen and the position has not moved.
      await putSegments(table, segments);
      const floor = seenFloorOf(prune);
      // A cursor item for the tenant's query to read (ADR 0127): the holder is no longer clean.
      const inItem = () =>
        table.held.writingOther(lease, () => {
          const write = cursorWrite(TableName, lease, streamId, next, writeId, floor);
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
        });
      let home = inlineCursors ? (options.home ?? 'lease') : 'item';
      // The lease released by this write (ADR 0140), as `releaseLease` releases it: only an inline write
      // can carry it, and a cursor item's write leaves the release to `releaseLease`.
      const release = options.release === true ? releaseUpdate(table, lease) : undefined;
      const landed = (): AdvanceOutcome => {
        if (release === undefined) return 'advanced';
        table.held.delete(lease);
        return 'released';
      };
      // Each refused attempt says, from the lease item it returns, where the cursor is to go next;
      // a concurrent writer of the same lease can send us round once more, never for ever.
      for (let attempt = 0; attempt < 4; attempt++) {
        if (home === 'item') return inItem();
        const write = inlineWrite(TableName, lease, streamId, home, {
          next,
          writeId,
          floor,
          now: clock(),
          release,
        });
        let old: Record<string, AttributeValue> | undefined;
        try {
          // A transaction on the lease item (a cursor item's lease check, a health write) can hold it
          // for a moment: the same conflict retries as the transactions' own.
          await retryConflicts(conflictAttempts, () => client.send(new UpdateItemCommand(write)));
          return landed();
        } catch (err) {
          if (errorName(err) !== 'ConditionalCheckFailedException') throw stateFailure(err);
          old = itemOf(err);
        }
        const then = nextHome(lease, streamId, next, writeId, old, clock());
        // Our write had landed: with the release when it carried one (the lease item says which).
        if (then === 'advanced')
          return release !== undefined && !holds(old ?? {}, lease, clock()) ? landed() : 'advanced';
        home = then;
      }
      throw new StateError(
        'CONFLICT',
        `the cursor of stream ${streamId} kept changing under its write`,
        true,
      );
    },
  };
}

/**
 * After an inline write was refused, from the lease item as it was: our write had landed ('advanced'),
 * the lease is gone (LEASE_LOST), the cursor is ahead (CURSOR_REGRESSION), or where to write now.
 */
function nextHome(
  lease: Lease,
  streamId: string,
  next: Cursor,
  writeId: string,
  old: Record<string, AttributeValue> | undefined,
  now: number,
): CursorHome | 'advanced' {
  const entry = old === undefined ? undefined : inlineCursorsOf(old).get(streamId);
  if (entry?.writeId === writeId) return 'advanced';
  if (old === undefined || !holds(old, lease, now)) throw leaseLost(lease, old);
  if (entry !== undefined) {
    if (entry.positionMs > next.positionMs) throw refused(entry, next);
    return 'lease';
  }
  const map = old[INLINE_ATTRIBUTE]?.M;
  return map !== undefined && Object.keys(map).length < INLINE_CURSORS_MAX ? 'new' : 'item';
}

/** Whether the lease item is still ours (owner and epoch) and unexpired at `now`: the lease check's condition. */
function holds(item: Record<string, AttributeValue>, lease: Lease, now: number): boolean {
  return (
    item.owner?.S === lease.owner &&
    Number(item.epoch?.N) === lease.epoch &&
    Number(item.leaseExpiresAtMs?.N) > now
  );
}

/** What one inline cursor write sends (ADR 0126). */
interface InlineWrite {
  readonly next: Cursor;
  readonly writeId: string;
  readonly floor: number | undefined;
  readonly now: number;
  /** Releases the lease in the same write (ADR 0140): what `releaseUpdate` says a release writes. */
  readonly release?: ReturnType<typeof releaseUpdate> | undefined;
}

/**
 * An inline cursor write, fenced by the lease in the same item: `lease` moves an existing entry, never
 * behind the stored position (a missing entry fails the comparison: the refusal then says it is
 * missing); `new` adds the stream's first entry while the item holds fewer than INLINE_CURSORS_MAX.
 */
function inlineWrite(
  TableName: string,
  lease: Lease,
  streamId: string,
  home: 'lease' | 'new',
  { next, writeId, floor, now, release }: InlineWrite,
) {
  const fenced = leaseHeldValues(lease, now);
  const released = release ?? { set: [], remove: [], names: {}, values: {} };
  const common = {
    TableName,
    Key: keys.lease(lease.tenantId),
    ExpressionAttributeNames: {
      '#owner': 'owner',
      '#c': INLINE_ATTRIBUTE,
      '#s': streamId,
      ...released.names,
    },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
  };
  if (home === 'lease') {
    const own = carried(next, '#c.#s.d', '#c.#s.k');
    return {
      ...common,
      // The digest and the stuck findings belong to the write that sets them: one written without is
      // removed (ADR 0128, 0133).
      UpdateExpression: `SET #c.#s.p = :pos, #c.#s.u = :updated, #c.#s.v = #c.#s.v + :one, #c.#s.w = :writeId, #c.#s.e = :epoch${floor === undefined ? '' : ', #c.#s.f = :floor'}${updateTail([...own.set, ...released.set], [...own.remove, ...released.remove])}`,
      ConditionExpression: `${LEASE_HELD} AND #c.#s.p <= :pos`,
      ExpressionAttributeValues: marshall({
        ...fenced,
        ...released.values,
        ':pos': next.positionMs,
        ':updated': next.updatedAtMs,
        ':one': 1,
        ':writeId': writeId,
        ...(floor === undefined ? {} : { ':floor': floor }),
        ...own.values,
      }),
    };
  }
  const entry: InlineEntry = {
    p: next.positionMs,
    u: next.updatedAtMs,
    v: 1,
    w: writeId,
    e: lease.epoch,
    ...(floor === undefined ? {} : { f: floor }),
    ...(next.windowDigest === undefined ? {} : { d: next.windowDigest }),
    ...(next.stuck === undefined || next.stuck.length === 0 ? {} : { k: storedStuck(next.stuck) }),
  };
  return {
    ...common,
    UpdateExpression: `SET #c.#s = :entry${updateTail(released.set, released.remove)}`,
    ConditionExpression: `${LEASE_HELD} AND attribute_not_exists(#c.#s) AND size(#c) < :max`,
    ExpressionAttributeValues: marshall({
      ...fenced,
      ...released.values,
      ':entry': entry,
      ':max': INLINE_CURSORS_MAX,
    }),
  };
}

/** The inline cursors of a lease item (none when it has no map: written before ADR 0126). */
function inlineCursorsOf(item: Record<string, AttributeValue>): Map<string, CursorItem> {
  const out = new Map<string, CursorItem>();
  for (const [streamId, value] of Object.entries(item[INLINE_ATTRIBUTE]?.M ?? {})) {
    if (value.M === undefined) continue;
    const raw = unmarshall(value.M) as Partial<InlineEntry>;
    out.set(streamId, {
      positionMs: Number(raw.p),
      idsAtPosition: [],
      recentIds: [],
      updatedAtMs: Number(raw.u),
      version: Number(raw.v ?? 0),
      ...(typeof raw.w === 'string' ? { writeId: raw.w } : {}),
      ...(typeof raw.f === 'number' ? { seenFloorMs: raw.f } : {}),
      ...(typeof raw.d === 'string' ? { windowDigest: raw.d } : {}),
      ...stuckOf(raw.k),
    });
  }
  return out;
}

/**
 * A stream's cursor from its two possible homes (ADR 0126): the further position wins, the seen-set
 * starts at the higher floor (each was set behind its own window, and the further window is ahead of
 * both), and a cursor item's legacy ids stay seen. The further one's window digest comes with it (ADR 0128): its
 * ids are inside the furthest window, which no write of either home pruned.
 */
export function mergeCursor(inline: CursorItem | undefined, item: CursorItem | undefined): CursorItem | null {
  if (inline === undefined) return item ?? null;
  if (item === undefined) return inline;
  // At the same position the later write's digest and stuck findings are the ones that count: a cursor
  // item written while inline cursors are off leaves an older inline entry beside it.
  const further =
    inline.positionMs !== item.positionMs
      ? inline.positionMs > item.positionMs
        ? inline
        : item
      : inline.updatedAtMs >= item.updatedAtMs
        ? inline
        : item;
  const floors = [inline.seenFloorMs, item.seenFloorMs].filter((f): f is number => f !== undefined);
  return {
    ...further,
    idsAtPosition: item.idsAtPosition,
    recentIds: item.recentIds,
    ...(floors.length === 0 ? {} : { seenFloorMs: Math.max(...floors) }),
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
  const own = carried(next, 'windowDigest', 'stuck');
  return {
    Update: {
      TableName,
      Key: keys.cursor(lease.tenantId, streamId),
      UpdateExpression: `SET positionMs = :pos, updatedAtMs = :updated, version = if_not_exists(version, :zero) + :one, writtenBy = :owner, writtenEpoch = :epoch, writeId = :writeId${seenFloorMs === undefined ? '' : ', seenFloorMs = :floor'}${own.tail}`,
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
        ...own.values,
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
  // The worker's digest is base64url with dots between its parts (ADR 0146); the store keeps it as it is.
  if (next.windowDigest !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(next.windowDigest)) {
    throw new RangeError('cursor windowDigest must be at most 64 base64url characters and dots');
  }
  const stuck = next.stuck ?? [];
  if (stuck.length > STUCK_FINDINGS_MAX) {
    throw new RangeError(`a cursor keeps at most ${STUCK_FINDINGS_MAX} stuck findings`);
  }
  if (!stuck.every(validStuck)) {
    throw new RangeError(
      'a stuck finding needs a base64url key of at most 64 characters, non-negative integer times and at least one run',
    );
  }
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
    ...(typeof raw.windowDigest === 'string' ? { windowDigest: raw.windowDigest } : {}),
    ...stuckOf(raw.stuck),
  };
}

function publicCursor(item: CursorItem): Cursor {
  return {
    positionMs: item.positionMs,
    idsAtPosition: item.idsAtPosition,
    recentIds: item.recentIds,
    updatedAtMs: item.updatedAtMs,
    version: item.version,
    ...(item.windowDigest === undefined ? {} : { windowDigest: item.windowDigest }),
    ...(item.stuck === undefined ? {} : { stuck: item.stuck }),
  };
}
