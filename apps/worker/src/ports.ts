import type { DestinationRoute } from '@vsh/aws';
import type {
  Destination,
  Partition,
  PartnerProduct,
  PreparedFinding,
  Rejection,
  Thresholds,
} from '@vsh/core';
import type { DestinationRunStats, DestinationState, RecentFinding } from '@vsh/db';
import type { Secret } from '@vsh/secrets';
import type { VaikoraClient } from '@vsh/vaikora';
import type { Logger } from 'pino';
import type { DestinationHealth } from './health.ts';
import type { WorkerMetrics } from './metrics.ts';

/** A tenant's Vaikora connection, with the key opened (held in a Secret so it never prints). */
export interface VaikoraConnection {
  readonly baseUrl: string;
  readonly apiKey: Secret<string>;
  readonly timeFilterParam: string | null;
  readonly thresholds: Thresholds;
  readonly pollIntervalSeconds: number;
}

export interface DestinationConfig {
  readonly id: string;
  readonly accountId: string;
  readonly partition: Partition;
  /** The role findings are imported through; empty in partner-product mode (`product`), which has none. */
  readonly roleArn: string;
  readonly externalId: string;
  /**
   * Partner-product mode (ADR 0121): findings are imported from Data443's own account under this
   * product; absent: through the tenant's role under the account's own default product.
   */
  readonly product?: PartnerProduct | undefined;
  /**
   * A Security Lake destination (ADR 0120): findings are written as OCSF Parquet into this bucket's custom
   * source, through the role, instead of being imported into Security Hub; absent: Security Hub.
   */
  readonly securityLake?: { readonly bucket: string; readonly sourceName: string } | undefined;
  readonly state: DestinationState;
  readonly health: DestinationHealth;
  /** Whether the destination's hubs get the heartbeat finding (ADR 0118); absent: off. */
  readonly heartbeat?: boolean | undefined;
}

/** One route: a Vaikora agent's actions to one destination in one region; the cursor key. */
export interface StreamConfig {
  readonly id: string;
  readonly destinationId: string;
  readonly agentId: string;
  readonly region: string;
}

/** What a run needs to know about a tenant. */
export interface TenantConfig {
  readonly tenantId: string;
  readonly vaikora: VaikoraConnection | null;
  /** Why `vaikora` is null when the tenant did set it (e.g. its key could not be opened). */
  readonly vaikoraProblem?: { readonly code: string; readonly message: string } | undefined;
  readonly destinations: readonly DestinationConfig[];
  readonly streams: readonly StreamConfig[];
  /**
   * The tenant's state as its last quiet run found it (ADR 0137), kept with its schedule; absent when a
   * run under the lease started since, or none was kept.
   */
  readonly stateSnapshot?: StateSnapshot | undefined;
  /**
   * Runs under the lease started so far, as loaded (ADR 0137): a quiet run keeps its state only when
   * none started since it loaded the tenant. Absent: unknown (it keeps none).
   */
  readonly leaseRunsStarted?: number | undefined;
}

/**
 * The tenant's state as a quiet run found it (ADR 0137): the cursor of each stream the run swept (null:
 * the stream had none), all of its state (it was in the lease item alone, ADR 0127), and when it was read
 * from the state store. The next quiet run starts from it instead of reading the store, while it covers
 * every stream of the tenant and is under `SNAPSHOT_MAX_AGE_MS` old.
 */
export interface StateSnapshot {
  readonly readAtMs: number;
  readonly cursors: Readonly<
    Record<string, Pick<Cursor, 'positionMs' | 'updatedAtMs' | 'windowDigest'> | null>
  >;
}

/** What the dispatch knew of a tenant when it handed it out (ADR 0136). */
export interface RunHint {
  /** Its last run was quiet (ok, nothing written, sent or read from a seen-set): try without the lease first. */
  readonly lastRunQuiet?: boolean | undefined;
}

/** A rejection with what the rejected-records store needs to keep it once per stream. */
export interface RecordedRejection {
  readonly rejection: Rejection;
  /** The destination whose stream rejected it; null when it was rejected while reading (every stream of the agent). */
  readonly destinationId: string | null;
  /** The Vaikora agent whose list it came from (null for a backfill over every agent). */
  readonly agentId: string | null;
}

/** What keeping a batch of rejections did: nothing here ever throws (ADR 0004). */
export interface KeptRejections {
  /** Records seen for the first time (new rows). */
  readonly inserted: number;
  /** Records already kept for that stream: their count and last-seen time went up. */
  readonly repeated: number;
  /** Records that could not be kept at all (the database refused even the minimal row); logged with their fingerprint. */
  readonly failed: number;
}

export interface RunSummary {
  readonly status: 'ok' | 'partial' | 'failed';
  readonly actionsRead: number;
  readonly findingsMapped: number;
  readonly findingsImported: number;
  readonly actionsSkipped: number;
  readonly recordsRejected: number;
  readonly throttles: number;
  readonly lagSeconds: number | null;
  readonly errorCode: string | null;
  readonly errorMessage: string | null;
  readonly recentFindings: readonly RecentFinding[];
  /** Per destination id: what this run did for it. */
  readonly destinationStats: Record<string, DestinationRunStats>;
}

/** The control-plane database as the worker uses it (implemented on drizzle in tenant-store.ts). */
export interface TenantStore {
  /** The tenant's configuration, or null when it is unknown or offboarded. */
  loadTenant(tenantId: string): Promise<TenantConfig | null>;
  startRun(tenantId: string, workerId: string, startedAt: Date): Promise<string>;
  /**
   * Records the run's outcome and, with it, when the tenant is next due (clearing a "run now" request
   * made before the run started).
   */
  finishRun(runId: string, summary: RunSummary, finishedAt: Date, schedule: NextRun): Promise<void>;
  /**
   * Records a run that took no lease and wrote nothing (ADR 0136): its row, already finished, and the
   * tenant's next due time, in one statement; returns the run's id. A run still marked running that
   * started before `interruptedBefore` was cut short (no run lives that long) and is closed as failed.
   */
  recordQuietRun(
    tenantId: string,
    workerId: string,
    summary: RunSummary,
    startedAt: Date,
    finishedAt: Date,
    schedule: NextRun & { readonly interruptedBefore: Date },
  ): Promise<string>;
  /**
   * Keeps rejected records once per stream, keyed by fingerprint (a record read again by a later
   * overlapping run is counted, not stored again). Never rejects: a failure is logged with its
   * database cause and counted in `failed`.
   */
  recordRejections(
    tenantId: string,
    runId: string,
    rejections: readonly RecordedRejection[],
  ): Promise<KeptRejections>;
  saveDestinationHealth(
    destinationId: string,
    health: DestinationHealth,
    lastError: string | null,
  ): Promise<void>;
}

/** When a tenant is next due, given with the outcome of its run (`TenantStore.finishRun`). */
export interface NextRun {
  readonly tenantId: string;
  readonly nextRunAt: Date;
  readonly runStartedAt: Date;
  /** The run was quiet (ADR 0136): the tenant's next run first tries without the lease. */
  readonly quiet: boolean;
  /** The state the quiet run found (ADR 0137): what the next quiet run starts from. */
  readonly snapshot?: StateSnapshot | undefined;
  /** `TenantConfig.leaseRunsStarted` as the quiet run loaded it (ADR 0137). */
  readonly leaseRunsStarted?: number | undefined;
}

/** Where a destination's findings for one region go, as core maps them (its product in partner-product mode). */
export function destinationOf(destination: DestinationConfig, region: string): Destination {
  return {
    accountId: destination.accountId,
    region,
    partition: destination.partition,
    ...(destination.product === undefined ? {} : { product: destination.product }),
  };
}

/**
 * The route to one stream's Security Hub (or Security Lake custom source): the destination's account and
 * role, the stream's region, and the tenant as the session's source identity (what CloudTrail in the
 * customer's account shows).
 */
export function routeOf(
  tenantId: string,
  destination: DestinationConfig,
  stream: StreamConfig,
): DestinationRoute {
  return {
    tenantId,
    destination: destinationOf(destination, stream.region),
    roleArn: destination.roleArn,
    externalId: destination.externalId,
    sourceIdentity: tenantId,
    ...(destination.securityLake === undefined ? {} : { securityLake: destination.securityLake }),
  };
}

/** A tenant's lease (ADR 0050): `epoch` is the fencing token, higher on every acquisition. */
export interface Lease {
  readonly tenantId: string;
  readonly owner: string;
  readonly epoch: number;
  readonly expiresAtMs: number;
}

/**
 * Where a stream has got to (ADR 0004): every action older than `positionMs` minus the overlap is
 * behind it for good; inside the overlap window and after it, an action is handled when its id is
 * in the stream's seen-set.
 */
export interface Cursor {
  readonly positionMs: number;
  readonly updatedAtMs: number;
  /**
   * `windowDigest` (cursor.ts) of the ids the sweep that wrote this position found in the window it
   * opens, when every one of them was handled (ADR 0128); absent otherwise.
   */
  readonly windowDigest?: string | undefined;
  /**
   * Findings Security Hub kept refusing with a passing error (ADR 0133): what lets a run give up on one
   * that would otherwise hold the position for good. A write without it leaves none.
   */
  readonly stuck?: readonly StuckFinding[] | undefined;
}

/** A finding Security Hub refused with a passing error in `runs` counted runs since `sinceMs` (ADR 0133). */
export interface StuckFinding {
  /** `stuckKey` of the action's id: fixed in size, whatever the id. */
  readonly key: string;
  /** The action's time: the entry is dropped once the window is past it. */
  readonly actionMs: number;
  readonly runs: number;
  readonly sinceMs: number;
}

/** An action id a run handled, with the action's time (which decides when it may be forgotten). */
export interface SeenEntry {
  readonly id: string;
  readonly timestampMs: number;
}

/** The ids a stream has handled in its window. */
export interface SeenSet {
  has(id: string): boolean;
  readonly size: number;
  /**
   * When the stored entry of `id` may be dropped: the end of the newest segment holding it (a prune
   * drops a segment once the window starts at or after its end; ADR 0112). +Infinity for an entry
   * kept as long as the cursor, undefined when `id` is not in the set (ADR 0134).
   */
  until?(id: string): number | undefined;
  /**
   * The lowest lease epoch of the writes that stored `id` (ADR 0143): which run stored it first, so that
   * ids stored by a run later than the one a window digest speaks for are told apart (ADR 0146).
   * Undefined when `id` is not in the set, or was stored without an epoch.
   */
  epochOf?(id: string): number | undefined;
}

/** One stored segment of a seen-set: the ids of actions one cursor write handled, keyed by the bucket of the newest (ADR 0112). */
export interface SeenSegment {
  readonly key: string;
  readonly bucketStartMs: number;
  readonly bucketEndMs: number;
  readonly count: number;
}

/** Where a stream's next cursor write goes: the tenant's lease item, a new entry in it, or an item of its own (ADR 0126). */
export type CursorHome = 'lease' | 'new' | 'item';

/** A stream's cursor and seen-set, read together. */
export interface StreamState {
  readonly cursor: Cursor | null;
  readonly seen: SeenSet;
  /** The stored segments of the seen-set: what `advanceCursor` may prune once they fall behind the window. */
  readonly segments: readonly SeenSegment[];
  /** Where the store found the cursor, given back with the write (a hint: a store may ignore it). */
  readonly home?: CursorHome | undefined;
}

/** A tenant's state as a run reads it first (`StateStore.readTenant`). */
export interface TenantState {
  /** The open health conditions, when the store keeps them with the cursors (else read through `HealthStateStore`). */
  readonly openHealth?: readonly OpenHealthCondition[] | undefined;
  /**
   * False when the state was more than the store can read without the lease (`peekTenant`): a run that
   * read it is not quiet, since its next could not run without the lease (ADR 0136). Absent: it can.
   */
  readonly alone?: boolean | undefined;
  /** One stream's cursor as read with the tenant (no request): where its sweep must reach. */
  cursor(streamId: string): Cursor | null;
  /** One stream's cursor and seen-set (a request: a run asks only once some action may be new to it). */
  stream(streamId: string): Promise<StreamState>;
}

/**
 * What a cursor write did (`StateStore.advanceCursor`): `released`, the lease released with the write
 * (`release`, ADR 0140); `advanced`, the lease still held (no release asked, or the write could not
 * carry it).
 */
export type CursorWriteOutcome = 'advanced' | 'released';

/** The codes a StateStore failure carries (as `code` on the error it rejects with). */
export type StateFailureCode = 'LEASE_LOST' | 'CURSOR_REGRESSION' | 'CONFLICT' | 'UNAVAILABLE';

/**
 * The tenants' leases and the streams' cursors as a run uses them (implemented on DynamoDB by
 * `createStateStore` of @vsh/aws; ADR 0102). Writes reject with an error whose `code` is a
 * `StateFailureCode`.
 */
export interface StateStore {
  /** Takes the tenant's lease when it is free, expired or already ours; null when someone else holds it. */
  acquireLease(tenantId: string, owner: string, ttlMs: number): Promise<Lease | null>;
  /** Extends our lease; LEASE_LOST when another acquisition happened since, or we released it. */
  renewLease(lease: Lease, ttlMs: number): Promise<Lease>;
  /** Frees our lease for the next worker; false when it was no longer ours. */
  releaseLease(lease: Lease): Promise<boolean>;
  /**
   * What a run reads before its streams, at once: every cursor of the tenant and its open health
   * conditions; each stream's seen-set is read when its agent is swept.
   */
  readTenant(lease: Lease): Promise<TenantState>;
  /**
   * The tenant's state read without its lease (ADR 0136), for a run that writes nothing: its cursors
   * when nobody holds the lease and the lease item is all there is (no cursor item, no open health
   * condition); null otherwise, and the run takes the lease. Its seen-sets are read without the lease
   * too: only to find that nothing is new. A store without it runs every tenant under its lease.
   */
  peekTenant?(tenantId: string): Promise<TenantState | null>;
  /**
   * Moves a stream's cursor forward (or keeps its position), adds `options.seen` to its seen-set and
   * drops `options.prune`, fenced by the lease and never behind the stored position.
   */
  advanceCursor(
    lease: Lease,
    streamId: string,
    next: Cursor,
    options?: {
      readonly seen?: readonly SeenEntry[];
      readonly prune?: readonly SeenSegment[];
      readonly home?: CursorHome | undefined;
      /** The same for every try of one write: a try that landed without its answer is then known as ours. */
      readonly writeId?: string | undefined;
      /** The run's last write (ADR 0140): release the lease with it where the store can. */
      readonly release?: boolean | undefined;
    },
  ): Promise<CursorWriteOutcome>;
}

/** True when a StateStore call failed because the lease is no longer ours: nothing more may be written. */
export function isLeaseLost(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && err.code === 'LEASE_LOST';
}

/** True when a StateStore call failed for a passing reason (its error says `retryable`) and may be tried again. */
export function isRetryableStateFailure(err: unknown): boolean {
  return (
    typeof err === 'object' &&
    err !== null &&
    'retryable' in err &&
    err.retryable === true &&
    !isLeaseLost(err)
  );
}

/** What one import call did: every finding given is imported or rejected (`retryable` says whether a later run can help). */
export interface ImportOutcome {
  readonly imported: readonly string[];
  readonly rejected: readonly Rejection[];
  readonly stats: { readonly throttled: number };
}

/**
 * One destination's Security Hub as the worker uses it (implemented by `createSecurityHubImporter`
 * of @vsh/aws). A call rejects with an AwsError (or what `classifyAwsError` makes one of) when the
 * whole call failed.
 */
export interface FindingImporter {
  importFindings(findings: readonly PreparedFinding[]): Promise<ImportOutcome>;
}

/** A connector health condition open for one destination's hub (ADR 0116); `condition` is a HealthCondition. */
export interface OpenHealthCondition {
  readonly destinationId: string;
  readonly region: string;
  readonly condition: string;
  /** When it was first seen: the health finding's CreatedAt, kept when it is archived. */
  readonly openedAtMs: number;
  /** Whether its ACTIVE finding is in Security Hub; false while it waits for its threshold (or a retry). */
  readonly imported: boolean;
  /** The heartbeat's entry only (condition `heartbeat`, ADR 0118): when it was last imported. */
  readonly sentAtMs?: number | undefined;
}

/**
 * Where a tenant's open health conditions are kept between runs (implemented next to the cursors by
 * `createStateStore` of @vsh/aws; ADR 0116), so a finding is imported when a condition opens or
 * clears, not on every run. Writes are fenced by the lease and reject like a cursor write.
 */
export interface HealthStateStore {
  getOpenHealth(tenantId: string): Promise<readonly OpenHealthCondition[]>;
  saveOpenHealth(lease: Lease, open: readonly OpenHealthCondition[]): Promise<unknown>;
}

/** Everything a tenant run depends on, constructed once per process. */
export interface RunDeps {
  readonly store: TenantStore;
  readonly state: StateStore;
  readonly vaikora: (connection: VaikoraConnection) => VaikoraClient;
  readonly importer: (route: DestinationRoute) => FindingImporter;
  /** Where open health conditions are kept; without it a run imports no health finding (ADR 0116). */
  readonly healthState?: HealthStateStore | undefined;
  readonly clock: () => number;
  /** Waits between tries of a cursor write (ADR 0132); default a timer. Tests pass one that does not wait. */
  readonly sleep?: ((ms: number) => Promise<void>) | undefined;
  readonly logger: Logger;
  readonly metrics: WorkerMetrics;
  readonly workerId: string;
  readonly options: RunOptions;
}

export interface RunOptions {
  readonly leaseTtlMs: number;
  readonly overlapMs: number;
  readonly initialLookbackMs: number;
  /**
   * Longest a run may take: then it stops like a shutdown (the batch in flight finishes, what it
   * handled is kept in the seen-sets, the position stays) and yields its slot.
   */
  readonly runBudgetMs: number;
  /** Vaikora's history retention; a cursor older than this may have a gap (shown in status). */
  readonly retentionMs: number;
  readonly degradeAfterFailures: number;
  readonly disableAfterFailures: number;
  readonly disableAfterMs: number;
  /** Findings imported per call to the importer (the importer batches them again at 100 / 6 MB). */
  readonly importChunk: number;
  /** How long Vaikora must stay unreachable before the tenant gets a health finding for it (ADR 0116). */
  readonly vaikoraUnreachableAfterMs: number;
}

export const DEFAULT_RUN_OPTIONS: RunOptions = {
  leaseTtlMs: 20_000,
  overlapMs: 10 * 60_000,
  initialLookbackMs: 24 * 3600_000,
  runBudgetMs: 5 * 60_000,
  retentionMs: 7 * 24 * 3600_000,
  degradeAfterFailures: 2,
  disableAfterFailures: 5,
  disableAfterMs: 15 * 60_000,
  importChunk: 500,
  vaikoraUnreachableAfterMs: 60 * 60_000,
};
