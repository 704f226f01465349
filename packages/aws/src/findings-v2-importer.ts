import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { type Destination, type PreparedFinding, type Rejection, reject } from '@vsh/core';
import { AwsError, classifyAwsError } from './errors.ts';
import { FINDINGS_V2_BATCH_LIMIT, FindingsV2Error, type FindingsV2Sender } from './findings-v2.ts';
import { isHealthFinding, toOcsfBatch } from './ocsf-delivery.ts';
import type { RateLimiterRegistry } from './rate-limiter.ts';

/** What one BatchImportFindingsV2 import did, in the worker's terms. */
export interface FindingsV2ImportResult {
  /** ASFF ids (= OCSF `finding_info.uid`) Security Hub took. */
  readonly imported: string[];
  readonly rejected: Rejection[];
  readonly stats: {
    /** Findings given back after the sender's attempts ran out on throttling (plus the health importer's throttles). */
    readonly throttled: number;
    /** BatchImportFindingsV2 calls made (the sender's HTTP attempts, retries included). */
    readonly requests: number;
  };
}

/** The Security Hub importer, for the connector's health findings (ASFF only: they have no OCSF form). */
interface AsffImporter {
  importFindings(
    items: readonly PreparedFinding[],
  ): Promise<{ imported: readonly string[]; rejected: readonly Rejection[]; stats: { throttled: number } }>;
}

export interface FindingsV2ImporterOptions {
  readonly destination: Destination;
  readonly sender: FindingsV2Sender;
  /** Where health findings (ADR 0116) go: BatchImportFindings, created only when there is one to send. */
  readonly healthImporter: () => AsffImporter;
  /**
   * The destination's credentials, resolved before the first call: a refused AssumeRole then stops the
   * destination, where the sender would retry it as a network error and give every finding back.
   */
  readonly credentials?: AwsCredentialIdentityProvider | undefined;
  /** Security Hub's account-region limiter, one token per call (the V2 quota is unpublished: V1's is assumed). */
  readonly rateLimiter?: RateLimiterRegistry | undefined;
}

export interface FindingsV2Importer {
  readonly destination: Destination;
  /**
   * Imports action findings as OCSF with BatchImportFindingsV2 (100 per call) and health findings with
   * BatchImportFindings. Per-finding failures are rejections (retryable when the service says so); a call
   * refused as invalid is split until the bad finding is isolated; ACCESS_DENIED and a missing operation or
   * hub (SECURITY_HUB_NOT_ENABLED) throw and stop the destination, rejecting nothing.
   */
  importFindings(items: readonly PreparedFinding[]): Promise<FindingsV2ImportResult>;
}

const THROTTLING_CODES: ReadonlySet<string> = new Set([
  'THROTTLED',
  'ThrottlingException',
  'TooManyRequestsException',
]);

/** Creates the worker's importer of a role destination behind the `FINDINGS_V2_PREVIEW` flag (ADR 0120). */
export function createFindingsV2Importer(options: FindingsV2ImporterOptions): FindingsV2Importer {
  const { destination, sender } = options;
  const limiter = options.rateLimiter?.forDestination(destination);
  let health: AsffImporter | undefined;
  return {
    destination,
    async importFindings(items) {
      const imported: string[] = [];
      const rejected: Rejection[] = [];
      const stats = { throttled: 0, requests: 0 };
      const healthItems = items.filter(isHealthFinding);
      if (healthItems.length > 0) {
        health ??= options.healthImporter();
        const outcome = await health.importFindings(healthItems);
        imported.push(...outcome.imported);
        rejected.push(...outcome.rejected);
        stats.throttled += outcome.stats.throttled;
      }
      const batch = toOcsfBatch(
        items.filter((item) => !isHealthFinding(item)),
        destination,
      );
      rejected.push(...batch.rejected);
      if (batch.findings.size === 0) return { imported, rejected, stats };
      if (options.credentials !== undefined) {
        try {
          await options.credentials();
        } catch (err) {
          throw classifyAwsError(err);
        }
      }

      const actionIdOf = (id: string): string | null => batch.prepared.get(id)?.action.id ?? null;
      const send = async (ids: readonly string[]): Promise<void> => {
        const part = ids.flatMap((id) => {
          const finding = batch.findings.get(id);
          return finding === undefined ? [] : [finding];
        });
        await limiter?.take();
        let result: Awaited<ReturnType<FindingsV2Sender['send']>>;
        try {
          result = await sender.send(part);
        } catch (err) {
          const error = toAwsError(err);
          if (error.code !== 'INVALID_INPUT') throw error;
          if (ids.length > 1) {
            const half = Math.ceil(ids.length / 2);
            await send(ids.slice(0, half));
            await send(ids.slice(half));
            return;
          }
          const id = ids[0] ?? '';
          rejected.push(reject('IMPORT_REJECTED', 'import', error.message, actionIdOf(id)));
          return;
        }
        stats.requests += result.stats.requests;
        imported.push(...result.imported);
        for (const failure of result.failed) {
          if (THROTTLING_CODES.has(failure.errorCode)) stats.throttled++;
          rejected.push(
            reject(
              'IMPORT_REJECTED',
              'import',
              `${failure.errorCode}: ${failure.message}`,
              actionIdOf(failure.findingId),
              undefined,
              failure.retryable,
            ),
          );
        }
      };

      const ids = [...batch.findings.keys()];
      for (let start = 0; start < ids.length; start += FINDINGS_V2_BATCH_LIMIT) {
        await send(ids.slice(start, start + FINDINGS_V2_BATCH_LIMIT));
      }
      return { imported, rejected, stats };
    },
  };
}

/** A BatchImportFindingsV2 call's failure as the worker's AwsError (the sender's code, kept as `awsCode` when it had one). */
function toAwsError(err: unknown): AwsError {
  if (!(err instanceof FindingsV2Error)) return classifyAwsError(err);
  const options = { cause: err, awsCode: err.awsCode ?? `HTTP ${err.status ?? 'none'}` };
  const message = `BatchImportFindingsV2: ${err.message}`;
  switch (err.code) {
    case 'ACCESS_DENIED':
      return new AwsError(
        'ACCESS_DENIED',
        `${message}: the role may not import findings with BatchImportFindingsV2 (preview allow-list, role policy or SCP)`,
        false,
        options,
      );
    case 'NOT_FOUND':
      return new AwsError(
        'SECURITY_HUB_NOT_ENABLED',
        `${message}: BatchImportFindingsV2 or Security Hub is not available in this account and region`,
        false,
        options,
      );
    case 'INVALID_INPUT':
      return new AwsError('INVALID_INPUT', message, false, options);
    case 'THROTTLED':
      return new AwsError('THROTTLED', message, true, options);
    case 'TRANSIENT':
      return new AwsError('TRANSIENT', message, true, options);
    case 'PREVIEW_DISABLED':
    case 'UNKNOWN':
      return new AwsError('UNKNOWN', message, false, options);
  }
}
