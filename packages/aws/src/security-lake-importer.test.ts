import {
  PutObjectCommand,
  type PutObjectCommandInput,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import type { Destination, OcsfDetectionFinding } from '@vsh/core';
import { mockClient } from 'aws-sdk-client-mock';
import { parquetReadObjects } from 'hyparquet';
import { describe, expect, it } from 'vitest';
import { AwsError } from './errors.ts';
import type { SecurityLakeWriter, WrittenObject } from './security-lake.ts';
import { createSecurityLakeImporter, securityLakeImporterOver } from './security-lake-importer.ts';
import { makeFindings } from './testing/findings.ts';

// The importer over the Security Lake writer: the S3 client is mocked for the error paths moto cannot
// produce (the worker's integration test writes to moto S3 through the fault proxy).

const destination: Destination = { accountId: '111122223333', region: 'eu-west-1', partition: 'aws' };
const lake = { bucket: 'aws-security-data-lake-eu-west-1-abcdef', sourceName: 'vaikora' };

function setup() {
  const client = new S3Client({ region: destination.region });
  const mock = mockClient(client);
  const importer = createSecurityLakeImporter({ destination, lake, client });
  return { mock, importer };
}

function s3Error(name: string, status: number, fault: 'client' | 'server' = 'client'): S3ServiceException {
  return new S3ServiceException({
    name,
    $fault: fault,
    $metadata: { httpStatusCode: status },
    message: name,
  });
}

async function rowsOf(input: PutObjectCommandInput): Promise<Record<string, unknown>[]> {
  const body = input.Body as Uint8Array;
  const file = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
  return (await parquetReadObjects({ file })) as Record<string, unknown>[];
}

describe('createSecurityLakeImporter', () => {
  it('writes every finding as OCSF Parquet under ext/<source>/region=/accountId=/eventDay=/ and returns their ASFF ids', async () => {
    const { mock, importer } = setup();
    mock.on(PutObjectCommand).resolves({});
    const items = makeFindings({ destination, count: 40, idPrefix: 'lake' });

    const result = await importer.importFindings(items);

    const puts = mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    expect(puts.length).toBeGreaterThan(0);
    for (const put of puts) {
      expect(put.Bucket).toBe(lake.bucket);
      expect(put.Key).toMatch(
        /^ext\/vaikora\/region=eu-west-1\/accountId=111122223333\/eventDay=\d{8}\/vaikora-[0-9a-f]{40}\.parquet$/,
      );
    }
    const written = (await Promise.all(puts.map(rowsOf))).flat();
    const uids = written.map((row) => (row.finding_info as { uid: string }).uid);
    const ids = items.map((p) => p.finding.Id);
    expect(new Set(uids)).toEqual(new Set(ids));
    expect(uids).toHaveLength(ids.length);
    expect(new Set(result.imported)).toEqual(new Set(ids));
    expect(result.rejected).toEqual([]);
    expect(result.stats.objects).toBe(puts.length);
  });

  it.each([
    ['a missing bucket', s3Error('NoSuchBucket', 404), 'NO_SUCH_BUCKET'],
    ['a refused write', s3Error('AccessDenied', 403), 'ACCESS_DENIED'],
    ['a refused AssumeRole', new AwsError('ROLE_UNUSABLE', 'AccessDenied: not authorized'), 'ROLE_UNUSABLE'],
    [
      'an opt-in region not enabled',
      new AwsError('REGION_UNUSABLE', 'RegionDisabledException'),
      'REGION_UNUSABLE',
    ],
  ])('stops the destination on %s, rejecting nothing', async (_name, failure, code) => {
    const { mock, importer } = setup();
    mock.on(PutObjectCommand).rejects(failure);

    const error = await importer
      .importFindings(makeFindings({ destination, count: 3 }))
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(AwsError);
    expect(error).toMatchObject({ code, stopsDestination: true, retryable: false });
  });

  it.each([
    ['throttling S3 kept up', s3Error('SlowDown', 503, 'server'), 'THROTTLED'],
    ['a 5xx that outlasted the retries', s3Error('InternalError', 500, 'server'), 'TRANSIENT'],
  ])(
    'fails the call as retryable after %s, without stopping the destination',
    async (_name, failure, code) => {
      const { mock, importer } = setup();
      mock.on(PutObjectCommand).rejects(failure);

      const error = await importer
        .importFindings(makeFindings({ destination, count: 3 }))
        .catch((e: unknown) => e);

      expect(error).toMatchObject({ code, retryable: true, stopsDestination: false });
    },
  );

  it('never writes a connector health finding, and writes nothing for an empty call', async () => {
    const { mock, importer } = setup();
    mock.on(PutObjectCommand).resolves({});
    const [item] = makeFindings({ destination, count: 1 });
    if (item === undefined) throw new Error('no finding');
    const health = { ...item, finding: { ...item.finding, Id: 'vaikora-health ten_1 dst_1 vaikora_auth' } };

    const result = await importer.importFindings([health]);
    const empty = await importer.importFindings([]);

    expect(mock.commandCalls(PutObjectCommand)).toHaveLength(0);
    expect(result.imported).toEqual([]);
    expect(result.rejected).toEqual([expect.objectContaining({ code: 'INVALID_FINDING', retryable: false })]);
    expect(empty).toEqual({ imported: [], rejected: [], stats: { throttled: 0, objects: 0, bytes: 0 } });
  });

  it('refuses, at creation, a bucket or source name Security Lake would not have', () => {
    const client = new S3Client({ region: destination.region });
    expect(() =>
      createSecurityLakeImporter({
        destination,
        lake: { bucket: 'Not_A_Bucket', sourceName: 'vaikora' },
        client,
      }),
    ).toThrow(AwsError);
    expect(() =>
      createSecurityLakeImporter({ destination, lake: { bucket: lake.bucket, sourceName: 'a/b' }, client }),
    ).toThrow(AwsError);
  });
});

describe('securityLakeImporterOver', () => {
  it('isolates a finding the writer refuses as invalid by halving, rejects it for good, and writes the rest', async () => {
    const items = makeFindings({ destination, count: 9, idPrefix: 'halve' });
    const bad = items[6]?.finding.Id ?? '';
    const parts: string[][] = [];
    const writer: SecurityLakeWriter = {
      destination: { ...lake, accountId: destination.accountId, region: destination.region },
      async write(findings: readonly OcsfDetectionFinding[]): Promise<WrittenObject[]> {
        const ids = findings.map((f) => f.finding_info.uid);
        parts.push(ids);
        if (ids.includes(bad))
          throw new AwsError('INVALID_INPUT', `finding ${bad} alone exceeds 1 bytes`, false);
        return [
          { key: `k${parts.length}`, eventDay: '20261201', rows: ids.length, bytes: 10, findingIds: ids },
        ];
      },
    };

    const result = await securityLakeImporterOver(writer, destination).importFindings(items);

    expect(new Set(result.imported)).toEqual(
      new Set(items.map((p) => p.finding.Id).filter((id) => id !== bad)),
    );
    expect(result.rejected).toEqual([
      expect.objectContaining({
        actionId: items[6]?.action.id,
        code: 'IMPORT_REJECTED',
        stage: 'import',
        retryable: false,
        reason: expect.stringContaining('alone exceeds'),
      }),
    ]);
    expect(parts.at(-1)).not.toContain(bad);
    expect(parts.filter((p) => p.length === 1 && p[0] === bad)).toHaveLength(1);
  });

  it('refuses a writer of another account or region', () => {
    const writer: SecurityLakeWriter = {
      destination: { ...lake, accountId: '999999999999', region: destination.region },
      write: async () => [],
    };
    expect(() => securityLakeImporterOver(writer, destination)).toThrow(RangeError);
  });
});
