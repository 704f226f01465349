import {
  GetObjectCommand,
  type ListObjectsV2CommandOutput,
  paginateListObjectsV2,
  type S3Client,
} from '@aws-sdk/client-s3';
import { awsDestinations, runs } from '@vsh/db';
import { eq } from 'drizzle-orm';
import { parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVERY_ACTION, type Harness, type SeededTenant, startHarness } from '../test/harness.ts';

// A Security Lake destination end to end (ADR 0120): the worker assumes the tenant's role, maps each
// qualifying action to an OCSF Detection Finding and writes Parquet objects into the lake bucket's custom
// source in moto S3, through the fault proxy; Security Hub is never called for that tenant.

const REGION = 'eu-west-1';
const SOURCE = 'vaikora';
const KEY_PATTERN =
  /^ext\/vaikora\/region=eu-west-1\/accountId=(\d{12})\/eventDay=(\d{8})\/vaikora-[0-9a-f]{40}\.parquet$/;

interface LakeObject {
  readonly key: string;
  readonly uids: string[];
  readonly days: string[];
}

async function listKeys(s3: S3Client, bucket: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const page of paginateListObjectsV2(
    { client: s3 },
    { Bucket: bucket },
  ) as AsyncIterable<ListObjectsV2CommandOutput>) {
    for (const object of page.Contents ?? []) keys.push(object.Key ?? '');
  }
  return keys.sort();
}

/** Reads one object back with a Parquet reader: the rows' finding ids and UTC days of their `time`. */
async function readObject(s3: S3Client, bucket: string, key: string): Promise<LakeObject> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const bytes = await out.Body?.transformToByteArray();
  if (bytes === undefined) throw new Error(`no body for ${key}`);
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const rows = (await parquetReadObjects({ file })) as {
    finding_info: { uid: string };
    time: bigint | number;
    class_uid: number;
    metadata: { tenant_uid: string };
  }[];
  return {
    key,
    uids: rows.map((row) => row.finding_info.uid),
    days: rows.map((row) => new Date(Number(row.time)).toISOString().slice(0, 10).replaceAll('-', '')),
  };
}

describe('a Security Lake destination: the worker writes OCSF Parquet to the custom source, not Security Hub', () => {
  let h: Harness;
  let lake: SeededTenant;
  let missing: SeededTenant;
  let s3: S3Client;
  const startedAt = Date.now();

  beforeAll(async () => {
    h = await startHarness({
      sim: { seed: 120, initialActionsPerAgent: 0, burstRate: 0, badRate: 0, aliasRate: 0 },
    });
    h.sim.store.addTenant('vk_test_lake', ['agt-lake-a', 'agt-lake-b'], 150);
    lake = await h.seedTenant({
      name: 'security lake',
      accountId: '410000000001',
      region: REGION,
      agents: ['agt-lake-a', 'agt-lake-b'],
      vaikoraKey: 'vk_test_lake',
      thresholds: EVERY_ACTION,
      // No Security Hub in the account at all: the lake needs none.
      hubEnabled: false,
      delivery: 'security_lake',
      securityLake: { bucket: `aws-security-data-lake-${REGION}-lake0001`, sourceName: SOURCE },
    });
    await h.createLakeBucket(lake);
    h.sim.store.addTenant('vk_test_lake_missing', ['agt-lake-m'], 20);
    missing = await h.seedTenant({
      name: 'security lake, bucket missing',
      accountId: '410000000002',
      region: REGION,
      agents: ['agt-lake-m'],
      vaikoraKey: 'vk_test_lake_missing',
      thresholds: EVERY_ACTION,
      hubEnabled: false,
      delivery: 'security_lake',
      securityLake: { bucket: `aws-security-data-lake-${REGION}-missing01`, sourceName: SOURCE },
    });
    s3 = await h.customerS3(lake);
  }, 120_000);
  afterAll(async () => {
    s3?.destroy();
    await h?.close();
  });

  const bucket = () => lake.securityLake?.bucket ?? '';
  const readAll = async () =>
    Promise.all((await listKeys(s3, bucket())).map((key) => readObject(s3, bucket(), key)));
  /** PutObject requests into the lake bucket that went through the fault proxy to moto. */
  const putsThroughProxy = () =>
    Object.entries(h.proxy.stats().operations.s3 ?? {})
      .filter(([operation]) => operation.startsWith(`PUT /${bucket()}/`))
      .reduce((n, [, stats]) => n + stats.forwarded, 0);
  const runOf = async (runId: string) => {
    const [row] = await h.database.db.select().from(runs).where(eq(runs.id, runId));
    return row;
  };

  it('writes every qualifying action once, in the layout Security Lake reads, then only what is new', async () => {
    const runtime = h.runtime();
    const expected = h.expectedFindingIds(lake, startedAt - 24 * 3600_000);
    expect(expected.size).toBe(300);

    const first = await runtime.run(lake.tenantId);

    expect(first.kind).toBe('ran');
    const objects = await readAll();
    for (const object of objects) {
      const match = KEY_PATTERN.exec(object.key);
      expect(match?.[1]).toBe(lake.accountId);
      // Each object holds the findings of its own eventDay partition only.
      expect(new Set(object.days)).toEqual(new Set([match?.[2]]));
    }
    const uids = objects.flatMap((o) => o.uids);
    expect(new Set(uids)).toEqual(expected);
    expect(uids).toHaveLength(expected.size);
    expect(putsThroughProxy()).toBe(objects.length);
    // Security Hub was never called for this tenant: no import, no health finding.
    expect(h.proxy.importBatches().filter((b) => b.accounts.includes(lake.accountId))).toEqual([]);
    expect(h.proxy.memoryFindings(lake.accountId, REGION)).toEqual([]);
    const firstRun = await runOf(first.kind === 'ran' ? first.runId : '');
    expect(firstRun).toMatchObject({ status: 'ok', findingsImported: expected.size, recordsRejected: 0 });

    // Nothing new: no object is written (no PUT at all; the keys stay as they were).
    const idle = await runtime.run(lake.tenantId);
    expect(idle.kind).toBe('ran');
    expect(putsThroughProxy()).toBe(objects.length);
    expect(await listKeys(s3, bucket())).toEqual(objects.map((o) => o.key));
    const idleRun = await runOf(idle.kind === 'ran' ? idle.runId : '');
    expect(idleRun?.findingsImported).toBe(0);

    // New actions: only they are written, in new objects.
    for (const agent of lake.agents) h.sim.store.append(lake.vaikoraKey, agent, 20);
    const added = new Set(
      [...h.expectedFindingIds(lake, startedAt - 24 * 3600_000)].filter((id) => !expected.has(id)),
    );
    expect(added.size).toBe(40);
    const next = await runtime.run(lake.tenantId);

    expect(next.kind).toBe('ran');
    const before = new Set(objects.map((o) => o.key));
    const after = await readAll();
    const fresh = after.filter((o) => !before.has(o.key));
    expect(new Set(fresh.flatMap((o) => o.uids))).toEqual(added);
    expect(fresh.flatMap((o) => o.uids)).toHaveLength(added.size);
    expect(putsThroughProxy()).toBe(objects.length + fresh.length);
    expect(after.filter((o) => before.has(o.key))).toEqual(objects);
    expect(h.proxy.importBatches().filter((b) => b.accounts.includes(lake.accountId))).toEqual([]);
  }, 120_000);

  it('stops a destination whose lake bucket does not exist with NO_SUCH_BUCKET, rejecting nothing', async () => {
    const result = await h.runtime({ run: { degradeAfterFailures: 1 } }).run(missing.tenantId);

    expect(result.kind).toBe('ran');
    const [destination] = await h.database.db
      .select()
      .from(awsDestinations)
      .where(eq(awsDestinations.id, missing.destinationId));
    expect(destination?.lastError).toMatch(/^NO_SUCH_BUCKET: /);
    expect(destination?.state).toBe('degraded');
    const run = await runOf(result.kind === 'ran' ? result.runId : '');
    expect(run?.recordsRejected).toBe(0);
    expect(run?.findingsImported).toBe(0);
    expect(h.proxy.importBatches().filter((b) => b.accounts.includes(missing.accountId))).toEqual([]);
  }, 60_000);
});
