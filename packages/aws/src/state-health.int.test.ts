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
});
