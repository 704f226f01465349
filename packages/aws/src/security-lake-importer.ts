import type { S3Client } from '@aws-sdk/client-s3';
import { type Destination, type PreparedFinding, type Rejection, reject } from '@vsh/core';
import { AwsError } from './errors.ts';
import { toOcsfBatch } from './ocsf-delivery.ts';
import {
  classifySecurityLakeError,
  createSecurityLakeWriter,
  type SecurityLakeWriter,
  securityLakeDestinationSchema,
} from './security-lake.ts';

/** A destination's Security Lake custom source: the lake's bucket and the source's name (`ext/<name>/`). */
export interface SecurityLakeTarget {
  readonly bucket: string;
  readonly sourceName: string;
}

/** What one Security Lake import did: `imported` are the ASFF ids written (the ledger counts those). */
export interface SecurityLakeImportResult {
  readonly imported: string[];
  readonly rejected: Rejection[];
  readonly stats: {
    /** Throttling is absorbed by the S3 client's own retries (not seen here); one that outlasts them throws. */
    readonly throttled: number;
    readonly objects: number;
    readonly bytes: number;
  };
}

export interface SecurityLakeImporter {
  readonly destination: Destination;
  /**
   * Maps the prepared findings to OCSF and writes them to the destination's custom source. A finding that
   * has no OCSF form, or that alone cannot be written, is a rejection; anything else that fails fails the
   * call with an AwsError: ROLE_UNUSABLE, ACCESS_DENIED and NO_SUCH_BUCKET stop the destination,
   * THROTTLED and TRANSIENT are retryable (the S3 client already retried them), UNKNOWN is not.
   */
  importFindings(items: readonly PreparedFinding[]): Promise<SecurityLakeImportResult>;
}

export interface SecurityLakeImporterOptions {
  /** Where the findings are about: the tenant's account, the stream's region, its partition. */
  readonly destination: Destination;
  readonly lake: SecurityLakeTarget;
  /** The destination's S3 client (the registry's, with the tenant role's credentials). */
  readonly client: S3Client;
  readonly maxObjectBytes?: number | undefined;
}

/**
 * Creates the importer of a Security Lake destination: the worker's FindingImporter over the Security Lake
 * writer (ADR 0120), writing into the bucket through the tenant's role instead of importing into Security Hub.
 */
export function createSecurityLakeImporter(options: SecurityLakeImporterOptions): SecurityLakeImporter {
  const { destination } = options;
  const parsed = securityLakeDestinationSchema.safeParse({
    ...options.lake,
    accountId: destination.accountId,
    region: destination.region,
  });
  if (!parsed.success) {
    throw new AwsError(
      'INVALID_INPUT',
      `invalid Security Lake destination (bucket ${options.lake.bucket}, source ${options.lake.sourceName})`,
      false,
    );
  }
  const writer = createSecurityLakeWriter({
    client: options.client,
    destination: parsed.data,
    maxObjectBytes: options.maxObjectBytes,
  });
  return securityLakeImporterOver(writer, destination);
}

/** The importer over a given writer (the writer's destination must be the same account and region). */
export function securityLakeImporterOver(
  writer: SecurityLakeWriter,
  destination: Destination,
): SecurityLakeImporter {
  if (
    writer.destination.accountId !== destination.accountId ||
    writer.destination.region !== destination.region
  ) {
    throw new RangeError('the writer writes for another account or region than the destination');
  }
  return {
    destination,
    async importFindings(items) {
      const batch = toOcsfBatch(items, destination);
      const imported: string[] = [];
      const rejected: Rejection[] = [...batch.rejected];
      const stats = { throttled: 0, objects: 0, bytes: 0 };

      /**
       * Writes a part; a part refused as invalid as a whole is split in halves until the finding that
       * cannot be written (too large alone for an object) is isolated and rejected. Encoding happens before
       * any object is put, so a refused part wrote nothing.
       */
      const write = async (ids: readonly string[]): Promise<void> => {
        const part = ids.flatMap((id) => {
          const finding = batch.findings.get(id);
          return finding === undefined ? [] : [finding];
        });
        if (part.length === 0) return;
        try {
          const written = await writer.write(part);
          for (const object of written) {
            imported.push(...object.findingIds);
            stats.objects++;
            stats.bytes += object.bytes;
          }
        } catch (err) {
          if (!(err instanceof AwsError) || err.code !== 'INVALID_INPUT')
            throw classifySecurityLakeError(err);
          if (ids.length > 1) {
            const half = Math.ceil(ids.length / 2);
            await write(ids.slice(0, half));
            await write(ids.slice(half));
            return;
          }
          const id = ids[0] ?? '';
          const actionId = batch.prepared.get(id)?.action.id ?? null;
          rejected.push(reject('IMPORT_REJECTED', 'import', `Security Lake: ${err.message}`, actionId));
        }
      };
      await write([...batch.findings.keys()]);
      return { imported, rejected, stats };
    },
  };
}
