import { createHash } from 'node:crypto';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { accountIdSchema, awsRegionSchema, type OcsfDetectionFinding } from '@vsh/core';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { z } from 'zod';
import { AwsError, classifyAwsError } from './errors.ts';
import {
  columnsOf,
  OCSF_DETECTION_FINDING_PARQUET,
  parquetSchemaOf,
  SchemaMismatchError,
} from './security-lake-schema.ts';

// S3's own error names for a refused or impossible write; the rest is the SDK's classification.
const CODE_BY_S3_NAME: Readonly<Record<string, 'ACCESS_DENIED' | 'NO_SUCH_BUCKET'>> = {
  AccessDenied: 'ACCESS_DENIED',
  AllAccessDisabled: 'ACCESS_DENIED',
  InvalidAccessKeyId: 'ACCESS_DENIED',
  SignatureDoesNotMatch: 'ACCESS_DENIED',
  ExpiredToken: 'ACCESS_DENIED',
  'KMS.DisabledException': 'ACCESS_DENIED',
  'KMS.KMSInvalidStateException': 'ACCESS_DENIED',
  NoSuchBucket: 'NO_SUCH_BUCKET',
  InvalidBucketName: 'NO_SUCH_BUCKET',
  PermanentRedirect: 'NO_SUCH_BUCKET',
};

/**
 * Maps an error from an S3 call or the destination's credential provider to the AWS adapters' one
 * error type, AwsError, with a message for the tenant (never credentials: the SDK's messages carry
 * none). The credential provider's own AwsError (AssumeRole refused, region not enabled) is kept as it
 * was: it never reached S3.
 */
export function classifySecurityLakeError(err: unknown): AwsError {
  if (err instanceof AwsError) return err;
  const aws = classifyAwsError(err);
  const name = aws.awsCode ?? 'Error';
  const options = { cause: err, ...(aws.awsCode === undefined ? {} : { awsCode: aws.awsCode }) };
  const code =
    CODE_BY_S3_NAME[name] ??
    (aws.code === 'THROTTLED' || aws.code === 'TRANSIENT' ? aws.code : undefined) ??
    (status(err) === 403 ? 'ACCESS_DENIED' : status(err) === 404 ? 'NO_SUCH_BUCKET' : 'UNKNOWN');
  switch (code) {
    case 'ACCESS_DENIED':
      return new AwsError(
        'ACCESS_DENIED',
        `Security Lake refused the write (${aws.message}): the role needs s3:PutObject on the custom source's ext/<source>/ prefix of the lake bucket`,
        false,
        options,
      );
    case 'NO_SUCH_BUCKET':
      return new AwsError(
        'NO_SUCH_BUCKET',
        `the Security Lake bucket does not exist (${aws.message}): check that Security Lake is enabled in the region and the bucket name`,
        false,
        options,
      );
    default:
      return new AwsError(code, `Security Lake: ${aws.message}`, code !== 'UNKNOWN', options);
  }
}

function status(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}

// S3 bucket naming rules (general purpose buckets) and Security Lake's custom source name pattern.
const BUCKET_PATTERN = /^(?!xn--)(?!.*-s3alias$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const SOURCE_NAME_PATTERN = /^[\w\-.:]{1,64}$/;

/** Where a tenant's Security Lake custom source writes: its bucket, source name, account and region. */
export const securityLakeDestinationSchema = z.object({
  bucket: z.string().regex(BUCKET_PATTERN, 'must be an S3 bucket name'),
  sourceName: z.string().regex(SOURCE_NAME_PATTERN, 'must be a Security Lake custom source name'),
  /** The `accountId=` partition: the account the findings are about (the tenant's). */
  accountId: accountIdSchema,
  /** The `region=` partition: the region the findings are about. */
  region: awsRegionSchema,
});
export type SecurityLakeDestination = z.infer<typeof securityLakeDestinationSchema>;

export interface SecurityLakeWriterOptions {
  /** The destination's S3 client, created once per tenant and region with the assumed role's credentials. */
  readonly client: S3Client;
  readonly destination: SecurityLakeDestination;
  /** Upper bound of one object's size in bytes; default 64 MiB (minimum 1 MiB). */
  readonly maxObjectBytes?: number | undefined;
}

/** One Parquet object written. */
export interface WrittenObject {
  readonly key: string;
  /** `YYYYMMDD`, UTC, of the findings' `time`. */
  readonly eventDay: string;
  readonly rows: number;
  readonly bytes: number;
  /** `finding_info.uid` of the rows, in the object's order. */
  readonly findingIds: readonly string[];
}

export interface SecurityLakeWriter {
  readonly destination: SecurityLakeDestination;
  /**
   * Writes one tenant's findings as Parquet objects under the source's prefix, one or more per event day.
   * Object names are derived from the findings they hold, so writing the same batch again overwrites
   * the same objects. Throws AwsError; on a throw, a retry of the whole batch is safe.
   */
  write(findings: readonly OcsfDetectionFinding[]): Promise<WrittenObject[]>;
}

const DEFAULT_MAX_OBJECT_BYTES = 64 * 1024 * 1024;
const MIN_MAX_OBJECT_BYTES = 1024 * 1024;
const PARQUET_SCHEMA = parquetSchemaOf(OCSF_DETECTION_FINDING_PARQUET);

/** `YYYYMMDD` in UTC of an epoch-milliseconds time: Security Lake's `eventDay` partition value. */
export function eventDayOf(timeMs: number): string {
  const date = new Date(timeMs);
  if (Number.isNaN(date.getTime())) throw new AwsError('INVALID_INPUT', `time ${timeMs} is not a date`);
  return date.toISOString().slice(0, 10).replaceAll('-', '');
}

/** The S3 prefix of one event day of a custom source: `ext/<source>/region=/accountId=/eventDay=/`. */
export function securityLakePrefix(destination: SecurityLakeDestination, eventDay: string): string {
  return `ext/${destination.sourceName}/region=${destination.region}/accountId=${destination.accountId}/eventDay=${eventDay}/`;
}

/** Encodes findings as one Parquet file (the Detection Finding schema, Snappy, rows in the given order). */
export function encodeOcsfParquet(findings: readonly OcsfDetectionFinding[]): Uint8Array {
  try {
    const buffer = parquetWriteBuffer({
      columnData: columnsOf(findings) as Parameters<typeof parquetWriteBuffer>[0]['columnData'],
      schema: PARQUET_SCHEMA,
      codec: 'SNAPPY',
      // One row group per object: objects are already bounded by maxObjectBytes.
      rowGroupSize: Math.max(findings.length, 1),
      kvMetadata: [{ key: 'ocsf.class_uid', value: '2004' }],
      createdBy: 'vaikora-securityhub-connector',
    });
    return new Uint8Array(buffer);
  } catch (err) {
    if (err instanceof SchemaMismatchError)
      throw new AwsError('INVALID_INPUT', err.message, false, { cause: err });
    throw err;
  }
}

/** Creates the Security Lake custom source writer of one tenant's destination. */
export function createSecurityLakeWriter(options: SecurityLakeWriterOptions): SecurityLakeWriter {
  const parsed = securityLakeDestinationSchema.safeParse(options.destination);
  if (!parsed.success) {
    throw new AwsError(
      'INVALID_INPUT',
      `invalid Security Lake destination: ${z.prettifyError(parsed.error)}`,
    );
  }
  const destination = parsed.data;
  const maxObjectBytes = options.maxObjectBytes ?? DEFAULT_MAX_OBJECT_BYTES;
  if (!(maxObjectBytes >= MIN_MAX_OBJECT_BYTES))
    throw new RangeError(`maxObjectBytes must be >= ${MIN_MAX_OBJECT_BYTES}`);
  const { client } = options;

  /** Splits a day's rows into objects of at most maxObjectBytes: by estimate first, halving what still exceeds. */
  const encodeBounded = (
    rows: readonly OcsfDetectionFinding[],
  ): { rows: OcsfDetectionFinding[]; body: Uint8Array }[] => {
    const out: { rows: OcsfDetectionFinding[]; body: Uint8Array }[] = [];
    const encode = (part: OcsfDetectionFinding[]): void => {
      const body = encodeOcsfParquet(part);
      if (body.byteLength <= maxObjectBytes) {
        out.push({ rows: part, body });
      } else if (part.length > 1) {
        const half = Math.ceil(part.length / 2);
        encode(part.slice(0, half));
        encode(part.slice(half));
      } else {
        const id = part[0]?.finding_info.uid ?? '';
        throw new AwsError('INVALID_INPUT', `finding ${id} alone exceeds ${maxObjectBytes} bytes of Parquet`);
      }
    };
    // The JSON size over-estimates the compressed columnar size, so most chunks encode once.
    let chunk: OcsfDetectionFinding[] = [];
    let estimate = 0;
    for (const row of rows) {
      const size = Buffer.byteLength(JSON.stringify(row));
      if (chunk.length > 0 && estimate + size > maxObjectBytes) {
        encode(chunk);
        chunk = [];
        estimate = 0;
      }
      chunk.push(row);
      estimate += size;
    }
    if (chunk.length > 0) encode(chunk);
    return out;
  };

  return {
    destination,
    async write(findings) {
      const byDay = groupByEventDay(findings, destination);
      const planned: { key: string; eventDay: string; rows: OcsfDetectionFinding[]; body: Uint8Array }[] = [];
      for (const [eventDay, rows] of byDay) {
        for (const part of encodeBounded(rows)) {
          planned.push({ key: objectKey(destination, eventDay, part.rows), eventDay, ...part });
        }
      }
      const written: WrittenObject[] = [];
      for (const object of planned) {
        try {
          await client.send(
            new PutObjectCommand({
              Bucket: destination.bucket,
              Key: object.key,
              Body: object.body,
              ContentType: 'application/vnd.apache.parquet',
            }),
          );
        } catch (err) {
          throw classifySecurityLakeError(err);
        }
        written.push({
          key: object.key,
          eventDay: object.eventDay,
          rows: object.rows.length,
          bytes: object.body.byteLength,
          findingIds: object.rows.map((row) => row.finding_info.uid),
        });
      }
      return written;
    },
  };
}

/**
 * Groups findings by UTC event day, one version per finding id (the last given wins), each day sorted by
 * time then id (Security Lake asks for records ordered by time). Refuses findings of another tenant.
 */
function groupByEventDay(
  findings: readonly OcsfDetectionFinding[],
  destination: SecurityLakeDestination,
): Map<string, OcsfDetectionFinding[]> {
  const unique = new Map<string, OcsfDetectionFinding>();
  for (const finding of findings) {
    if (finding.metadata.tenant_uid !== destination.accountId) {
      throw new AwsError(
        'INVALID_INPUT',
        `finding ${finding.finding_info.uid} is for account ${finding.metadata.tenant_uid}, not this destination's ${destination.accountId}`,
      );
    }
    unique.set(finding.finding_info.uid, finding);
  }
  const byDay = new Map<string, OcsfDetectionFinding[]>();
  for (const finding of unique.values()) {
    const day = eventDayOf(finding.time);
    const rows = byDay.get(day);
    if (rows === undefined) byDay.set(day, [finding]);
    else rows.push(finding);
  }
  const byTimeThenId = (a: OcsfDetectionFinding, b: OcsfDetectionFinding) =>
    a.time - b.time ||
    (a.finding_info.uid < b.finding_info.uid ? -1 : a.finding_info.uid > b.finding_info.uid ? 1 : 0);
  for (const rows of byDay.values()) rows.sort(byTimeThenId);
  return new Map([...byDay.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
}

/**
 * The object's key: the day's prefix and a name derived from the finding ids it holds (SHA-256), so the
 * same findings always land in the same object and a retried write overwrites instead of duplicating.
 */
function objectKey(
  destination: SecurityLakeDestination,
  eventDay: string,
  rows: readonly OcsfDetectionFinding[],
): string {
  const ids = JSON.stringify(rows.map((row) => row.finding_info.uid));
  const name = createHash('sha256').update(ids).digest('hex').slice(0, 40);
  return `${securityLakePrefix(destination, eventDay)}vaikora-${name}.parquet`;
}
