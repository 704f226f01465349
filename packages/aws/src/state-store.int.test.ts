import { randomUUID } from 'node:crypto';
import { DynamoDBClient, type ServiceInputTypes, type ServiceOutputTypes } from '@aws-sdk/client-dynamodb';
import type { FinalizeRequestMiddleware } from '@smithy/types';
import { startDynamoDbLocal, startMoto, testAwsConfig } from '@vsh/testkit';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import {
  type Cursor,
  createStateStore,
  type Lease,
  StateError,
  type StateStoreOptions,
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
}

// The same tests on both local DynamoDBs: moto (what the rest of the suite uses) and DynamoDB Local
// (Amazon's own engine, the higher-fidelity one for conditions and transactions).
const servers: Array<[string, Backend]> = [
  ['moto_server', { start: startMoto, atomicWrites: false }],
  ['DynamoDB Local', { start: startDynamoDbLocal, atomicWrites: true }],
];

const TTL = 30_000;
const cursorAt = (positionMs: number, idsAtPosition: string[] = []): Cursor => ({
  positionMs,
  idsAtPosition,
  updatedAtMs: positionMs,
});

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

describe.each(servers)('state store on %s', (_name, backend) => {
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

  function createStore(options: Partial<StateStoreOptions> = {}) {
    return createStateStore({ client: options.client ?? createClient(), tableName, ...options });
  }

  const newTenant = () => `tenant-${randomUUID()}`;

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

  it('never moves a cursor backwards and accepts more ids at the same position', async () => {
    const tenant = newTenant();
    const store = createStore();
    const lease = await store.acquireLease(tenant, 'worker-a', TTL);
    if (lease === null) throw new Error('no lease');
    await store.advanceCursor(lease, 's', cursorAt(1_000, ['a']));

    const more = await store.advanceCursor(lease, 's', cursorAt(1_000, ['a', 'b']));
    const fewer = await store.advanceCursor(lease, 's', cursorAt(1_000, ['a'])).catch((err: unknown) => err);
    const earlier = await store
      .advanceCursor(lease, 's', cursorAt(999, ['x', 'y', 'z']))
      .catch((err: unknown) => err);
    const other = await store
      .advanceCursor(lease, 's', cursorAt(1_000, ['c', 'd']))
      .catch((err: unknown) => err);

    expect(more).toBe('advanced');
    expect(fewer).toMatchObject({ code: 'CURSOR_REGRESSION' });
    expect(earlier).toMatchObject({ code: 'CURSOR_REGRESSION' });
    expect(other).toMatchObject({ code: 'CONFLICT' });
    expect(await store.getCursor(tenant, 's')).toMatchObject({
      positionMs: 1_000,
      idsAtPosition: ['a', 'b'],
      version: 2,
    });
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

  it('stores the ids of the overlap window and lets them grow at the same position', async () => {
    const tenant = newTenant();
    const store = createStore();
    const lease = await store.acquireLease(tenant, 'worker-a', TTL);
    if (lease === null) throw new Error('no lease');
    await store.advanceCursor(lease, 's', { ...cursorAt(5_000, ['a']), recentIds: ['r1'] });

    const grown = await store.advanceCursor(lease, 's', {
      ...cursorAt(5_000, ['a']),
      recentIds: ['r1', 'late'],
    });
    const same = await store.advanceCursor(lease, 's', {
      ...cursorAt(5_000, ['a']),
      recentIds: ['late', 'r1'],
    });

    expect([grown, same]).toEqual(['advanced', 'unchanged']);
    expect(await store.getCursor(tenant, 's')).toMatchObject({
      positionMs: 5_000,
      idsAtPosition: ['a'],
      recentIds: ['r1', 'late'],
    });
  });

  it('answers unchanged, not an error, when the same advance is issued twice', async () => {
    const tenant = newTenant();
    const store = createStore();
    const lease = await store.acquireLease(tenant, 'worker-a', TTL);
    if (lease === null) throw new Error('no lease');
    const next = cursorAt(2_000, ['x', 'y']);

    const first = await store.advanceCursor(lease, 's', next);
    const second = await store.advanceCursor(lease, 's', { ...next, idsAtPosition: ['y', 'x'] });

    expect([first, second]).toEqual(['advanced', 'unchanged']);
    expect((await store.getCursor(tenant, 's'))?.version).toBe(1);
  });

  it('recognises its own write when the response was lost after the server applied it and the SDK retried', async () => {
    const tenant = newTenant();
    const client = createClient();
    let attempts = 0;
    // Below the SDK's retry middleware: lets the first TransactWriteItems reach the server, then
    // drops its answer with a retryable network error, so the SDK sends the same request again.
    const dropFirstResponse: FinalizeRequestMiddleware<ServiceInputTypes, ServiceOutputTypes> =
      (next, context) => async (args) => {
        if (context.commandName !== 'TransactWriteItemsCommand') return next(args);
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

    const outcome = await store.advanceCursor(lease, 's', cursorAt(3_000, ['z']));

    expect(attempts).toBe(2);
    expect(outcome).toBe('advanced');
    expect(await store.getCursor(tenant, 's')).toMatchObject({
      positionMs: 3_000,
      idsAtPosition: ['z'],
      version: 1,
    });
  });
});
