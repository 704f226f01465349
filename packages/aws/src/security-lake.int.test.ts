import { randomBytes } from 'node:crypto';
import {
  CreateBucketCommand,
  GetObjectCommand,
  type ListObjectsV2CommandOutput,
  paginateListObjectsV2,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  type Destination,
  type OcsfDetectionFinding,
  parseAction,
  toOcsfDetectionFinding,
  type VaikoraAction,
} from '@vsh/core';
import { EXTREME_STRINGS, generateActions, HOSTILE_STRINGS, hugeString } from '@vsh/fixtures';
import { type MotoServer, startMoto, TEST_CREDENTIALS } from '@vsh/testkit';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createDestinationCredentials, createStsClients, type StsClients } from './credentials.ts';
import { AwsError } from './errors.ts';
import { createSecurityLakeWriter, eventDayOf, type SecurityLakeDestination } from './security-lake.ts';
import { OCSF_DETECTION_FINDING_PARQUET, type ParquetField } from './security-lake-schema.ts';

const REGION = 'eu-west-1';
const DAY_MS = 86_400_000;
let moto: MotoServer;
let stsClients: StsClients;
let nextAccount = 420000000000;

beforeAll(async () => {
  moto = await startMoto();
  stsClients = createStsClients({
    masterCredentials: TEST_CREDENTIALS,
    clientConfig: { endpoint: moto.endpoint },
  });
});
afterAll(async () => {
  stsClients?.destroy();
  await moto?.stop();
});

/** A fresh tenant account, bucket and S3 client that writes with the tenant's assumed role (moto STS). */
async function newLake(options: { createBucket?: boolean } = {}) {
  nextAccount += 1;
  const accountId = String(nextAccount);
  const destination: SecurityLakeDestination = {
    bucket: `aws-security-data-lake-${REGION}-${accountId}`,
    sourceName: 'vaikora',
    accountId,
    region: REGION,
  };
  const credentials = createDestinationCredentials({
    roleArn: `arn:aws:iam::${accountId}:role/VaikoraSecurityLakeWriter`,
    externalId: `ext-${accountId}`,
    sessionName: `vsh-tenant-${accountId}`,
    sts: stsClients.forRegion(REGION),
  });
  const client = new S3Client({
    region: REGION,
    endpoint: moto.endpoint,
    forcePathStyle: true,
    credentials,
    maxAttempts: 2,
  });
  onTestFinished(() => client.destroy());
  if (options.createBucket ?? true) {
    await client.send(
      new CreateBucketCommand({
        Bucket: destination.bucket,
        CreateBucketConfiguration: { LocationConstraint: REGION },
      }),
    );
  }
  return {
    destination,
    client,
    ocsfDestination: { accountId, region: REGION, partition: 'aws' } as Destination,
  };
}

function mapAll(raws: readonly unknown[], destination: Destination): OcsfDetectionFinding[] {
  return raws.flatMap((raw) => {
    const parsed = parseAction(raw);
    return parsed.ok ? [toFinding(parsed.action, destination)] : [];
  });
}

function toFinding(action: VaikoraAction, destination: Destination): OcsfDetectionFinding {
  return toOcsfDetectionFinding(action, {
    destination,
    now: '2026-12-04T00:00:00.000Z',
    productVersion: '1.0.0',
  });
}

async function listKeys(client: S3Client, bucket: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const page of paginateListObjectsV2(
    { client },
    { Bucket: bucket },
  ) as AsyncIterable<ListObjectsV2CommandOutput>) {
    for (const object of page.Contents ?? []) keys.push(object.Key ?? '');
  }
  return keys.sort();
}

async function readObject(client: S3Client, bucket: string, key: string): Promise<ArrayBuffer> {
  const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const bytes = await out.Body?.transformToByteArray();
  if (bytes === undefined) throw new Error(`no body for ${key}`);
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** A Parquet row back in the finding's own shape: INT64 to number, `json` parsed, maps to records, nulls dropped. */
function fromParquet(field: ParquetField, value: unknown): unknown {
  if (value === null || value === undefined) return undefined;
  switch (field.kind) {
    case 'int64':
      return Number(value as bigint);
    case 'json':
      return JSON.parse(value as string);
    case 'struct': {
      const out: Record<string, unknown> = {};
      for (const child of field.fields) {
        const v = fromParquet(child, (value as Record<string, unknown>)[child.name]);
        if (v !== undefined) out[child.name] = v;
      }
      return out;
    }
    case 'list':
      return (value as unknown[]).map((item) => fromParquet(field.element, item));
    case 'map':
      return { ...(value as Record<string, string>) };
    default:
      return value;
  }
}

async function readRows(client: S3Client, bucket: string, key: string): Promise<OcsfDetectionFinding[]> {
  const file = await readObject(client, bucket, key);
  const rows = (await parquetReadObjects({ file })) as Record<string, unknown>[];
  const root: ParquetField = { name: 'finding', kind: 'struct', fields: OCSF_DETECTION_FINDING_PARQUET };
  return rows.map((row) => fromParquet(root, row) as OcsfDetectionFinding);
}

/**
 * What a finding is once its strings are UTF-8: a lone surrogate (which UTF-8 cannot carry) is U+FFFD.
 * `json` attributes (resource `data`) are JSON text, whose escapes keep even lone surrogates.
 */
function asUtf8(finding: OcsfDetectionFinding): OcsfDetectionFinding {
  const out = JSON.parse(
    JSON.stringify(finding, (_key, value: unknown) =>
      typeof value === 'string' ? value.toWellFormed() : value,
    ),
  ) as OcsfDetectionFinding;
  return { ...out, resources: finding.resources };
}

const KEY_PATTERN =
  /^ext\/vaikora\/region=eu-west-1\/accountId=(\d{12})\/eventDay=(\d{8})\/vaikora-[0-9a-f]{40}\.parquet$/;

describe('Security Lake custom source writer against moto S3', () => {
  it('writes the corpus as Parquet under ext/<source>/region=/accountId=/eventDay=/ and reads back equal', async () => {
    const { destination, client, ocsfDestination } = await newLake();
    const findings = mapAll(
      generateActions({
        seed: 120,
        count: 600,
        startMs: Date.parse('2026-11-28T20:00:00Z'),
        stepMs: 6 * 60_000,
        hostileRate: 0.3,
        aliasRate: 0.2,
        wrongTypeRate: 0.2,
        burstRate: 0.1,
      }),
      ocsfDestination,
    );
    const days = new Set(findings.map((f) => eventDayOf(f.time)));
    expect(days.size).toBeGreaterThan(1);

    const written = await createSecurityLakeWriter({ client, destination }).write(findings);

    const keys = await listKeys(client, destination.bucket);
    expect(keys).toEqual(written.map((o) => o.key).sort());
    for (const key of keys) expect(key).toMatch(KEY_PATTERN);
    expect(new Set(keys.map((k) => KEY_PATTERN.exec(k)?.[1]))).toEqual(new Set([destination.accountId]));
    expect(new Set(keys.map((k) => KEY_PATTERN.exec(k)?.[2]))).toEqual(days);

    const back: OcsfDetectionFinding[] = [];
    for (const object of written) {
      const rows = await readRows(client, destination.bucket, object.key);
      for (const row of rows) expect(eventDayOf(row.time)).toBe(object.eventDay);
      const times = rows.map((r) => r.time);
      expect(times).toEqual([...times].sort((a, b) => a - b));
      back.push(...rows);
    }
    const byId = (a: OcsfDetectionFinding, b: OcsfDetectionFinding) =>
      a.finding_info.uid < b.finding_info.uid ? -1 : 1;
    expect(back.length).toBe(new Set(findings.map((f) => f.finding_info.uid)).size);
    expect(back.sort(byId)).toEqual([...findings].sort(byId));
  });

  it('writes the same batch to the same keys: a retry overwrites, never duplicates', async () => {
    const { destination, client, ocsfDestination } = await newLake();
    const findings = mapAll(generateActions({ seed: 7, count: 120, stepMs: 3 * 3_600_000 }), ocsfDestination);
    const writer = createSecurityLakeWriter({ client, destination });

    const first = await writer.write(findings);
    const second = await writer.write([...findings].reverse());

    expect(second.map((o) => o.key)).toEqual(first.map((o) => o.key));
    expect(await listKeys(client, destination.bucket)).toEqual(first.map((o) => o.key).sort());
  });

  it('bounds object size: a day larger than maxObjectBytes is split, every object under the bound', async () => {
    const { destination, client, ocsfDestination } = await newLake();
    const base = mapAll(generateActions({ seed: 9, count: 40, stepMs: 1_000 }), ocsfDestination);
    // Incompressible text, so the Parquet bytes stay near the text's size whatever the codec.
    const findings = base.map((f) => ({ ...f, message: randomBytes(150_000).toString('base64') }));
    const maxObjectBytes = 1024 * 1024;

    const written = await createSecurityLakeWriter({ client, destination, maxObjectBytes }).write(findings);

    expect(written.length).toBeGreaterThan(4);
    for (const object of written) expect(object.bytes).toBeLessThanOrEqual(maxObjectBytes);
    expect(written.reduce((n, o) => n + o.rows, 0)).toBe(findings.length);
    const back = (await Promise.all(written.map((o) => readRows(client, destination.bucket, o.key)))).flat();
    expect(back.map((f) => f.message)).toEqual(findings.map((f) => f.message));
  });

  it('round-trips hostile strings: NUL bytes, every control, astral and RTL unicode, a 300 KB string', async () => {
    const { destination, client, ocsfDestination } = await newLake();
    const base = mapAll(generateActions({ seed: 3, count: 1 }), ocsfDestination)[0];
    if (base === undefined) throw new Error('no base finding');
    const hostile = [
      ...HOSTILE_STRINGS,
      ...EXTREME_STRINGS,
      'nul\u0000nul',
      hugeString(300_000),
      '🦜 \u202e 𝕍 دقيقة 中文',
    ];
    const findings = hostile.map(
      (s, i): OcsfDetectionFinding => ({
        ...base,
        message: s,
        finding_info: { ...base.finding_info, uid: `vaikora-hostile-${i}`, title: s, types: [s, 'x'] },
        evidences: [{ actor: { app_name: s, user: { name: s } }, name: s, url: { url_string: s } }],
        resources: [{ type: 'AI Agent', uid: `agent-${i}`, data: { partition: 'aws', region: s } }],
        unmapped: { vaikora: { 'key\u0000with nul': s, plain: s } },
      }),
    );
    // Through the mapper too: whatever it lets through of the same strings.
    const mapped = mapAll(
      hostile.map((s, i) => ({
        id: `mapped-${i}`,
        timestamp: '2026-11-01T00:00:00Z',
        description: s,
        agent_id: s,
        process_name: s,
      })),
      ocsfDestination,
    );
    const all = [...findings, ...mapped];

    const written = await createSecurityLakeWriter({ client, destination }).write(all);

    const back = (await Promise.all(written.map((o) => readRows(client, destination.bucket, o.key)))).flat();
    const byUid = new Map(back.map((f) => [f.finding_info.uid, f]));
    expect(byUid.size).toBe(all.length);
    for (const finding of all) expect(byUid.get(finding.finding_info.uid)).toEqual(asUtf8(finding));
  });

  it('writes native Parquet groups and lists, Snappy, one OCSF class per object', async () => {
    const { destination, client, ocsfDestination } = await newLake();
    const [object] = await createSecurityLakeWriter({ client, destination }).write(
      mapAll(generateActions({ seed: 4, count: 5 }), ocsfDestination),
    );
    if (object === undefined) throw new Error('nothing written');

    const metadata = parquetMetadata(await readObject(client, destination.bucket, object.key));

    const top = metadata.schema
      .slice(1)
      .filter((e) => ['finding_info', 'resources', 'unmapped'].includes(e.name));
    // The second `resources` is the evidence's own list, nested under `evidences`.
    expect(top.map((e) => [e.name, e.num_children, e.converted_type])).toEqual([
      ['finding_info', 10, undefined],
      ['resources', 1, 'LIST'],
      ['resources', 1, 'LIST'],
      ['unmapped', 1, undefined],
    ]);
    expect(metadata.row_groups.flatMap((g) => g.columns.map((c) => c.meta_data?.codec))).not.toContain(
      'UNCOMPRESSED',
    );
    expect(metadata.key_value_metadata).toContainEqual({ key: 'ocsf.class_uid', value: '2004' });
  });

  it('refuses a finding of another tenant before anything is written', async () => {
    const { destination, client } = await newLake();
    const other = mapAll(generateActions({ seed: 5, count: 3 }), {
      accountId: '999999999999',
      region: REGION,
      partition: 'aws',
    });

    const error = await createSecurityLakeWriter({ client, destination })
      .write(other)
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(AwsError);
    expect((error as AwsError).code).toBe('INVALID_INPUT');
    expect(await listKeys(client, destination.bucket)).toEqual([]);
  });

  it('surfaces a missing bucket as NO_SUCH_BUCKET, not retryable', async () => {
    const { destination, client, ocsfDestination } = await newLake({ createBucket: false });
    const findings = mapAll(generateActions({ seed: 6, count: 2 }), ocsfDestination);

    const error = await createSecurityLakeWriter({ client, destination })
      .write(findings)
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(AwsError);
    expect((error as AwsError).code).toBe('NO_SUCH_BUCKET');
    expect((error as AwsError).retryable).toBe(false);
    expect((error as AwsError).awsCode).toBe('NoSuchBucket');
  });
});

describe('eventDayOf', () => {
  it('is the UTC day of the finding time', () => {
    expect(eventDayOf(Date.parse('2026-12-31T23:59:59.999Z'))).toBe('20261231');
    expect(eventDayOf(Date.parse('2026-12-31T23:59:59.999Z') + 1)).toBe('20270101');
    expect(eventDayOf(Date.parse('2026-01-01T00:00:00Z') - DAY_MS)).toBe('20251231');
  });
});
