import { randomUUID } from 'node:crypto';
import {
  type AttributeValue,
  DynamoDBClient,
  type ServiceInputTypes,
  type ServiceOutputTypes,
} from '@aws-sdk/client-dynamodb';
import type { FinalizeRequestMiddleware, InitializeMiddleware } from '@smithy/types';
import { startDynamoDbLocal, startMoto, testAwsConfig } from '@vsh/testkit';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createServerClock } from './server-clock.ts';
import {
  advanceCursorUnits,
  type Cursor,
  type CursorHome,
  createStateStore,
  INLINE_CURSORS_MAX,
  itemBytes,
  type Lease,
  StateError,
  type StateStore,
  type StateStoreOptions,
  seenDigest,
  seenReadUnits,
} from './state-store.ts';

interface Server {
  endpoint: string;
  stop(): Promise<void>;
}

interface Backend {
  start(): Promise<Server>;
  /**
   * Whether racing writes to one item are applied atomically. moto's DynamoDB takes no lock at all
   * (moto 5.2 has none under moto/dynamodb): a conditional UpdateItem checks, then writes, so two
   * racing lease acquisitions can both pass the condition; and TransactWriteItems, when one is
   * cancelled, restores a copy of the whole table taken when it began, which erases whatever
   * another transaction committed meanwhile. Real DynamoDB and DynamoDB Local serialize them. On
   * moto the racing writers of these tests therefore take turns in a random order instead of
   * overlapping; the race itself is proven on DynamoDB Local.
   */
  readonly atomicWrites: boolean;
  /** Whether it answers ReturnConsumedCapacity (DynamoDB Local does, for single-item calls and queries). */
  readonly reportsCapacity: boolean;
}

// The same tests on both local DynamoDBs: moto (what the rest of the suite uses) and DynamoDB Local
// (Amazon's own engine, the higher-fidelity one for conditions and transactions).
const servers: Array<[string, Backend]> = [
  ['moto_server', { start: startMoto, atomicWrites: false, reportsCapacity: false }],
  ['DynamoDB Local', { start: startDynamoDbLocal, atomicWrites: true, reportsCapacity: true }],
];

const TTL = 30_000;
const cursorAt = (positionMs: number): Cursor => ({ positionMs, updatedAtMs: positionMs });

/** Runs the calls one after the other; settles like Promise.allSettled, in writer order (A, B). */
async function inTurn<T>(
  calls: Array<() => Promise<T>>,
  reversed: boolean,
): Promise<PromiseSettledResult<T>[]> {
  const settled: PromiseSettledResult<T>[] = [];
  for (const call of calls) {
    settled.push(
      await call().then(
        (value) => ({ status: 'fulfilled', value }) as const,
        (reason: unknown) => ({ status: 'rejected', reason }) as const,
      ),
    );
  }
  return reversed ? settled.reverse() : settled;
}

// Each backend with both homes of a cursor (ADR 0126): the lease item (the first streams of a tenant)
// and a cursor item of its own (any further stream, and every cursor written before ADR 0126).
const layouts: Array<[string, CursorHome | undefined]> = [
  ['cursors in the lease item', undefined],
  ['cursor items', 'item'],
];
const cases = servers.flatMap(([name, backend]) =>
  layouts.map(([layout, home]) => [name, layout, backend, home] as const),
);

describe.each(cases)('state store on %s, %s', (_name, _layout, backend, home) => {
  let server: Server;
  let tableName: string;

  beforeAll(async () => {
    server = await backend.start();
    tableName = `vsh-state-${randomUUID()}`;
    const client = new DynamoDBClient(testAwsConfig(server.endpoint));
    await createStateStore({ client, tableName }).ensureTable();
    client.destroy();
  });
  afterAll(async () => {
    await server?.stop();
  });

  function createClient(): DynamoDBClient {
    const client = new DynamoDBClient(testAwsConfig(server.endpoint));
    onTestFinished(() => client.destroy());
    return client;
  }

  /** The store, its cursor writes sent to this layout's home (the worker passes what the read found). */
  function createStore(options: Partial<StateStoreOptions> = {}): StateStore {
    const store = createStateStore({ client: options.client ?? createClient(), tableName, ...options });
    return {
      ...store,
      advanceCursor: (lease, streamId, next, opts = {}) =>
        store.advanceCursor(lease, streamId, next, { home, ...opts }),
    };
  }

  /** The call that writes a cursor in this layout: an UpdateItem of the lease item, or a transaction. */
  const CURSOR_WRITE = home === 'item' ? 'TransactWriteItemsCommand' : 'UpdateItemCommand';

  const newTenant = () => `tenant-${randomUUID()}`;

  /** The stream's seen-set segments as stored, pruned or not. */
  async function rawSegments(tenant: string, streamId: string) {
    const { QueryCommand } = await import('@aws-sdk/client-dynamodb');
    const out = await createClient().send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: {
          ':pk': { S: `TENANT#${tenant}` },
          ':prefix': { S: `SEEN#${streamId}#` },
        },
        ConsistentRead: true,
      }),
    );
    return out.Items ?? [];
  }

  it('creates the table idempotently', async () => {
    const store = createStore();

    await expect(store.ensureTable()).resolves.toBeUndefined();
  });

  it('gives a lease to exactly one of many concurrent acquirers', async () => {
    const tenant = newTenant();
    const stores = Array.from({ length: 10 }, () => createStore());

    const acquire = stores.map((store, i) => () => store.acquireLease(tenant, `worker-${i}`, TTL));

    const leases: Array<Lease | null> = [];
    if (backend.atomicWrites) leases.push(...(await Promise.all(acquire.map((call) => call()))));
    else for (const call of acquire) leases.push(await call());

    const winners = leases.filter((lease): lease is Lease => lease !== null);
    expect(winners).toHaveLength(1);
    const stored = await createStore().getLease(tenant);
    expect(stored).toMatchObject({ owner: winners[0]?.owner, epoch: 1 });
  });

  it('lets the holder acquire again and refuses others while the lease runs', async () => {
    const tenant = newTenant();
    const store = createStore();
    const first = await store.acquireLease(tenant, 'worker-a', TTL);

    const other = await store.acquireLease(tenant, 'worker-b', TTL);
    const again = await store.acquireLease(tenant, 'worker-a', TTL);

    expect(other).toBeNull();
    expect(again?.epoch).toBe((first?.epoch ?? 0) + 1);
  });

  it('hands an expired lease to the next worker with a higher epoch and fences the old holder out', async () => {
    const tenant = newTenant();
    let now = Date.now();
    const store = createStore({ clock: () => now });
    const old = await store.acquireLease(tenant, 'worker-a', 1_000);
    if (old === null) throw new Error('no lease');
    await store.advanceCursor(old, 'stream-1', cursorAt(100));

    now += 1_001;
    const taken = await store.acquireLease(tenant, 'worker-b', TTL);
    const oldAdvance = await store.advanceCursor(old, 'stream-1', cursorAt(200)).catch((err: unknown) => err);
    const oldRenew = await store.renewLease(old, TTL).catch((err: unknown) => err);
    const newAdvance = await store.advanceCursor(taken ?? old, 'stream-1', cursorAt(300));

    expect(taken).toMatchObject({ owner: 'worker-b', epoch: old.epoch + 1 });
    expect(oldAdvance).toBeInstanceOf(StateError);
    expect(oldAdvance).toMatchObject({ code: 'LEASE_LOST', retryable: false });
    expect(oldRenew).toMatchObject({ code: 'LEASE_LOST' });
    expect(newAdvance).toBe('advanced');
    expect((await store.getCursor(tenant, 'stream-1'))?.positionMs).toBe(300);
  });

  it('refuses a cursor write from a stale epoch of the same owner', async () => {
    const tenant = newTenant();
    const store = createStore();
    const stale = await store.acquireLease(tenant, 'worker-a', TTL);
    if (stale === null) throw new Error('no lease');
    await store.releaseLease(stale);
    const current = await store.acquireLease(tenant, 'worker-a', TTL);

    const error = await store.advanceCursor(stale, 'stream-1', cursorAt(500)).catch((err: unknown) => err);

    expect(current?.epoch).toBe(stale.epoch + 1);
    expect(error).toMatchObject({ name: 'StateError', code: 'LEASE_LOST' });
    expect(await store.getCursor(tenant, 'stream-1')).toBeNull();
  });

  it('renews and releases only its own lease', async () => {
    const tenant = newTenant();
    let now = Date.now();
    const store = createStore({ clock: () => now });
    const lease = await store.acquireLease(tenant, 'worker-a', 1_000);
    if (lease === null) throw new Error('no lease');

    now += 900;
    const renewed = await store.renewLease(lease, 1_000);
    now += 900;
    const blocked = await store.acquireLease(tenant, 'worker-b', TTL);
    const released = await store.releaseLease(renewed);
    const releasedAgain = await store.releaseLease(renewed);
    const next = await store.acquireLease(tenant, 'worker-b', TTL);
    const releasedByOld = await store.releaseLease(renewed);

    expect(renewed.expiresAtMs).toBe(now - 900 + 1_000);
    expect(blocked).toBeNull();
    expect([released, releasedAgain]).toEqual([true, true]);
    expect(next).toMatchObject({ owner: 'worker-b', epoch: lease.epoch + 1 });
    expect(releasedByOld).toBe(false);
    expect(await store.getLease(tenant)).toMatchObject({ owner: 'worker-b', epoch: lease.epoch + 1 });
  });

  it("releases the lease in the run's last cursor write when the cursor is in the lease item, and leaves it held otherwise (ADR 0140)", async () => {
    const tenant = newTenant();
    const store = createStore();
    const lease = await store.acquireLease(tenant, 'worker-a', TTL);
    if (lease === null) throw new Error('no lease');
    await store.readTenant(lease);
    // The stream's first write makes its entry ('new'), the next moves it ('lease'): each can carry it.
    const first = await store.advanceCursor(lease, 's', cursorAt(1_000), {
      seen: [{ id: 'a', timestampMs: 1_000 }],
      home: home ?? 'new',
      release: true,
    });
    const taken = await store.acquireLease(tenant, 'worker-b', TTL);

    if (home === 'item') {
      // A cursor item's write is a transaction beside the lease item: the lease stays for releaseLease.
      expect(first).toBe('advanced');
      expect(taken).toBeNull();
      expect(await store.releaseLease(lease)).toBe(true);
    } else {
      expect(first).toBe('released');
      expect(taken).toMatchObject({ owner: 'worker-b', epoch: lease.epoch + 1 });
      if (taken === null) throw new Error('no lease');
      await store.readTenant(taken);
      const moved = await store.advanceCursor(taken, 's', cursorAt(2_000), { home: 'lease', release: true });
      expect(moved).toBe('released');
      // Released as releaseLease releases: expired, and stamped (the lease item is all, ADR 0127), so the
      // next holder's read needs no query, and a quiet run may read it without the lease.
      const raw = await rawLease(tenant);
      expect(raw.leaseExpiresAtMs).toEqual({ N: '0' });
      expect(raw.q).toEqual({ N: String(taken.epoch) });
      expect(await store.peekTenant?.(tenant)).not.toBeNull();
    }
    expect((await store.getStream(tenant, 's')).seen.has('a')).toBe(true);
    expect((await store.getCursor(tenant, 's'))?.positionMs).toBe(home === 'item' ? 1_000 : 2_000);
  });

  it('knows a released write of its own when it tries it again with the same write id, with or without the release (ADR 0140)', async () => {
    const tenant = newTenant();
    const store = createStore();
    const lease = await store.acquireLease(tenant, 'worker-a', TTL);
    if (lease === null) throw new Error('no lease');
    await store.advanceCursor(lease, 's', cursorAt(1_000), { home: home ?? 'new' });
    const write = { home: home ?? ('lease' as const), writeId: randomUUID() };

    const landed = await store.advanceCursor(lease, 's', cursorAt(2_000), { ...write, release: true });
    // Its answer lost: tried again as it was, and then without the release (the worker's later tries).
    const again = await store.advanceCursor(lease, 's', cursorAt(2_000), { ...write, release: true });
    const plain = await store.advanceCursor(lease, 's', cursorAt(2_000), write);

    expect([landed, again, plain]).toEqual(
      home === 'item' ? ['advanced', 'advanced', 'advanced'] : ['released', 'released', 'advanced'],
    );
    // Another write id after the release is refused: the lease is no longer held.
    if (home !== 'item') {
      await expect(store.advanceCursor(lease, 's', cursorAt(3_000), { home: 'lease' })).rejects.toMatchObject(
        {
          code: 'LEASE_LOST',
        },
      );
    }
  });

  it('refuses to renew a released lease: a renewal still on its way would hold it again (ADR 0140)', async () => {
    const tenant = newTenant();
    const store = createStore();
    const byCall = await store.acquireLease(tenant, 'worker-a', TTL);
    if (byCall === null) throw new Error('no lease');
    await store.releaseLease(byCall);
    await expect(store.renewLease(byCall, TTL)).rejects.toMatchObject({ code: 'LEASE_LOST' });

    const byWrite = await store.acquireLease(tenant, 'worker-a', TTL);
    if (byWrite === null) throw new Error('no lease');
    await store.readTenant(byWrite);
    await store.advanceCursor(byWrite, 's', cursorAt(1_000), { home: home ?? 'new', release: true });
    const renewed = store.renewLease(byWrite, TTL);
    if (home === 'item') await expect(renewed).resolves.toMatchObject({ epoch: byWrite.epoch });
    else await expect(renewed).rejects.toMatchObject({ code: 'LEASE_LOST' });
    // Free for the next run at once (the cursor item's layout releases by call).
    if (home === 'item') await store.releaseLease(byWrite);
    expect(await store.acquireLease(tenant, 'worker-b', TTL)).toMatchObject({ owner: 'worker-b' });
  });

  it('never moves a cursor backwards and accepts the same position (a write that only adds seen ids)', async () => {
    const tenant = newTenant();
    const store = createStore();
    const lease = await store.acquireLease(tenant, 'worker-a', TTL);
    if (lease === null) throw new Error('no lease');
    await store.advanceCursor(lease, 's', cursorAt(1_000), { seen: [{ id: 'a', timestampMs: 1_000 }] });

    const same = await store.advanceCursor(lease, 's', cursorAt(1_000), {
      seen: [{ id: 'late', timestampMs: 900 }],
    });
    const earlier = await store.advanceCursor(lease, 's', cursorAt(999)).catch((err: unknown) => err);
    const stream = await store.getStream(tenant, 's');

    expect(same).toBe('advanced');
    expect(earlier).toMatchObject({ code: 'CURSOR_REGRESSION' });
    expect(stream.cursor).toMatchObject({ positionMs: 1_000, version: 2 });
    expect([stream.seen.has('a'), stream.seen.has('late'), stream.seen.has('b')]).toEqual([
      true,
      true,
      false,
    ]);
  });

  it('keeps the window digest of the write that set the position, drops it with a write that has none, and refuses a malformed one (ADR 0128)', async () => {
    const tenant = newTenant();
    const store = createStore();
    const lease = await store.acquireLease(tenant, 'worker-a', TTL);
    if (lease === null) throw new Error('no lease');
    const digest = 'AbCdEfGhIjKlMnOpQrSt_-';

    await store.advanceCursor(lease, 's', { ...cursorAt(1_000), windowDigest: digest });
    const withDigest = (await store.readTenant(lease)).cursor('s');
    await store.advanceCursor(lease, 's', cursorAt(1_000));
    const without = await store.getCursor(tenant, 's');
    await store.advanceCursor(lease, 's', { ...cursorAt(2_000), windowDigest: digest });
    const again = await store.getStream(tenant, 's');
    const malformed = await store
      .advanceCursor(lease, 's', { ...cursorAt(3_000), windowDigest: 'not a digest!' })
      .catch((err: unknown) => err);

    expect(withDigest).toMatchObject({ positionMs: 1_000, windowDigest: digest });
    expect(without?.windowDigest).toBeUndefined();
    expect(again.cursor).toMatchObject({ positionMs: 2_000, windowDigest: digest });
    expect(malformed).toBeInstanceOf(RangeError);
    expect((await store.getCursor(tenant, 's'))?.positionMs).toBe(2_000);
  });

  it('keeps the stuck findings of the write that carries them beside its digest, drops them with a write that has none, and refuses more than it keeps (ADR 0133)', async () => {
    const tenant = newTenant();
    const store = createStore();
    const lease = await store.acquireLease(tenant, 'worker-a', TTL);
    if (lease === null) throw new Error('no lease');
    const older = { key: 'AbCdEfGhIjKlMnOpQrSt_-', actionMs: 900, runs: 4, sinceMs: 100 };
    const newer = { key: 'ZyXwVuTsRqPoNmLkJiHg-_', actionMs: 950, runs: 1, sinceMs: 800 };
    const stuck = [older, newer];

    await store.advanceCursor(lease, 's', { ...cursorAt(1_000), stuck });
    const first = (await store.readTenant(lease)).cursor('s');
    await store.advanceCursor(lease, 's', {
      ...cursorAt(1_000),
      windowDigest: 'A'.repeat(22),
      stuck: [newer],
    });
    const second = await store.getStream(tenant, 's');
    await store.advanceCursor(lease, 's', cursorAt(2_000));
    const without = await store.getCursor(tenant, 's');
    const tooMany = await store
      .advanceCursor(lease, 's', { ...cursorAt(3_000), stuck: [...stuck, ...stuck] })
      .catch((err: unknown) => err);
    const badKey = await store
      .advanceCursor(lease, 's', { ...cursorAt(3_000), stuck: [{ ...older, key: 'not a key!' }] })
      .catch((err: unknown) => err);

    expect(first).toMatchObject({ positionMs: 1_000, stuck });
    expect(second.cursor).toMatchObject({ windowDigest: 'A'.repeat(22), stuck: [newer] });
    expect(without?.stuck).toBeUndefined();
    expect(without?.windowDigest).toBeUndefined();
    expect(tooMany).toBeInstanceOf(RangeError);
    expect(badKey).toBeInstanceOf(RangeError);
    expect((await store.getCursor(tenant, 's'))?.positionMs).toBe(2_000);
  });

  it('keeps the stored position at the maximum of the accepted advances of two concurrent writers (property)', async () => {
    const tenant = newTenant();
    const writerA = createStore();
    const writerB = createStore();
    const lease = await writerA.acquireLease(tenant, 'worker-a', 10 * 60_000);
    if (lease === null) throw new Error('no lease');
    let run = 0;

    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat({ max: 50 }), fc.nat({ max: 50 }), fc.boolean()), {
          minLength: 1,
          maxLength: 8,
        }),
        async (steps) => {
          const stream = `stream-${run++}`;
          let accepted = -1;
          let previous = -1;
          for (const [a, b, bFirst] of steps) {
            const advanceA = () => writerA.advanceCursor(lease, stream, cursorAt(a));
            const advanceB = () => writerB.advanceCursor(lease, stream, cursorAt(b));
            const outcomes = backend.atomicWrites
              ? await Promise.allSettled([advanceA(), advanceB()])
              : await inTurn(bFirst ? [advanceB, advanceA] : [advanceA, advanceB], bFirst);
            for (const [i, outcome] of outcomes.entries()) {
              const position = i === 0 ? a : b;
              if (outcome.status === 'fulfilled' && outcome.value === 'advanced') {
                accepted = Math.max(accepted, position);
              } else if (outcome.status === 'rejected') {
                expect(outcome.reason).toBeInstanceOf(StateError);
                expect(['CURSOR_REGRESSION', 'CONFLICT']).toContain((outcome.reason as StateError).code);
              }
            }
            const stored = (await writerA.getCursor(tenant, stream))?.positionMs ?? -1;
            expect(stored).toBe(accepted);
            expect(stored).toBeGreaterThanOrEqual(previous);
            previous = stored;
          }
        },
      ),
      { numRuns: 12 },
    );
  });

  it('keeps a seen-set of 60,000 ids (100 actions/s for 10 minutes) and prunes the segments behind the window', async () => {
    const tenant = newTenant();
    const store = createStore();
    const lease = await store.acquireLease(tenant, 'worker-a', TTL);
    if (lease === null) throw new Error('no lease');
    const base = 1_800_000_000_000;
    const seen = Array.from({ length: 60_000 }, (_, i) => ({
      id: `act-${i}-${randomUUID()}`,
      timestampMs: base + i * 10,
    }));

    await store.advanceCursor(lease, 's', cursorAt(base + 599_990), { seen });
    const stream = await store.getStream(tenant, 's');
    const later = base + 3_600_000;
    await store.advanceCursor(lease, 's', cursorAt(later), { prune: stream.segments });
    const pruned = await store.getStream(tenant, 's');

    expect(stream.seen.size).toBe(60_000);
    expect(seen.every((e) => stream.seen.has(e.id))).toBe(true);
    expect(stream.seen.has('act-60000')).toBe(false);
    // 25,000 digests (300 KB) a segment at most.
    expect(stream.segments.map((s) => s.count)).toEqual([25_000, 25_000, 10_000]);
    expect(pruned.segments).toEqual([]);
    expect(pruned.cursor?.positionMs).toBe(later);
  });

  it('reads the ids of a cursor written before the seen-set as seen', async () => {
    const tenant = newTenant();
    const client = createClient();
    const { PutItemCommand } = await import('@aws-sdk/client-dynamodb');
    await client.send(
      new PutItemCommand({
        TableName: tableName,
        Item: {
          pk: { S: `TENANT#${tenant}` },
          sk: { S: 'CURSOR#s' },
          positionMs: { N: '5000' },
          idsAtPosition: { L: [{ S: 'at' }] },
          recentIds: { L: [{ S: 'recent' }] },
          updatedAtMs: { N: '1' },
          version: { N: '3' },
        },
      }),
    );

    const stream = await createStore({ client }).getStream(tenant, 's');

    expect(stream.cursor?.positionMs).toBe(5_000);
    expect([stream.seen.has('at'), stream.seen.has('recent'), stream.seen.has('other')]).toEqual([
      true,
      true,
      false,
    ]);
  });

  it('moves no cursor for a holder whose lease was taken over; the ids it handled still count as seen', async () => {
    const tenant = newTenant();
    const store = createStore({ clock: () => 1_000 });
    const old = await store.acquireLease(tenant, 'worker-a', 10);
    const later = createStore({ clock: () => 2_000 });
    const current = await later.acquireLease(tenant, 'worker-b', TTL);
    if (old === null || current === null) throw new Error('no lease');

    const error = await store
      .advanceCursor(old, 's', cursorAt(1_000), { seen: [{ id: 'stale', timestampMs: 1_000 }] })
      .catch((err: unknown) => err);

    // ADR 0112: the seen-set is written before the fenced cursor write. The old holder did handle
    // (deliver) that action: remembering it only spares a re-send; the position is what fencing guards.
    expect(error).toMatchObject({ code: 'LEASE_LOST' });
    const stream = await later.getStream(tenant, 's');
    expect(stream.cursor).toBeNull();
    expect(stream.seen.has('stale')).toBe(true);
  });

  it('leaves the ids seen and the position where it was when the worker dies between the seen-set and the cursor', async () => {
    const tenant = newTenant();
    const client = createClient();
    let killed = false;
    // Stands for the process dying after the segments were stored: the cursor's transaction never arrives.
    const dieBeforeCursor: FinalizeRequestMiddleware<ServiceInputTypes, ServiceOutputTypes> =
      (next, context) => async (args) => {
        if (killed && context.commandName === CURSOR_WRITE) {
          throw Object.assign(new Error('worker died'), { name: 'WorkerDied' });
        }
        return next(args);
      };
    client.middlewareStack.add(dieBeforeCursor, { step: 'finalizeRequest', name: 'dieBeforeCursor' });
    const store = createStore({ client });
    const lease = await store.acquireLease(tenant, 'worker-a', TTL);
    if (lease === null) throw new Error('no lease');
    await store.advanceCursor(lease, 's', cursorAt(1_000), { seen: [{ id: 'a', timestampMs: 1_000 }] });

    killed = true;
    const error = await store
      .advanceCursor(lease, 's', cursorAt(5_000), { seen: [{ id: 'b', timestampMs: 4_000 }] })
      .catch((err: unknown) => err);
    const stream = await createStore().getStream(tenant, 's');

    expect(error).toBeInstanceOf(StateError);
    expect(stream.cursor?.positionMs).toBe(1_000);
    expect([stream.seen.has('a'), stream.seen.has('b')]).toEqual([true, true]);
  });

  it('gives each seen id the lowest lease epoch of the writes that stored it, also a write refused after its put (ADR 0143, 0146)', async () => {
    const tenant = newTenant();
    const first = createStore({ clock: () => 1_000 });
    const a = await first.acquireLease(tenant, 'worker-a', 10);
    if (a === null) throw new Error('no lease');
    await first.advanceCursor(a, 's', cursorAt(1_000), {
      seen: [
        { id: 'first', timestampMs: 900 },
        { id: 'again', timestampMs: 950 },
      ],
    });
    // worker-b's lease is taken over by worker-c while worker-b writes: its put lands, its cursor update does not.
    const second = createStore({ clock: () => 2_000 });
    const b = await second.acquireLease(tenant, 'worker-b', 10);
    const third = createStore({ clock: () => 3_000 });
    const c = await third.acquireLease(tenant, 'worker-c', TTL);
    if (b === null || c === null) throw new Error('no lease');
    const refused = await second
      .advanceCursor(b, 's', cursorAt(1_000), { seen: [{ id: 'refused', timestampMs: 1_000 }] })
      .catch((err: unknown) => err);
    await third.advanceCursor(c, 's', cursorAt(1_000), {
      seen: [
        { id: 'again', timestampMs: 1_000 },
        { id: 'third', timestampMs: 1_000 },
      ],
    });
    const { seen } = await third.getStream(tenant, 's');

    expect(refused).toMatchObject({ code: 'LEASE_LOST' });
    expect([a.epoch, b.epoch, c.epoch]).toEqual([1, 2, 3]);
    expect(
      Object.fromEntries(
        ['first', 'again', 'refused', 'third', 'never'].map((id) => [id, seen.epochOf?.(id)]),
      ),
    ).toEqual({ first: 1, again: 1, refused: 2, third: 3, never: undefined });
  });

  it("stores a busy run's ids (100 over 5 minutes) as one segment and stops reading pruned segments at once, leaving them to TTL", async () => {
    const tenant = newTenant();
    const store = createStore();
    const lease = await store.acquireLease(tenant, 'worker-a', TTL);
    if (lease === null) throw new Error('no lease');
    const base = 1_800_000_000_000;
    const run = (from: number) =>
      Array.from({ length: 100 }, (_, i) => ({ id: `act-${from}-${i}`, timestampMs: from + i * 3_000 }));

    await store.advanceCursor(lease, 's', cursorAt(base + 297_000), { seen: run(base) });
    const first = await store.getStream(tenant, 's');
    await store.advanceCursor(lease, 's', cursorAt(base + 1_200_000), {
      seen: run(base + 900_000),
      prune: first.segments,
    });
    const second = await store.getStream(tenant, 's');
    const stored = await rawSegments(tenant, 's');

    expect(first.segments).toHaveLength(1);
    expect(first.segments[0]).toMatchObject({ bucketStartMs: base, bucketEndMs: base + 300_000, count: 100 });
    expect(second.segments).toHaveLength(1);
    expect(second.seen.size).toBe(100);
    expect(second.seen.has(`act-${base}-0`)).toBe(false);
    expect(second.seen.has(`act-${base + 900_000}-99`)).toBe(true);
    // The pruned segment is still stored, with the TTL that deletes it (its newest minute's end + 8 days).
    expect(stored).toHaveLength(2);
    expect(stored.map((item) => Number(item.expiresAt?.N))).toContain(
      Math.ceil((base + 300_000 + 8 * 24 * 3_600_000) / 1000),
    );
  });

  it('reads and prunes segments written in the per-minute layout of ADR 0004 after the upgrade', async () => {
    const tenant = newTenant();
    const client = createClient();
    const { PutItemCommand } = await import('@aws-sdk/client-dynamodb');
    const base = 1_800_000_000_000;
    const minute = 60_000;
    await client.send(
      new PutItemCommand({
        TableName: tableName,
        Item: {
          pk: { S: `TENANT#${tenant}` },
          sk: { S: 'CURSOR#s' },
          positionMs: { N: String(base + 3 * minute) },
          updatedAtMs: { N: '1' },
          version: { N: '4' },
          writeId: { S: 'w-old' },
        },
      }),
    );
    // As the store wrote them before ADR 0112: one item per minute bucket and write, keyed by the bucket.
    for (const bucket of [0, 1, 2]) {
      const bucketMs = base + bucket * minute;
      await client.send(
        new PutItemCommand({
          TableName: tableName,
          Item: {
            pk: { S: `TENANT#${tenant}` },
            sk: { S: `SEEN#s#${String(bucketMs).padStart(15, '0')}#w-old-${bucket}#0` },
            bucketMs: { N: String(bucketMs) },
            d: { B: Buffer.from(seenDigest(`old-${bucket}`), 'base64') },
            writtenEpoch: { N: '1' },
            expiresAt: { N: String(Math.ceil((bucketMs + minute + 8 * 24 * 3_600_000) / 1000)) },
          },
        }),
      );
    }
    const store = createStore({ client });
    const lease = await store.acquireLease(tenant, 'worker-a', TTL);
    if (lease === null) throw new Error('no lease');

    const before = await store.getStream(tenant, 's');
    // The worker's rule: prune what ends at or before the next window's start (here: buckets 0 and 1).
    const keepFrom = base + 2 * minute;
    await store.advanceCursor(lease, 's', cursorAt(base + 4 * minute), {
      seen: [{ id: 'new', timestampMs: base + 4 * minute }],
      prune: before.segments.filter((segment) => segment.bucketEndMs <= keepFrom),
    });
    const after = await store.getStream(tenant, 's');

    expect(before.segments.map((s) => [s.bucketStartMs - base, s.bucketEndMs - base, s.count])).toEqual([
      [0, minute, 1],
      [minute, 2 * minute, 1],
      [2 * minute, 3 * minute, 1],
    ]);
    expect(['old-0', 'old-1', 'old-2'].map((id) => before.seen.has(id))).toEqual([true, true, true]);
    expect(['old-0', 'old-1', 'old-2', 'new'].map((id) => after.seen.has(id))).toEqual([
      false,
      false,
      true,
      true,
    ]);
    expect(after.segments.map((s) => s.bucketStartMs - base)).toEqual([2 * minute, 4 * minute]);
  });

  it.runIf(backend.reportsCapacity)(
    'spends one segment put (2 write units) and one cursor write per busy run (1 unit in the lease item) and reads its seen-set in two 4 KB units',
    async () => {
      const tenant = newTenant();
      const client = createClient();
      const consumed: Array<[string, number]> = [];
      // Asks DynamoDB for the capacity each call consumed; the store itself does not need it.
      const meter: InitializeMiddleware<ServiceInputTypes, ServiceOutputTypes> =
        (next, context) => async (args) => {
          const input = args.input as { ReturnConsumedCapacity?: string };
          input.ReturnConsumedCapacity = 'TOTAL';
          const result = await next(args);
          const capacity = (result.output as { ConsumedCapacity?: { CapacityUnits?: number } })
            .ConsumedCapacity;
          if (capacity !== undefined && !Array.isArray(capacity)) {
            consumed.push([context.commandName ?? '', capacity.CapacityUnits ?? 0]);
          }
          return result;
        };
      client.middlewareStack.add(meter, { step: 'initialize', name: 'meter' });
      const store = createStore({ client });
      const lease = await store.acquireLease(tenant, 'worker-a', 3_600_000);
      if (lease === null) throw new Error('no lease');
      const overlap = 10 * 60_000;
      let now = 1_800_000_000_000;
      const cycles: Array<Array<[string, number]>> = [];
      // Busy runs 5 minutes apart, 100 actions each, pruned as the worker prunes.
      for (let cycle = 0; cycle < 6; cycle++, now += 300_000) {
        consumed.length = 0;
        const state = await (await store.readTenant(lease)).stream('s');
        const seen = Array.from({ length: 100 }, (_, i) => ({
          id: `act-${cycle}-${i}`,
          timestampMs: now - 1_000 - i * 3_000,
        }));
        const position = now - 1_000;
        const next = cursorAt(position);
        const prune = state.segments.filter((segment) => segment.bucketEndMs <= position - overlap);
        await store.advanceCursor(lease, 's', next, { seen, prune, home: home ?? state.home });
        cycles.push([...consumed]);
        const counted = advanceCursorUnits(lease, 's', next, { seen, prune, home });
        const put = consumed.filter(([name]) => name === 'PutItemCommand');
        expect(put).toEqual([['PutItemCommand', 2]]);
        if (home === 'item') {
          // A transaction of the lease check and the cursor item (DynamoDB Local reports no units for it).
          expect(counted).toEqual({ requests: 2, writeUnits: 2 + 4 });
        } else {
          // One UpdateItem of the lease item, under 1 KB: the first makes the entry the read said to make.
          expect(consumed.filter(([name]) => name === 'UpdateItemCommand')).toEqual([
            ['UpdateItemCommand', 1],
          ]);
          expect(counted).toEqual({ requests: 2, writeUnits: 2 + 1 });
        }
      }
      const reads = cycles.map((c) =>
        c.filter(([name]) => name === 'QueryCommand').map(([, units]) => units),
      );
      // The cost model's count of the seen-set query agrees with DynamoDB Local's, once steady.
      const state = await (await store.readTenant(lease)).stream('s');
      expect(seenReadUnits(lease, 's', state.segments)).toBe(2);

      console.log(
        `busy stream, read units of the tenant's query and the seen-set query per run: ${JSON.stringify(reads)}`,
      );
      // Steady state: the cursors, health and lease items in one unit; the three segments a read meets
      // (1.4 KB each: 100 digests and the keys) in two 4 KB units.
      for (const units of reads.slice(3)) expect(units).toEqual([1, 2]);
    },
  );
  /** The tenant's lease item as stored. */
  async function rawLease(tenant: string) {
    const { GetItemCommand } = await import('@aws-sdk/client-dynamodb');
    const out = await createClient().send(
      new GetItemCommand({
        TableName: tableName,
        Key: { pk: { S: `TENANT#${tenant}` }, sk: { S: 'LEASE' } },
        ConsistentRead: true,
      }),
    );
    return out.Item ?? {};
  }

  it.runIf(home === undefined)(
    'keeps the first streams in the lease item, the next in items of their own, and never lets TTL take the lease item',
    async () => {
      const tenant = newTenant();
      const store = createStore();
      const lease = await store.acquireLease(tenant, 'worker-a', TTL);
      if (lease === null) throw new Error('no lease');
      const streams = Array.from(
        { length: INLINE_CURSORS_MAX + 2 },
        (_, i) => `str_${String(i).padStart(26, '0')}`,
      );

      const state = await store.readTenant(lease);
      const homes: Array<string | undefined> = [];
      for (const [i, id] of streams.entries()) {
        const stream = await state.stream(id);
        homes.push(stream.home);
        // Half the writes without the hint: the store then finds the home from the refused write.
        await store.advanceCursor(lease, id, cursorAt(1_000 + i), i % 2 === 0 ? { home: stream.home } : {});
      }
      await store.renewLease(lease, TTL);
      await store.releaseLease(lease);
      const item = await rawLease(tenant);
      const again = await createStore().readTenant(lease);
      const positions = await Promise.all(
        streams.map(async (id) => (await again.stream(id)).cursor?.positionMs),
      );

      expect(homes).toEqual([...Array(INLINE_CURSORS_MAX).fill('new'), 'item', 'item']);
      expect(Object.keys(item.c?.M ?? {})).toEqual(
        expect.arrayContaining(streams.slice(0, INLINE_CURSORS_MAX)),
      );
      expect(Object.keys(item.c?.M ?? {})).toHaveLength(INLINE_CURSORS_MAX);
      expect(item.expiresAt).toBeUndefined();
      expect(positions).toEqual(streams.map((_, i) => 1_000 + i));
      const { QueryCommand } = await import('@aws-sdk/client-dynamodb');
      const items = await createClient().send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': { S: `TENANT#${tenant}` }, ':prefix': { S: 'CURSOR#' } },
          ConsistentRead: true,
        }),
      );
      expect((items.Items ?? []).map((i) => i.sk?.S)).toEqual(
        streams.slice(INLINE_CURSORS_MAX).map((id) => `CURSOR#${id}`),
      );
    },
  );

  it.runIf(home === undefined)(
    'upgrades a lease item and cursor items written before ADR 0126: the further position and the higher floor win',
    async () => {
      const tenant = newTenant();
      const client = createClient();
      const { PutItemCommand } = await import('@aws-sdk/client-dynamodb');
      const put = (Item: Record<string, AttributeValue>) =>
        client.send(
          new PutItemCommand({ TableName: tableName, Item: { pk: { S: `TENANT#${tenant}` }, ...Item } }),
        );
      // As the store wrote them before: a lease item with a TTL and no map, and two cursor items.
      await put({
        sk: { S: 'LEASE' },
        owner: { S: 'old-worker' },
        epoch: { N: '7' },
        leaseExpiresAtMs: { N: '0' },
        acquiredAtMs: { N: '1' },
        expiresAt: { N: '1900000000' },
      });
      for (const [stream, position, floor] of [
        ['ahead', 9_000, 4_000],
        ['behind', 2_000, 1_000],
      ] as const) {
        await put({
          sk: { S: `CURSOR#${stream}` },
          positionMs: { N: String(position) },
          updatedAtMs: { N: '1' },
          version: { N: '3' },
          writeId: { S: 'w-old' },
          seenFloorMs: { N: String(floor) },
          idsAtPosition: { L: [{ S: `legacy-${stream}` }] },
        });
      }
      const store = createStore({ client });
      const lease = await store.acquireLease(tenant, 'worker-a', TTL);
      if (lease === null) throw new Error('no lease');
      const before = await store.readTenant(lease);
      const ahead = await before.stream('ahead');
      const behind = await before.stream('behind');
      // A writer of before ADR 0126 still moves its item; the new write goes to the lease item.
      await store.advanceCursor(lease, 'behind', cursorAt(5_000), { home: behind.home });
      await store.advanceCursor(lease, 'ahead', cursorAt(6_000), { home: ahead.home });
      await store.advanceCursor(lease, 'ahead', cursorAt(9_500), { home: 'item' });
      const after = await store.readTenant(lease);
      const [aheadAfter, behindAfter] = [await after.stream('ahead'), await after.stream('behind')];

      expect(lease.epoch).toBe(8);
      expect((await rawLease(tenant)).expiresAt).toBeUndefined();
      expect([ahead.home, behind.home]).toEqual(['new', 'new']);
      expect([ahead.cursor?.positionMs, behind.cursor?.positionMs]).toEqual([9_000, 2_000]);
      // 'ahead': the lease item's 6,000 is behind the item's 9,500 (a writer that still writes items).
      expect(aheadAfter.cursor?.positionMs).toBe(9_500);
      expect(behindAfter.cursor?.positionMs).toBe(5_000);
      expect([aheadAfter.home, behindAfter.home]).toEqual(['lease', 'lease']);
      // Legacy ids stay seen whichever home is ahead.
      expect([aheadAfter.seen.has('legacy-ahead'), behindAfter.seen.has('legacy-behind')]).toEqual([
        true,
        true,
      ]);
    },
  );

  it.runIf(home === undefined)(
    "fences an ex-holder's first write of a stream (a new entry) that the new holder has not written",
    async () => {
      const tenant = newTenant();
      let now = Date.now();
      const store = createStore({ clock: () => now });
      const old = await store.acquireLease(tenant, 'worker-a', 1_000);
      if (old === null) throw new Error('no lease');
      now += 1_001;
      const taken = await store.acquireLease(tenant, 'worker-b', TTL);

      const error = await store
        .advanceCursor(old, 'fresh', cursorAt(700), { home: 'new' })
        .catch((e: unknown) => e);
      const expired = await createStore({ clock: () => now + TTL })
        .advanceCursor(taken ?? old, 'fresh', cursorAt(800), { home: 'new' })
        .catch((e: unknown) => e);

      expect(taken?.epoch).toBe(old.epoch + 1);
      expect(error).toMatchObject({ code: 'LEASE_LOST' });
      // The holder's own lease, once expired by its clock, fences it too.
      expect(expired).toMatchObject({ code: 'LEASE_LOST' });
      expect(await store.getCursor(tenant, 'fresh')).toBeNull();
    },
  );

  it.runIf(home === undefined)(
    "judges leases by the service's clock: workers whose clocks run 2 minutes ahead or behind neither take a held lease nor write one already expired (ADR 0135)",
    async () => {
      const SKEW = 2 * 60_000;
      // Each worker as production builds it: its own clock corrected by the answers of its own client.
      const worker = (skewMs: number) => {
        const local = () => Date.now() + skewMs;
        return createStore({ client: createClient(), serverClock: createServerClock(local) });
      };
      const honest = worker(0);
      const ahead = worker(SKEW);
      const behind = worker(-SKEW);

      const tenant = newTenant();
      const held = await honest.acquireLease(tenant, 'worker-a#run-1', TTL);
      if (held === null) throw new Error('no lease');
      await honest.renewLease(held, TTL);
      expect(await ahead.acquireLease(tenant, 'worker-b#run-2', TTL)).toBeNull();

      const other = newTenant();
      const slow = await behind.acquireLease(other, 'worker-slow#run-1', TTL);
      expect(slow?.expiresAtMs).toBeGreaterThan(Date.now() + TTL / 2);
      expect(await honest.acquireLease(other, 'worker-a#run-2', TTL)).toBeNull();
    },
  );

  it.runIf(home === undefined)(
    'reads the stuck findings of the later write when an inline entry and a cursor item share a position, and reads back only what it can write (ADR 0133)',
    async () => {
      const tenant = newTenant();
      const store = createStore();
      const lease = await store.acquireLease(tenant, 'worker-a', TTL);
      if (lease === null) throw new Error('no lease');
      const stuck = (runs: number) => [
        { key: 'AbCdEfGhIjKlMnOpQrSt_-', actionMs: 1_100, runs, sinceMs: 100 },
      ];
      await store.advanceCursor(lease, 's', { positionMs: 1_000, updatedAtMs: 1_000, stuck: stuck(1) });
      // Inline cursors switched off: the same position is written to a cursor item, later.
      const off = createStore({ inlineCursors: false });
      await off.advanceCursor(lease, 's', { positionMs: 1_000, updatedAtMs: 2_000, stuck: stuck(2) });
      await off.advanceCursor(lease, 's', { positionMs: 1_000, updatedAtMs: 3_000, stuck: stuck(3) });
      expect((await off.getCursor(tenant, 's'))?.stuck).toEqual(stuck(3));

      // An entry the writer would refuse (a key too long: another version, or a hand edit) is not read.
      const other = newTenant();
      const mine = await store.acquireLease(other, 'worker-a', TTL);
      if (mine === null) throw new Error('no lease');
      await store.advanceCursor(mine, 's', {
        positionMs: 1_000,
        updatedAtMs: 1_000,
        stuck: [...stuck(1), ...stuck(2)],
      });
      const { UpdateItemCommand } = await import('@aws-sdk/client-dynamodb');
      await createClient().send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: { pk: { S: `TENANT#${other}` }, sk: { S: 'LEASE' } },
          UpdateExpression: 'SET #c.#s.k[0].k = :k',
          ExpressionAttributeNames: { '#c': 'c', '#s': 's' },
          ExpressionAttributeValues: { ':k': { S: 'x'.repeat(70) } },
        }),
      );
      const read = await store.getCursor(other, 's');
      expect(read?.stuck).toEqual(stuck(2));
      await expect(
        store.advanceCursor(mine, 's', { positionMs: 1_000, updatedAtMs: 2_000, stuck: read?.stuck }),
      ).resolves.toBe('advanced');
    },
  );

  it.runIf(home === undefined)(
    'writes cursor items only while inline cursors are off (the first phase of the upgrade), and reads both',
    async () => {
      const tenant = newTenant();
      const store = createStore();
      const lease = await store.acquireLease(tenant, 'worker-a', TTL);
      if (lease === null) throw new Error('no lease');
      await store.advanceCursor(lease, 'inline', cursorAt(1_000));
      const phaseOne = createStore({ inlineCursors: false });

      const state = await phaseOne.readTenant(lease);
      const [inline, fresh] = [await state.stream('inline'), await state.stream('fresh')];
      await phaseOne.advanceCursor(lease, 'inline', cursorAt(2_000), { home: inline.home });
      await phaseOne.advanceCursor(lease, 'fresh', cursorAt(3_000), { home: 'new' });
      const item = await rawLease(tenant);

      expect([inline.home, fresh.home]).toEqual(['item', 'item']);
      expect(inline.cursor?.positionMs).toBe(1_000);
      expect(Object.keys(item.c?.M ?? {})).toEqual(['inline']);
      expect(item.c?.M?.inline?.M?.p).toEqual({ N: '1000' });
      expect((await phaseOne.getCursor(tenant, 'inline'))?.positionMs).toBe(2_000);
      expect((await store.getCursor(tenant, 'fresh'))?.positionMs).toBe(3_000);
    },
  );

  /** A store whose client counts the queries it sends (the tenant's and the seen-sets'). */
  function countingQueries(options: Partial<StateStoreOptions> = {}) {
    const client = createClient();
    const queries: string[] = [];
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'QueryCommand') {
          const from = (args.input as { ExpressionAttributeValues?: Record<string, { S?: string }> })
            .ExpressionAttributeValues?.[':from']?.S;
          queries.push(from === 'CURSOR#' ? 'tenant' : 'seen');
        }
        return next(args);
      },
      { step: 'initialize', name: 'countQueries' },
    );
    return { store: createStore({ client, ...options }), queries };
  }

  it.runIf(home === undefined)(
    "skips the tenant's query once a holder found only the lease item, until a cursor item or the health item is written (ADR 0127)",
    async () => {
      const tenant = newTenant();
      const { store, queries } = countingQueries();
      const run = async (write: (lease: Lease) => Promise<unknown>) => {
        const lease = await store.acquireLease(tenant, 'worker-a', TTL);
        if (lease === null) throw new Error('no lease');
        queries.length = 0;
        const state = await store.readTenant(lease);
        const tenantQueries = queries.filter((q) => q === 'tenant').length;
        const a = await state.stream('a');
        await write(lease);
        await store.releaseLease(lease);
        return { tenantQueries, a, openHealth: state.openHealth };
      };

      const first = await run((lease) => store.advanceCursor(lease, 'a', cursorAt(1_000), { home: 'new' }));
      const second = await run((lease) =>
        store.advanceCursor(lease, 'a', cursorAt(2_000), { home: 'lease' }),
      );
      // A sixth stream's cursor item, written in the transaction that also sets the flag.
      const third = await run((lease) => store.advanceCursor(lease, 'b', cursorAt(3_000), { home: 'item' }));
      const fourth = await run(async () => undefined);
      const health = [{ destinationId: 'd', region: 'r', condition: 'c', openedAtMs: 1, imported: true }];
      const fifth = await run((lease) => store.saveOpenHealth(lease, health));
      const sixth = await run(async () => undefined);

      expect([first, second, third, fourth, fifth, sixth].map((r) => r.tenantQueries)).toEqual([
        1, 0, 0, 1, 1, 1,
      ]);
      // Without the query, the cursor comes from the lease item the holder acquired.
      expect([first.a.cursor, second.a.cursor?.positionMs, third.a.cursor?.positionMs]).toEqual([
        null,
        1_000,
        2_000,
      ]);
      expect(sixth.openHealth).toEqual(health);
      expect((await rawLease(tenant)).q).toBeUndefined();
    },
  );

  it.runIf(home === undefined)(
    "makes the next holder query after any acquisition in between, whoever made it (ADR 0127's epoch stamp)",
    async () => {
      const tenant = newTenant();
      const { store, queries } = countingQueries();
      const run = async () => {
        const lease = await store.acquireLease(tenant, 'worker-a', TTL);
        if (lease === null) throw new Error('no lease');
        queries.length = 0;
        await store.readTenant(lease);
        await store.releaseLease(lease);
        return { epoch: lease.epoch, tenantQueries: queries.filter((q) => q === 'tenant').length };
      };

      const first = await run();
      const stamp = (await rawLease(tenant)).q;
      // A worker that does not stamp (an older version, or one that never read): it only acquires.
      const other = createStore();
      const between = await other.acquireLease(tenant, 'worker-old', TTL);
      if (between === null) throw new Error('no lease');
      await other.releaseLease(between);
      const second = await run();
      const third = await run();

      expect(stamp).toEqual({ N: String(first.epoch) });
      expect([first.tenantQueries, second.tenantQueries, third.tenantQueries]).toEqual([1, 1, 0]);
      expect(third.epoch).toBe(first.epoch + 3);
    },
  );

  it.runIf(home === undefined)(
    'reads the cursors without the lease only while nobody holds it and its last holder stamped it (ADR 0136)',
    async () => {
      const tenant = newTenant();
      const store = createStore();
      const peek = async () => {
        const state = await store.peekTenant(tenant);
        return state === null ? null : (state.cursor('a')?.positionMs ?? 'none');
      };
      const alone: boolean[] = [];
      const run = async (write: (lease: Lease) => Promise<unknown>, release = true) => {
        const lease = await store.acquireLease(tenant, 'worker-a', TTL);
        if (lease === null) throw new Error('no lease');
        alone.push((await store.readTenant(lease)).alone);
        await write(lease);
        const during = await peek();
        if (release) await store.releaseLease(lease);
        return during;
      };

      const never = await peek();
      // First holder: its query found nothing else, its release stamps.
      const heldFirst = await run((lease) =>
        store.advanceCursor(lease, 'a', cursorAt(1_000), { home: 'new' }),
      );
      const stamped = await peek();
      const heldSecond = await run((lease) =>
        store.advanceCursor(lease, 'a', cursorAt(2_000), { home: 'lease' }),
      );
      const moved = await peek();
      // A sixth stream's cursor item: the stamp goes, and the state is not all in the lease item.
      await run((lease) => store.advanceCursor(lease, 'b', cursorAt(3_000), { home: 'item' }));
      const withItem = await peek();
      // A holder that found the cursor item stamps nothing: still not readable without the lease.
      await run(async () => undefined);
      const stillItem = await peek();

      // Another tenant: a holder that never released (expired), and the health item.
      const other = newTenant();
      const expired = createStore({ clock: () => Date.now() - 2 * TTL });
      const old = await expired.acquireLease(other, 'worker-x', TTL);
      if (old === null) throw new Error('no lease');
      await expired.readTenant(old);
      const afterCrash = await store.peekTenant(other);
      const lease = await store.acquireLease(other, 'worker-a', TTL);
      if (lease === null) throw new Error('no lease');
      await store.readTenant(lease);
      const health = [{ destinationId: 'd', region: 'r', condition: 'c', openedAtMs: 1, imported: true }];
      await store.saveOpenHealth(lease, health);
      await store.releaseLease(lease);
      const withHealth = await store.peekTenant(other);

      expect([never, heldFirst, stamped, heldSecond, moved, withItem, stillItem]).toEqual([
        null,
        null,
        1_000,
        null,
        2_000,
        null,
        null,
      ]);
      expect([afterCrash, withHealth]).toEqual([null, null]);
      // What the holders read: all in the lease item, until the cursor item.
      expect(alone).toEqual([true, true, true, false]);
      // What it reads is the stamped item's: no health condition, and a stream's seen-set on demand.
      const a = newTenant();
      const first = await store.acquireLease(a, 'worker-a', TTL);
      if (first === null) throw new Error('no lease');
      await store.readTenant(first);
      await store.advanceCursor(first, 's', cursorAt(5_000), {
        home: 'new',
        seen: [{ id: 'act-1', timestampMs: 4_900 }],
      });
      await store.releaseLease(first);
      const state = await store.peekTenant(a);
      expect(state?.openHealth).toEqual([]);
      expect((await state?.stream('s'))?.seen.has('act-1')).toBe(true);
    },
  );

  it.runIf(home === undefined)(
    'never skips the query while inline cursors are off, and lets no stale holder clear the flag',
    async () => {
      const tenant = newTenant();
      let now = Date.now();
      const { store, queries } = countingQueries({ inlineCursors: false });
      for (let i = 0; i < 2; i++) {
        const lease = await store.acquireLease(tenant, 'worker-a', TTL);
        if (lease === null) throw new Error('no lease');
        await store.readTenant(lease);
        await store.releaseLease(lease);
      }
      const phaseOneQueries = queries.filter((q) => q === 'tenant').length;
      const item = await rawLease(tenant);

      const later = createStore({ clock: () => now });
      const stale = await later.acquireLease(tenant, 'worker-a', 1_000);
      if (stale === null) throw new Error('no lease');
      await later.readTenant(stale);
      now += 1_001;
      const taken = await createStore({ clock: () => now }).acquireLease(tenant, 'worker-b', TTL);
      const released = await later.releaseLease(stale);

      expect(phaseOneQueries).toBe(2);
      expect(item.q).toBeUndefined();
      // The stale holder's own query found the lease item only, yet its release is refused.
      expect(taken).not.toBeNull();
      expect(released).toBe(false);
      expect((await rawLease(tenant)).q).toBeUndefined();
    },
  );

  it.runIf(backend.reportsCapacity && home === undefined)(
    'bills every lease write one unit with the most inline cursors, their window digests and a long owner',
    async () => {
      const tenant = newTenant();
      const client = createClient();
      const consumed: number[] = [];
      client.middlewareStack.add(
        (next) => async (args) => {
          (args.input as { ReturnConsumedCapacity?: string }).ReturnConsumedCapacity = 'TOTAL';
          const result = await next(args);
          const capacity = (result.output as { ConsumedCapacity?: { CapacityUnits?: number } })
            .ConsumedCapacity;
          if (capacity !== undefined && !Array.isArray(capacity)) consumed.push(capacity.CapacityUnits ?? 0);
          return result;
        },
        { step: 'initialize', name: 'meter' },
      );
      const store = createStore({ client });
      // A worker id of 80 bytes (the most env.ts allows) as a backfill names its owner, the longest.
      const owner = `${'h'.repeat(80)}#backfill#${randomUUID()}`;
      const lease = await store.acquireLease(tenant, owner, TTL);
      if (lease === null) throw new Error('no lease');
      const state = await store.readTenant(lease);
      for (let i = 0; i < INLINE_CURSORS_MAX; i++) {
        const id = `str_${randomUUID().replaceAll('-', '').slice(0, 26)}`;
        const stream = await state.stream(id);
        await store.advanceCursor(lease, id, cursorAt(1_800_000_000_000 + i), { home: stream.home });
        // With its window digest (ADR 0128, 0146): a hash, a count of 99,999 and an 8-digit epoch, 37
        // characters more per entry.
        await store.advanceCursor(
          lease,
          id,
          { ...cursorAt(1_800_000_300_000 + i), windowDigest: `${'A'.repeat(22)}.99999.99999999` },
          {
            home: 'lease',
            prune: [{ key: 'k', bucketStartMs: 0, bucketEndMs: 1_799_999_400_000, count: 1 }],
          },
        );
      }
      consumed.length = 0;
      await store.renewLease(lease, TTL);
      await store.advanceCursor(lease, 'str_00000000000000000000000000', cursorAt(1_800_000_600_000), {
        home: 'item',
      });
      await store.releaseLease(lease);
      const item = await rawLease(tenant);

      console.log(
        `lease item with ${INLINE_CURSORS_MAX} inline cursors and a ${owner.length}-byte owner: ${itemBytes(item)} bytes`,
      );
      expect(itemBytes(item)).toBeLessThanOrEqual(1024);
      // Renewal, the query of the cursor write into an item (none: its units are not reported), release.
      expect(consumed.filter((units) => units > 1)).toEqual([]);
    },
  );

  it('recognises its own write when the response was lost after the server applied it and the SDK retried', async () => {
    const tenant = newTenant();
    const client = createClient();
    let attempts = 0;
    let armed = false;
    // Below the SDK's retry middleware: lets the first cursor write reach the server, then drops its
    // answer with a retryable network error, so the SDK sends the same request again.
    const dropFirstResponse: FinalizeRequestMiddleware<ServiceInputTypes, ServiceOutputTypes> =
      (next, context) => async (args) => {
        if (!armed || context.commandName !== CURSOR_WRITE) return next(args);
        const attempt = attempts++;
        const result = await next(args);
        if (attempt === 0) throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
        return result;
      };
    client.middlewareStack.addRelativeTo(dropFirstResponse, {
      relation: 'after',
      toMiddleware: 'retryMiddleware',
      name: 'dropFirstResponse',
    });
    const store = createStore({ client });
    const lease = await store.acquireLease(tenant, 'worker-a', TTL);
    if (lease === null) throw new Error('no lease');
    armed = true;

    // In the lease item, the write that makes the stream's entry: its retry is refused (the entry is
    // there) and the returned item shows our write id.
    const outcome = await store.advanceCursor(lease, 's', cursorAt(3_000), {
      seen: [{ id: 'z', timestampMs: 3_000 }],
      home: home ?? 'new',
    });

    expect(attempts).toBe(2);
    expect(outcome).toBe('advanced');
    // DynamoDB (and DynamoDB Local) drop the retry by its ClientRequestToken; moto applies it again,
    // which the same-position rule accepts: the same position, the same segment key, one more version.
    const stored = await store.getCursor(tenant, 's');
    expect(stored?.positionMs).toBe(3_000);
    expect([1, 2]).toContain(stored?.version);
    expect((await store.getStream(tenant, 's')).seen.has('z')).toBe(true);
  });
});
