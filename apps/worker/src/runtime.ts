import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { AwsCredentialIdentity } from '@smithy/types';
import {
  createDestinationRegistry,
  createRateLimiterRegistry,
  createSecurityHubImporter,
  createStateStore,
  type DestinationRegistry,
  type RateLimiterRegistry,
  type SecurityHubImporter,
  type StateStore,
} from '@vsh/aws';
import type { PartnerProduct } from '@vsh/core';
import type { Database } from '@vsh/db';
import type { SecretBox } from '@vsh/secrets';
import type { BaseUrlPolicy } from '@vsh/vaikora';
import { createVaikoraClient } from '@vsh/vaikora';
import type { Logger } from 'pino';
import { type BackfillJob, type BackfillResult, type BackfillStore, runBackfill } from './backfill.ts';
import { createDbBackfillStore } from './backfill-store.ts';
import { createWorkerMetrics, type WorkerMetrics } from './metrics.ts';
import { DEFAULT_RUN_OPTIONS, type RunDeps, type RunOptions } from './ports.ts';
import { type RunResult, runTenant } from './run-tenant.ts';
import { createDbTenantStore, type TenantScheduler } from './tenant-store.ts';

export interface WorkerRuntimeOptions {
  readonly db: Database;
  readonly secrets: SecretBox;
  readonly dynamodb: DynamoDBClient;
  readonly tableName: string;
  readonly logger: Logger;
  readonly workerId: string;
  readonly clock?: (() => number) | undefined;
  /** AWS endpoint override (moto locally; unset in production). */
  readonly awsEndpoint?: string | undefined;
  /** The worker's own credentials for AssumeRole (default: the SDK's provider chain). */
  readonly masterCredentials?: AwsCredentialIdentity | undefined;
  /** Security Hub's quota per account and region. */
  readonly importRatePerSecond?: number | undefined;
  readonly importBurst?: number | undefined;
  readonly vaikoraTimeoutMs?: number | undefined;
  /** The Vaikora base URLs runs may call (default: production). */
  readonly baseUrlPolicy?: BaseUrlPolicy | undefined;
  /** Data443's partner product when partner-product mode is offered (ADR 0121). */
  readonly partnerProduct?: PartnerProduct | undefined;
  readonly run?: Partial<RunOptions> | undefined;
}

/** One worker process's long-lived parts, shared by every tenant run (no client per run or call). */
export interface WorkerRuntime {
  readonly run: (tenantId: string, signal?: AbortSignal) => Promise<RunResult>;
  readonly scheduler: TenantScheduler;
  /** Executes a claimed backfill (ADR 0095). */
  readonly runBackfill: (job: BackfillJob, signal?: AbortSignal) => Promise<BackfillResult>;
  /** Runs a backfill the SQS dispatcher claimed, by id; null when it is no longer claimed. */
  readonly runClaimedBackfill: (backfillId: string, signal?: AbortSignal) => Promise<BackfillResult | null>;
  readonly backfills: BackfillStore;
  readonly state: StateStore;
  readonly metrics: WorkerMetrics;
  readonly registry: DestinationRegistry;
  close(): void;
}

// A backfill reaches back up to 30 days (the API's limit), further than any run's sweep.
const BACKFILL_MAX_PAGES = 10_000;

/**
 * The run's importer for a destination: its Security Hub client from the registry, its account-region
 * limiter. Both are taken at the first import, so a run with nothing to send (an idle tenant) creates
 * no client and assumes no role.
 */
export function destinationImporters(
  registry: DestinationRegistry,
  limiters: RateLimiterRegistry,
): RunDeps['importer'] {
  return (route) => {
    let importer: SecurityHubImporter | undefined;
    return {
      importFindings: (findings) => {
        importer ??= createSecurityHubImporter({
          client: registry.get(route).securityHub,
          destination: route.destination,
          rateLimiter: limiters,
        });
        return importer.importFindings(findings);
      },
    };
  };
}

/** Builds the worker from already-constructed infrastructure clients. */
export function createWorkerRuntime(options: WorkerRuntimeOptions): WorkerRuntime {
  const clock = options.clock ?? Date.now;
  const store = createDbTenantStore({
    db: options.db,
    secrets: options.secrets,
    logger: options.logger,
    baseUrlPolicy: options.baseUrlPolicy,
    partnerProduct: options.partnerProduct,
  });
  const state = createStateStore({ client: options.dynamodb, tableName: options.tableName, clock });
  const registry = createDestinationRegistry({
    masterCredentials: options.masterCredentials,
    stsClientConfig: options.awsEndpoint === undefined ? undefined : { endpoint: options.awsEndpoint },
    securityHubClientConfig:
      options.awsEndpoint === undefined ? undefined : { endpoint: options.awsEndpoint },
    requestTimeoutMs: 30_000,
    clock,
  });
  const limiters = createRateLimiterRegistry({
    ratePerSecond: options.importRatePerSecond ?? 10,
    burst: options.importBurst ?? 30,
  });
  const metrics = createWorkerMetrics();
  const deps: RunDeps = {
    store,
    state,
    vaikora: (connection) =>
      createVaikoraClient({
        baseUrl: connection.baseUrl,
        apiKey: connection.apiKey.reveal(),
        timeFilterParam: connection.timeFilterParam ?? undefined,
        timeoutMs: options.vaikoraTimeoutMs ?? 15_000,
      }),
    importer: destinationImporters(registry, limiters),
    healthState: state,
    clock,
    logger: options.logger,
    metrics,
    workerId: options.workerId,
    options: { ...DEFAULT_RUN_OPTIONS, ...options.run },
  };
  const backfills = createDbBackfillStore(options.db, options.logger);
  const backfill = (job: BackfillJob, signal?: AbortSignal) =>
    runBackfill(job, { ...deps, backfills, maxPages: BACKFILL_MAX_PAGES }, signal);
  return {
    run: (tenantId, signal) => runTenant(tenantId, deps, signal),
    runBackfill: backfill,
    runClaimedBackfill: async (backfillId, signal) => {
      const job = await backfills.loadClaimed(backfillId);
      return job === null ? null : backfill(job, signal);
    },
    backfills,
    scheduler: store,
    state,
    metrics,
    registry,
    close: () => registry.destroy(),
  };
}
