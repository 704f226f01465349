import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { AwsCredentialIdentity } from '@smithy/types';
import {
  createDestinationRegistry,
  createFindingsV2Importer,
  createRateLimiterRegistry,
  createSecurityHubImporter,
  createSecurityLakeImporter,
  createServerClock,
  createStateStore,
  type DestinationRegistry,
  type DestinationRoute,
  type RateLimiterRegistry,
  type StateStore,
  timedRequestHandler,
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
import {
  DEFAULT_RUN_OPTIONS,
  type FindingImporter,
  type RunDeps,
  type RunHint,
  type RunOptions,
} from './ports.ts';
import { type RunResult, runTenant } from './run-tenant.ts';
import { createDbTenantStore, type TenantScheduler } from './tenant-store.ts';

export interface WorkerRuntimeOptions {
  readonly db: Database;
  readonly secrets: SecretBox;
  readonly dynamodb: DynamoDBClient;
  readonly tableName: string;
  /** Whether cursors may be written to the lease item (ADR 0126; default true): false for a rollout's first phase. */
  readonly inlineCursors?: boolean | undefined;
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
  /** Role destinations import with BatchImportFindingsV2 (the FINDINGS_V2_PREVIEW flag, ADR 0120); default off. */
  readonly findingsV2Preview?: boolean | undefined;
  /** Where BatchImportFindingsV2 is sent (default `awsEndpoint`, else Security Hub's regional endpoint). */
  readonly findingsV2Endpoint?: string | undefined;
  readonly run?: Partial<RunOptions> | undefined;
}

/** One worker process's long-lived parts, shared by every tenant run (no client per run or call). */
export interface WorkerRuntime {
  readonly run: (tenantId: string, signal?: AbortSignal, hint?: RunHint) => Promise<RunResult>;
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
 * The run's importer for a destination, chosen by its route: a Security Lake destination writes OCSF
 * Parquet to its custom source through the role's S3 client; with `findingsV2Preview`, a role destination
 * imports OCSF with BatchImportFindingsV2 (its health findings still with BatchImportFindings); any other
 * imports into Security Hub with its account-region limiter. The clients come from the registry at the
 * first import, so a run with nothing to send (an idle tenant) creates no client and assumes no role.
 */
export function destinationImporters(
  registry: DestinationRegistry,
  limiters: RateLimiterRegistry,
  options: { readonly findingsV2Preview?: boolean | undefined } = {},
): RunDeps['importer'] {
  const create = (route: DestinationRoute): FindingImporter => {
    const clients = registry.get(route);
    const securityHub = () =>
      createSecurityHubImporter({
        client: clients.securityHub,
        destination: route.destination,
        rateLimiter: limiters,
      });
    if (route.securityLake !== undefined) {
      return createSecurityLakeImporter({
        destination: route.destination,
        lake: route.securityLake,
        client: clients.s3,
      });
    }
    if (options.findingsV2Preview === true && route.destination.product === undefined) {
      return createFindingsV2Importer({
        destination: route.destination,
        sender: clients.findingsV2(),
        healthImporter: securityHub,
        credentials: clients.credentials,
        rateLimiter: limiters,
      });
    }
    return securityHub();
  };
  return (route) => {
    let importer: FindingImporter | undefined;
    return {
      importFindings: async (findings) => {
        importer ??= create(route);
        return importer.importFindings(findings);
      },
    };
  };
}

/**
 * How the worker's DynamoDB client (the state store) sends: a request not answered in `requestTimeoutMs`
 * fails instead of holding the run, and its tenant's lease, on a hung connection (ADR 0125); and the
 * SDK's `cacheMiddleware`, which resolves each command's middleware stack once per client instead of on
 * every call (issue 16; the state store adds no middleware per command and passes no per-call options,
 * which the cache would ignore).
 */
export function stateClientOptions(requestTimeoutMs = STATE_REQUEST_TIMEOUT_MS) {
  return { requestHandler: timedRequestHandler(requestTimeoutMs), cacheMiddleware: true };
}

/** A state call (a small item or query) takes milliseconds; ten seconds is a hung connection. */
const STATE_REQUEST_TIMEOUT_MS = 10_000;

/** Builds the worker from already-constructed infrastructure clients. */
export function createWorkerRuntime(options: WorkerRuntimeOptions): WorkerRuntime {
  // AWS's clock as this process reads it (ADR 0135): leases are written and judged by it, and runs
  // check their lease's expiry by it, so that workers whose clocks disagree never both hold a tenant.
  const serverClock = options.clock === undefined ? createServerClock() : undefined;
  const clock = options.clock ?? serverClock?.now ?? Date.now;
  const store = createDbTenantStore({
    db: options.db,
    secrets: options.secrets,
    logger: options.logger,
    baseUrlPolicy: options.baseUrlPolicy,
    partnerProduct: options.partnerProduct,
  });
  const state = createStateStore({
    client: options.dynamodb,
    tableName: options.tableName,
    clock,
    serverClock,
    inlineCursors: options.inlineCursors,
  });
  const registry = createDestinationRegistry({
    masterCredentials: options.masterCredentials,
    stsClientConfig: options.awsEndpoint === undefined ? undefined : { endpoint: options.awsEndpoint },
    securityHubClientConfig:
      options.awsEndpoint === undefined ? undefined : { endpoint: options.awsEndpoint },
    // moto answers path-style only: bucket names are no host names on 127.0.0.1.
    s3ClientConfig:
      options.awsEndpoint === undefined ? undefined : { endpoint: options.awsEndpoint, forcePathStyle: true },
    findingsV2: {
      previewEnabled: options.findingsV2Preview ?? false,
      endpoint: options.findingsV2Endpoint ?? options.awsEndpoint,
    },
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
    importer: destinationImporters(registry, limiters, { findingsV2Preview: options.findingsV2Preview }),
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
    run: (tenantId, signal, hint) => runTenant(tenantId, deps, signal, hint),
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
