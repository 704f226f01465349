import { CodedError } from '@vsh/core';

/** The closed set of reasons a state write can fail for. */
export const STATE_ERROR_CODES = [
  /** The lease is no longer ours: expired, taken over (higher epoch), or released. */
  'LEASE_LOST',
  /** The stored cursor is already past the one we tried to write. */
  'CURSOR_REGRESSION',
  /** A concurrent write won (same position with other ids, or a transaction conflict that persisted). */
  'CONFLICT',
  /** DynamoDB could not be reached or refused for a non-state reason (throttling, 5xx, missing table). */
  'UNAVAILABLE',
] as const;
export type StateErrorCode = (typeof STATE_ERROR_CODES)[number];

/** The error of the DynamoDB state adapter; the SDK error is kept as `cause`. */
export class StateError extends CodedError<StateErrorCode> {
  override name = 'StateError';
  constructor(
    code: StateErrorCode,
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/** A tenant's lease: `epoch` is the fencing token, higher on every acquisition. */
export interface Lease {
  readonly tenantId: string;
  readonly owner: string;
  readonly epoch: number;
  readonly expiresAtMs: number;
}

/**
 * Where a stream has got to (ADR 0004): every action older than `positionMs` minus the reader's
 * overlap is behind it for good; inside the overlap window and after it, an action is handled when
 * its id is in the stream's seen-set (`StreamState.seen`). `version` counts the accepted writes
 * (read-only: set by the store).
 */
export interface Cursor {
  readonly positionMs: number;
  /** Legacy (cursors written before the seen-set): ids handled at exactly `positionMs`. Read only. */
  readonly idsAtPosition?: readonly string[];
  /** Legacy: ids handled shortly before `positionMs`. Read only; folded into `seen`. */
  readonly recentIds?: readonly string[];
  readonly updatedAtMs: number;
  readonly version?: number;
  /**
   * The digest of the ids a complete sweep found inside the window this position opens, every one of
   * them handled (ADR 0128): a next sweep whose one page holds exactly these ids there has nothing new,
   * and its seen-set need not be read. Absent when the write could not vouch for every id.
   */
  readonly windowDigest?: string | undefined;
  /**
   * Findings Security Hub kept refusing with a passing error, with how long it has (ADR 0133): what
   * lets a run give up on one that would hold the position for good. Like the digest, it belongs to
   * the write that carries it: a write without it leaves none.
   */
  readonly stuck?: readonly StuckFinding[] | undefined;
}

/** One finding Security Hub refused with a passing error in `runs` runs since `sinceMs` (ADR 0133). */
export interface StuckFinding {
  /** A digest of the action's id (base64url): fixed in size, whatever the id. */
  readonly key: string;
  /** The action's time. */
  readonly actionMs: number;
  readonly runs: number;
  readonly sinceMs: number;
}

/** At most this many stuck findings are kept with a cursor (ADR 0133). */
export const STUCK_FINDINGS_MAX = 3;

/** An action id a run handled, with the action's time (which decides when it may be forgotten). */
export interface SeenEntry {
  readonly id: string;
  readonly timestampMs: number;
}

/** The ids a stream has handled in its window: exact for ids, held as 96-bit digests. */
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

/**
 * Where a stream's next cursor write goes (ADR 0126): its entry in the tenant's lease item (`lease`),
 * a new entry there (`new`: the item has room), or a cursor item of its own (`item`).
 */
export type CursorHome = 'lease' | 'new' | 'item';

/** A stream's cursor and seen-set, read together. */
export interface StreamState {
  readonly cursor: Cursor | null;
  readonly seen: SeenSet;
  /** The stored segments of the seen-set: what `advanceCursor` may prune once they fall behind the window. */
  readonly segments: readonly SeenSegment[];
  /** Where the cursor is to be written, as the read found it (a hint: a wrong one costs one more attempt). */
  readonly home?: CursorHome;
}

/** One stored segment of a seen-set: ids one write handled, of actions in a few consecutive time buckets (ADR 0112). */
export interface SeenSegment {
  readonly key: string;
  /** Start of its first bucket: every id in it belongs to an action at or after this time... */
  readonly bucketStartMs: number;
  /** ...and before this one (the end of its last bucket). */
  readonly bucketEndMs: number;
  readonly count: number;
}

export interface AdvanceOptions {
  /** Ids handled by this run to remember (ADR 0004: everything handled at or after the next window's start). */
  readonly seen?: readonly SeenEntry[];
  /**
   * Segments wholly behind the next window: from this write on, no segment ending at or before the
   * latest of them is read (ADR 0112); DynamoDB TTL deletes them.
   */
  readonly prune?: readonly SeenSegment[];
  /** `StreamState.home` of the read this write follows; without it the lease item is tried first. */
  readonly home?: CursorHome | undefined;
  /**
   * Names the write (default: a new one per call). A caller trying a write again passes the id of its
   * first try, so a try that landed without its answer is known as ours.
   */
  readonly writeId?: string | undefined;
  /**
   * The run's last write under its lease (ADR 0140): the lease is released in the same write, as
   * `releaseLease` releases it, when the cursor lives in the lease item (`released`); a cursor item's
   * write leaves it held (`advanced`).
   */
  readonly release?: boolean | undefined;
}

/** `released`: advanced, and the lease released with it (`AdvanceOptions.release`). */
export type AdvanceOutcome = 'advanced' | 'released';

/** A tenant's cursors and open health conditions as one query read them (`StateStore.readTenant`). */
export interface TenantState {
  readonly openHealth: readonly OpenHealthCondition[];
  /**
   * The lease item held all of the tenant's state when read (no cursor item, no health item with an
   * entry): a holder that writes nothing else stamps it on release (ADR 0127), and the next run can
   * read it without the lease (ADR 0136).
   */
  readonly alone: boolean;
  /** The stream's cursor as the query (or the lease item) read it: no request. */
  cursor(streamId: string): Cursor | null;
  /** The stream's cursor as the query read it, and its seen-set, read now (one query). */
  stream(streamId: string): Promise<StreamState>;
}

/** A connector health condition open for one destination's hub (ADR 0116); `condition` is core's HealthCondition. */
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
 * The DynamoDB state adapter's surface. The worker declares the port it consumes (its `ports.ts`,
 * ADR 0102); this adapter implements it structurally and never imports the worker.
 */
export interface StateStore {
  /** Creates the table if missing (local and tests; production creates it with IaC) and turns TTL on. */
  ensureTable(): Promise<void>;
  /** Takes the tenant's lease when it is free, expired or already ours; null when someone else holds it. */
  acquireLease(tenantId: string, owner: string, ttlMs: number): Promise<Lease | null>;
  /**
   * Extends our lease; LEASE_LOST when another acquisition happened since (even if ours had expired
   * unnoticed), or when we released it (a renewal still on its way then must not hold it again).
   */
  renewLease(lease: Lease, ttlMs: number): Promise<Lease>;
  /** Frees our lease for the next worker; false when it was no longer ours. */
  releaseLease(lease: Lease): Promise<boolean>;
  /** The lease as stored (null when the tenant never had one), for status and tests. */
  getLease(tenantId: string): Promise<Lease | null>;
  getCursor(tenantId: string, streamId: string): Promise<Cursor | null>;
  /** The stream's cursor and seen-set: two consistent reads, the cursor first (it says where the seen-set starts). */
  getStream(tenantId: string, streamId: string): Promise<StreamState>;
  /**
   * What the holder of `lease` reads before its streams: every cursor of the tenant and its open
   * health conditions in one consistent query (a few KB: one read unit), or none when the lease item it
   * acquired says there is nothing else (ADR 0127); each stream's seen-set when it is asked for.
   */
  readTenant(lease: Lease): Promise<TenantState>;
  /**
   * The tenant's state without its lease (ADR 0136), for a run that writes nothing: one consistent
   * read of the lease item (one read unit), whose cursors are all there is when nobody holds it and
   * its last holder stamped it on release (ADR 0127); null otherwise. The seen-sets read from it are
   * read without the lease: a run uses them to find that nothing is new, never to write.
   */
  peekTenant(tenantId: string): Promise<TenantState | null>;
  /**
   * Moves a stream's cursor forward (or keeps its position) and adds `options.seen` to its seen-set,
   * fenced by the lease (owner + epoch, unexpired) and monotonic (never behind the stored one).
   * Throws StateError LEASE_LOST, CURSOR_REGRESSION, CONFLICT or UNAVAILABLE.
   */
  advanceCursor(
    lease: Lease,
    streamId: string,
    next: Cursor,
    options?: AdvanceOptions,
  ): Promise<AdvanceOutcome>;
  /** The tenant's open connector health conditions (ADR 0116); none when it never had one. */
  getOpenHealth(tenantId: string): Promise<readonly OpenHealthCondition[]>;
  /** Replaces the tenant's open health conditions, fenced by the lease (LEASE_LOST, CONFLICT, UNAVAILABLE). */
  saveOpenHealth(lease: Lease, open: readonly OpenHealthCondition[]): Promise<void>;
}
