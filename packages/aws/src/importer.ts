import { setTimeout as delay } from 'node:timers/promises';
import {
  BatchImportFindingsCommand,
  type BatchImportFindingsCommandInput,
  type BatchImportFindingsCommandOutput,
  type SecurityHubClient,
} from '@aws-sdk/client-securityhub';
import { isServerError, isThrottlingError, isTransientError } from '@smithy/core/retry';
import type { FinalizeRequestMiddleware } from '@smithy/types';
import {
  type BatchLimits,
  batchFindings,
  DEFAULT_BATCH_LIMITS,
  type Destination,
  type PreparedFinding,
  productArn,
  type Rejection,
  reject,
} from '@vsh/core';
import { AwsError, classifyAwsError } from './errors.ts';
import type { RateLimiterRegistry } from './rate-limiter.ts';

/** What one importFindings call did. Every finding given is either imported or rejected. */
export interface ImportResult {
  /** Finding ids Security Hub accepted. */
  readonly imported: string[];
  /** Per finding, with the AWS error code first in `reason`; `retryable` says whether a later run can help. */
  readonly rejected: Rejection[];
  readonly stats: ImportStats;
  /** There is no third outcome: a finding that failed for good is a non-retryable rejection. */
  readonly failedForGood?: never;
}

export interface ImportStats {
  /** HTTP requests sent, including the SDK's own retries. */
  requests: number;
  /** Throttling responses absorbed (retried by the SDK or by the importer). */
  throttled: number;
  /** 5xx, timeouts and network errors absorbed. */
  transientErrors: number;
  /** Findings sent again after a per-finding failure or an exhausted call. */
  resentFindings: number;
  /** Sending rounds (the first plus one per backoff). */
  rounds: number;
}

export interface ThrottleEvent {
  readonly destination: Destination;
  readonly awsCode: string;
}

export interface SecurityHubImporterOptions {
  /** The destination's client (from the registry): its SDK retry strategy retries each call first. */
  readonly client: SecurityHubClient;
  readonly destination: Destination;
  /** Per account-region limiter registry; one token is taken before every HTTP attempt. */
  readonly rateLimiter: RateLimiterRegistry;
  /** Times one finding may be sent before it is returned as a rejection; default 5. */
  readonly maxAttempts?: number | undefined;
  /** Batches in flight at once; the rate limiter, not this, sets the pace. Default 8. */
  readonly concurrency?: number | undefined;
  readonly batchLimits?: BatchLimits | undefined;
  /** Backoff before a resend round: base doubles per round up to max, with jitter. */
  readonly backoffBaseMs?: number | undefined;
  readonly backoffMaxMs?: number | undefined;
  readonly sleep?: ((ms: number) => Promise<void>) | undefined;
  readonly random?: (() => number) | undefined;
  readonly onThrottle?: ((event: ThrottleEvent) => void) | undefined;
}

export interface SecurityHubImporter {
  readonly destination: Destination;
  /**
   * Imports findings (batched at 100 / 6 MB). Per-finding failures are data; throws AwsError only for
   * conditions that stop the destination (ACCESS_DENIED, SECURITY_HUB_NOT_ENABLED, ROLE_UNUSABLE,
   * REGION_UNUSABLE), for errors it cannot classify, and for findings that must never be sent.
   */
  importFindings(items: readonly PreparedFinding[]): Promise<ImportResult>;
}

/** Per-finding error codes that can succeed later. Documented codes for Security Hub's batch APIs plus the generic AWS transient codes. */
export const RETRYABLE_FINDING_ERROR_CODES: ReadonlySet<string> = new Set([
  'InternalFailure',
  'InternalException',
  'InternalError',
  'InternalServerError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'ConcurrentUpdateError',
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'LimitExceededException',
  'RequestTimeout',
  'RequestTimeoutException',
]);

/** Per-finding error codes that a resend cannot fix (the finding itself is wrong). */
export const PERMANENT_FINDING_ERROR_CODES: ReadonlySet<string> = new Set([
  'InvalidInput',
  'InvalidInputException',
  'FindingSizeExceeded',
  'DuplicatedFindingIdentifier',
  'AccessDenied',
  'AccessDeniedException',
]);

/** Fields the customer owns in Security Hub: a provider must never send them (BatchImportFindings docs). */
export const CUSTOMER_OWNED_FIELDS = [
  'Workflow',
  'WorkflowState',
  'Note',
  'UserDefinedFields',
  'VerificationState',
];

type Disposition = 'retry' | 'unknown' | 'permanent';

/** How a per-finding ErrorCode is treated: retried, retried as unknown (bounded), or rejected at once. */
export function findingErrorDisposition(errorCode: string): Disposition {
  if (RETRYABLE_FINDING_ERROR_CODES.has(errorCode)) return 'retry';
  if (PERMANENT_FINDING_ERROR_CODES.has(errorCode)) return 'permanent';
  return 'unknown';
}

interface Failure {
  /** Starts with the AWS error code: `ThrottlingException: Rate exceeded`. */
  readonly reason: string;
  readonly disposition: Disposition;
}

const RATE_LIMIT_MIDDLEWARE = 'vshRateLimitMiddleware';

/**
 * Creates the Security Hub importer for one destination.
 *
 * Layering of retries: the client's SDK retry strategy (standard mode, `maxAttempts` on the client)
 * retries each call on throttling, 5xx and network errors with its own backoff and retry quota.
 * On top of that this importer adds what the SDK cannot know about:
 *  - a token from the account-region rate limiter before every HTTP attempt (including the SDK's
 *    retries, through a per-command middleware placed below the retry middleware), so the quota
 *    shared by all workers of this process is respected rather than discovered by throttling;
 *  - per-finding partial failures (HTTP 200 with FailedFindings): resends the findings whose
 *    ErrorCode can succeed later, in later rounds with backoff, up to `maxAttempts` sends;
 *  - a call whose SDK attempts ran out on throttling or transient errors is resent the same way;
 *  - a call refused as invalid as a whole is split in halves until the bad finding is isolated.
 */
export function createSecurityHubImporter(options: SecurityHubImporterOptions): SecurityHubImporter {
  const { client, destination } = options;
  const limiter = options.rateLimiter.forDestination(destination);
  const maxAttempts = options.maxAttempts ?? 5;
  const concurrency = options.concurrency ?? 8;
  const limits = options.batchLimits ?? DEFAULT_BATCH_LIMITS;
  const backoffBaseMs = options.backoffBaseMs ?? 250;
  const backoffMaxMs = options.backoffMaxMs ?? 8_000;
  const sleep = options.sleep ?? ((ms: number) => delay(ms));
  const random = options.random ?? Math.random;
  if (!(maxAttempts >= 1) || !(concurrency >= 1))
    throw new RangeError('maxAttempts and concurrency must be >= 1');

  const rateLimitMiddleware =
    (
      stats: ImportStats,
    ): FinalizeRequestMiddleware<BatchImportFindingsCommandInput, BatchImportFindingsCommandOutput> =>
    (next) =>
    async (args) => {
      await limiter.take();
      stats.requests++;
      try {
        return await next(args);
      } catch (err) {
        const shape = err as Parameters<typeof isThrottlingError>[0];
        if (isThrottlingError(shape)) {
          stats.throttled++;
          limiter.penalize();
          options.onThrottle?.({ destination, awsCode: shape.name });
        } else if (isTransientError(shape) || isServerError(shape)) {
          stats.transientErrors++;
        }
        throw err;
      }
    };

  const send = async (batch: readonly PreparedFinding[], stats: ImportStats) => {
    const command = new BatchImportFindingsCommand({
      Findings: batch.map((item) => item.finding),
    });
    command.middlewareStack.addRelativeTo(rateLimitMiddleware(stats), {
      relation: 'after',
      toMiddleware: 'retryMiddleware',
      name: RATE_LIMIT_MIDDLEWARE,
    });
    return client.send(command);
  };

  return {
    destination,
    async importFindings(items) {
      assertSendable(items, destination);
      const stats: ImportStats = {
        requests: 0,
        throttled: 0,
        transientErrors: 0,
        resentFindings: 0,
        rounds: 0,
      };
      // A repeated action id within one call is one finding: the last version wins.
      const unique = new Map<string, PreparedFinding>();
      for (const item of items) unique.set(item.finding.Id, item);

      const imported: string[] = [];
      const rejected: Rejection[] = [];
      const attempts = new Map<string, number>();
      let pending = batchFindings([...unique.values()], limits);
      let resendRounds = 0;

      const settle = (item: PreparedFinding, failure: Failure, resend: PreparedFinding[]): void => {
        const id = item.finding.Id;
        const sent = (attempts.get(id) ?? 0) + 1;
        attempts.set(id, sent);
        if (failure.disposition !== 'permanent' && sent < maxAttempts) {
          resend.push(item);
          return;
        }
        const after = failure.disposition === 'permanent' ? '' : ` (gave up after ${sent} attempts)`;
        rejected.push(
          reject(
            'IMPORT_REJECTED',
            'import',
            `${failure.reason}${after}`,
            item.action.id,
            undefined,
            failure.disposition === 'retry',
          ),
        );
      };

      while (pending.length > 0) {
        stats.rounds++;
        const resend: PreparedFinding[] = [];
        const split: PreparedFinding[][] = [];
        let stop: AwsError | undefined;
        // Workers pull from a shared index rather than queueing in p-limit, so that a stop-the-destination
        // error stops new batches from being taken at once.
        let next = 0;
        const worker = async (): Promise<void> => {
          for (
            let batch = pending[next++];
            batch !== undefined && stop === undefined;
            batch = pending[next++]
          ) {
            try {
              const output = await send(batch, stats);
              // Only an entry that names a finding of this batch explains a failure: one naming another id
              // (or none) would otherwise let an unlisted failure pass as imported, and be lost. The batch
              // never holds an id twice, so a repeated entry is one failure; whether every failure is
              // listed is read from SuccessCount when the hub sends it (a failure listed twice against a
              // FailedCount of 2 is then no reason to resend, and bill again, the batch's stored findings).
              const inBatch = new Set(batch.map((item) => item.finding.Id));
              const failed = new Map(
                (output.FailedFindings ?? [])
                  .filter((f) => f.Id !== undefined && inBatch.has(f.Id))
                  .map((f) => [f.Id ?? '', f]),
              );
              const unexplained =
                output.SuccessCount !== undefined
                  ? output.SuccessCount + failed.size < batch.length
                  : (output.FailedCount ?? 0) > failed.size;
              for (const item of batch) {
                const failure = failed.get(item.finding.Id);
                if (unexplained && failure === undefined) {
                  // FailedCount names more failures than FailedFindings lists: resend what is not
                  // known to be in (a resend of an imported finding only updates it).
                  const reason = 'UnlistedFailure: FailedCount exceeds the FailedFindings listed';
                  settle(item, { reason, disposition: 'retry' }, resend);
                } else if (failure === undefined) {
                  imported.push(item.finding.Id);
                } else {
                  const awsCode = failure.ErrorCode ?? 'UnknownError';
                  const reason = `${awsCode}: ${failure.ErrorMessage ?? ''}`;
                  if (destination.product !== undefined && PARTNER_ACCESS_CODES.has(awsCode)) {
                    // Partner mode: the customer's hub refuses the product, not this finding. Nothing is
                    // rejected; the destination stops until the customer accepts the product's findings.
                    stop ??= productNotEnabled(destination, reason);
                    continue;
                  }
                  settle(item, { reason, disposition: findingErrorDisposition(awsCode) }, resend);
                }
              }
            } catch (err) {
              const error = classifyAwsError(err);
              if (error.stopsDestination || error.code === 'UNKNOWN') {
                stop ??= error;
              } else if (error.code === 'INVALID_INPUT' && batch.length > 1) {
                const half = Math.ceil(batch.length / 2);
                split.push(batch.slice(0, half), batch.slice(half));
              } else {
                const disposition: Disposition = error.retryable ? 'retry' : 'permanent';
                for (const item of batch) settle(item, { reason: error.message, disposition }, resend);
              }
            }
          }
        };
        await Promise.all(Array.from({ length: Math.min(concurrency, pending.length) }, worker));
        if (stop !== undefined) {
          // What earlier batches and rounds imported is in Security Hub: the error says so.
          throw new AwsError(stop.code, stop.message, stop.retryable, {
            cause: stop.cause,
            awsCode: stop.awsCode,
            importedBefore: imported,
          });
        }

        stats.resentFindings += resend.length;
        pending = [...split, ...batchFindings(resend, limits)];
        if (resend.length > 0) {
          resendRounds++;
          const ceiling = Math.min(backoffMaxMs, backoffBaseMs * 2 ** (resendRounds - 1));
          await sleep(ceiling / 2 + random() * (ceiling / 2));
        }
      }
      return { imported, rejected, stats };
    },
  };
}

/**
 * Per-finding codes with which Security Hub refuses a partner product's findings for a customer account
 * (ADR 0121: the customer has not accepted the product's findings in that region, or has no hub there).
 */
const PARTNER_ACCESS_CODES: ReadonlySet<string> = new Set([
  'InvalidAccess',
  'InvalidAccessException',
  'AccessDenied',
  'AccessDeniedException',
]);

function productNotEnabled(destination: Destination, reason: string): AwsError {
  return new AwsError(
    'PRODUCT_NOT_ENABLED',
    `Security Hub in account ${destination.accountId}, ${destination.region} does not accept findings from ` +
      `${productArn(destination)}: in Security Hub, Integrations, accept findings from Data443 Vaikora in ` +
      `that region (EnableImportFindingsForProduct) and make sure Security Hub is enabled there (${reason})`,
    false,
    { awsCode: reason.split(':')[0] ?? reason },
  );
}

/**
 * Refuses, as a bug, any finding that names another account or region than the destination (it would
 * land in, or be refused by, the wrong tenant's hub) or that carries a field the customer owns.
 */
function assertSendable(items: readonly PreparedFinding[], destination: Destination): void {
  for (const { finding } of items) {
    if (finding.AwsAccountId !== destination.accountId || finding.Region !== destination.region) {
      throw new AwsError(
        'INVALID_INPUT',
        `finding ${finding.Id} is for ${finding.AwsAccountId}/${finding.Region}, not this destination ${destination.accountId}/${destination.region}`,
        false,
      );
    }
    const owned = CUSTOMER_OWNED_FIELDS.find((field) => Object.hasOwn(finding, field));
    if (owned !== undefined) {
      throw new AwsError(
        'INVALID_INPUT',
        `finding ${finding.Id} sets ${owned}, which the customer owns; the connector never sends it`,
        false,
      );
    }
  }
}
