import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type DynamoDbLocal, startDynamoDbLocal, testAwsConfig } from '@vsh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStateStore, type OpenHealthCondition, StateError } from './state-store.ts';

const TTL = 30_000;

describe('open health conditions on DynamoDB Local (ADR 0116)', () => {
  let server: DynamoDbLocal;
  let client: DynamoDBClient;
  const tableName = `vsh-state-${randomUUID()}`;

  beforeAll(async () => {
    server = await startDynamoDbLocal();
    client = new DynamoDBClient(testAwsConfig(server.endpoint));
    await createStateStore({ client, tableName }).ensureTable();
  });
  afterAll(async () => {
    client?.destroy();
    await server?.stop();
  });

  const condition = (destinationId: string, openedAtMs: number, imported = true): OpenHealthCondition => ({
    destinationId,
    region: 'eu-west-1',
    condition: 'vaikora_auth',
    openedAtMs,
    imported,
  });

  it('reads none for a tenant that never had one, then what the lease holder saved', async () => {
    const store = createStateStore({ client, tableName });
    const tenant = `tenant-${randomUUID()}`;
    const lease = await store.acquireLease(tenant, 'run-1', TTL);
    if (lease === null) throw new Error('lease not taken');

    const before = await store.getOpenHealth(tenant);
    await store.saveOpenHealth(lease, [condition('dst_a', 1_000), condition('dst_b', 2_000, false)]);
    const saved = await store.getOpenHealth(tenant);
    await store.saveOpenHealth(lease, [condition('dst_b', 2_000)]);
    const after = await store.getOpenHealth(tenant);

    expect(before).toEqual([]);
    expect(saved).toEqual([condition('dst_a', 1_000), condition('dst_b', 2_000, false)]);
    expect(after).toEqual([condition('dst_b', 2_000)]);
  });

  it('refuses a write from a run whose lease was taken over, and keeps the new holder’s state', async () => {
    let now = 1_000_000;
    const store = createStateStore({ client, tableName, clock: () => now });
    const tenant = `tenant-${randomUUID()}`;
    const stale = await store.acquireLease(tenant, 'run-old', TTL);
    if (stale === null) throw new Error('lease not taken');
    now += TTL + 1;
    const current = await store.acquireLease(tenant, 'run-new', TTL);
    if (current === null) throw new Error('lease not taken');
    await store.saveOpenHealth(current, [condition('dst_new', now)]);

    const refused = await store.saveOpenHealth(stale, []).catch((err: unknown) => err);

    expect(refused).toBeInstanceOf(StateError);
    expect(refused).toMatchObject({ code: 'LEASE_LOST' });
    expect(await store.getOpenHealth(tenant)).toEqual([condition('dst_new', now)]);
  });

  it('keeps the heartbeat entry’s last import time, and reads an entry without one as before (ADR 0118)', async () => {
    const store = createStateStore({ client, tableName });
    const tenant = `tenant-${randomUUID()}`;
    const lease = await store.acquireLease(tenant, 'run-1', TTL);
    if (lease === null) throw new Error('lease not taken');
    const heartbeat: OpenHealthCondition = {
      ...condition('dst_a', 1_000),
      condition: 'heartbeat',
      sentAtMs: 7_000,
    };

    await store.saveOpenHealth(lease, [heartbeat, condition('dst_a', 2_000)]);
    const read = await store.getOpenHealth(tenant);

    expect(read).toEqual([heartbeat, condition('dst_a', 2_000)]);
    expect(read[1]).not.toHaveProperty('sentAtMs');
  });

  it('reads every cursor and the open health conditions of a tenant in one query, and each seen-set from its own cursor (issue 16)', async () => {
    const store = createStateStore({ client, tableName });
    const tenant = `tenant-${randomUUID()}`;
    const other = `tenant-${randomUUID()}`;
    const lease = await store.acquireLease(tenant, 'run-1', TTL);
    const otherLease = await store.acquireLease(other, 'run-1', TTL);
    if (lease === null || otherLease === null) throw new Error('lease not taken');
    const t0 = Date.now();
    await store.advanceCursor(
      lease,
      'str_a',
      { positionMs: t0, updatedAtMs: t0 },
      {
        seen: [{ id: 'act-a1', timestampMs: t0 - 1_000 }],
      },
    );
    await store.advanceCursor(
      lease,
      'str_b',
      { positionMs: t0 - 5_000, updatedAtMs: t0 },
      {
        seen: [{ id: 'act-b1', timestampMs: t0 - 6_000 }],
      },
    );
    await store.saveOpenHealth(lease, [condition('dst_a', 1_000)]);
    await store.advanceCursor(
      otherLease,
      'str_a',
      { positionMs: t0 + 9_000, updatedAtMs: t0 },
      {
        seen: [{ id: 'act-other', timestampMs: t0 }],
      },
    );
    const queries: string[] = [];
    client.middlewareStack.add(
      (next, context) => (args) => {
        queries.push(String(context.commandName));
        return next(args);
      },
      { step: 'initialize', name: 'countStateCalls' },
    );
    try {
      const state = await store.readTenant(lease);
      const calls = queries.length;
      const [a, b, none] = await Promise.all([
        state.stream('str_a'),
        state.stream('str_b'),
        state.stream('str_new'),
      ]);

      expect(calls).toBe(1);
      expect(queries).toEqual(['QueryCommand', 'QueryCommand', 'QueryCommand', 'QueryCommand']);
      expect(state.openHealth).toEqual([condition('dst_a', 1_000)]);
      expect(a.cursor?.positionMs).toBe(t0);
      expect(b.cursor?.positionMs).toBe(t0 - 5_000);
      expect(none.cursor).toBeNull();
      expect([a.seen.has('act-a1'), a.seen.has('act-b1'), a.seen.has('act-other')]).toEqual([
        true,
        false,
        false,
      ]);
      expect([b.seen.has('act-b1'), b.seen.has('act-a1')]).toEqual([true, false]);
      expect(none.seen.size).toBe(0);
      // The same as the stream-by-stream reads.
      expect(a).toMatchObject({ cursor: (await store.getStream(tenant, 'str_a')).cursor });
      expect(
        (
          await store.readTenant({
            tenantId: `tenant-${randomUUID()}`,
            owner: 'none',
            epoch: 0,
            expiresAtMs: 0,
          })
        ).openHealth,
      ).toEqual([]);
    } finally {
      client.middlewareStack.remove('countStateCalls');
    }
  });
});
