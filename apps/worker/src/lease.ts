import { errorInfo } from '@vsh/core';
import { isLeaseLost, type Lease, type RunDeps } from './ports.ts';

/** Why a run or backfill was stopped from outside: its error code and message (the status page shows them). */
export interface StopReason {
  readonly code: string;
  readonly message: string;
}

export const SHUTDOWN: StopReason = {
  code: 'SHUTDOWN',
  message: 'the worker was stopped before the run finished; the next run goes on from there',
};
export const LEASE_LOST: StopReason = {
  code: 'LEASE_LOST',
  message: 'another worker took over this tenant; its run continues from the stored cursor',
};
export const LEASE_EXPIRED: StopReason = {
  code: 'LEASE_EXPIRED',
  message:
    "the run's lease ran out before it could be renewed (the worker was paused or overloaded); the next run goes on from there",
};

export const RUN_OVERRAN: StopReason = {
  code: 'RUN_OVERRAN',
  message:
    'the run went on past its time budget without finishing (a call that never returned); its lease was left to expire so that another run serves the tenant',
};

/** A quiet run (ADR 0136) that came to something to write or send: it stops, and the run takes the lease. */
export const NEEDS_LEASE: StopReason = {
  code: 'NEEDS_LEASE',
  message: 'the run without the lease found something to write or send; it runs again under the lease',
};

/** What a run needs of its hold on the tenant: the lease it writes under, what stops it, and why it stopped. */
export interface RunHold {
  readonly lease: Lease;
  readonly signal: AbortSignal;
  readonly stopReason: StopReason | null;
  stopWith(reason: StopReason, cause?: unknown): void;
  /**
   * For the run's last write, which releases the lease (ADR 0140): no renewal is sent from now on (one
   * landing after the release would hold the lease again), and none is in flight once this resolves.
   * Absent from a hold with nothing to renew or release.
   */
  pauseRenewals?(): Promise<void>;
  /** The last write kept the lease (a cursor item's): renewals go on until the lease is released. */
  resumeRenewals?(): void;
  /** The last write released the lease: nothing is left to renew or release. */
  releasedByWrite?(): void;
}

/**
 * The hold of a quiet run (ADR 0136): no lease at all, so nothing to renew or release. Its lease is one
 * no store accepts (epoch 0, never held): any write it reached would be refused, and the run stops at
 * the first one it tries (`NEEDS_LEASE`) before sending it.
 */
export class QuietHold implements RunHold {
  private readonly controller = new AbortController();
  readonly lease: Lease;
  stopReason: StopReason | null = null;
  /**
   * Removes the listener on the outer signal, which every run of the process shares and outlives them
   * (as `LeaseHolder` does: `AbortSignal.any` on it would keep a dependant per run until collected).
   */
  readonly done: () => void = () => undefined;

  constructor(tenantId: string, owner: string, outer: AbortSignal | undefined) {
    this.lease = { tenantId, owner, epoch: 0, expiresAtMs: Number.POSITIVE_INFINITY };
    if (outer?.aborted === true) this.controller.abort(outer.reason);
    else if (outer !== undefined) {
      const onAbort = () => this.controller.abort(outer.reason);
      outer.addEventListener('abort', onAbort, { once: true });
      this.done = () => outer.removeEventListener('abort', onAbort);
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  stopWith(reason: StopReason, cause?: unknown): void {
    this.stopReason ??= reason;
    this.controller.abort(cause ?? new Error(reason.message));
  }
}

/** Keeps the lease alive while a run (or a backfill) works, and stops it when the lease is lost. */
export class LeaseHolder implements RunHold {
  readonly controller = new AbortController();
  /** Why the run was stopped from outside (shutdown, lease lost or run out): what a partial run reports. */
  stopReason: StopReason | null = null;
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> = Promise.resolve();
  /** Set once the run's last write released the lease (ADR 0140): no release call is left to make. */
  private released = false;
  /** Set once the lease is released or being released: a renewal refused from then on is expected. */
  private ending = false;
  private readonly started = Date.now();
  /** Removes the listener on the outer signal, which every run of the process shares and outlives them. */
  private readonly detach: () => void = () => undefined;

  /**
   * `renewForAtMostMs`: how long the holder renews the lease at most. A run stops itself at its budget,
   * but a call that never returns (a hung connection) would hold the run, and the lease it renews, for
   * ever: past this the holder stops renewing and aborts, the lease expires, and the tenant's next run
   * takes it (fenced: what the hung run might still write is refused).
   */
  constructor(
    public lease: Lease,
    private readonly deps: Pick<RunDeps, 'state' | 'logger' | 'options'>,
    outer: AbortSignal | undefined,
    private readonly renewForAtMostMs: number = Number.POSITIVE_INFINITY,
  ) {
    if (outer) {
      if (outer.aborted) this.stopWith(SHUTDOWN, outer.reason);
      else {
        const onAbort = () => this.stopWith(SHUTDOWN, outer.reason);
        outer.addEventListener('abort', onAbort, { once: true });
        this.detach = () => outer.removeEventListener('abort', onAbort);
      }
    }
    this.startRenewals();
  }

  private startRenewals(): void {
    const every = Math.max(1000, Math.floor(this.deps.options.leaseTtlMs / 3));
    this.timer = setInterval(() => {
      if (Date.now() - this.started > this.renewForAtMostMs) {
        clearInterval(this.timer);
        this.deps.logger.error(
          { tenantId: this.lease.tenantId, heldMs: Date.now() - this.started },
          'run overran its budget without finishing; its lease is left to expire',
        );
        this.stopWith(RUN_OVERRAN);
        return;
      }
      this.renewing = this.renew();
    }, every);
    this.timer.unref();
  }

  /** No renewal is scheduled from now on; `startRenewals` schedules them again. */
  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  async pauseRenewals(): Promise<void> {
    this.stopTimer();
    await this.renewing;
  }

  resumeRenewals(): void {
    if (this.timer === undefined && !this.released && this.stopReason !== RUN_OVERRAN) this.startRenewals();
  }

  releasedByWrite(): void {
    this.stopTimer();
    this.released = true;
    this.ending = true;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Stops the run and keeps the first reason, so a run cut short always says why (never "partial, no error"). */
  stopWith(reason: StopReason, cause?: unknown): void {
    this.stopReason ??= reason;
    this.controller.abort(cause ?? new Error(reason.message));
  }

  /** Renews the lease now (the timer calls it every third of the lease's time to live). */
  async renew(): Promise<void> {
    try {
      this.lease = await this.deps.state.renewLease(this.lease, this.deps.options.leaseTtlMs);
    } catch (err) {
      // A renewal still on its way when the lease was released: the store refuses it (ADR 0140).
      if (this.ending) return;
      if (isLeaseLost(err)) {
        this.deps.logger.warn({ tenantId: this.lease.tenantId }, 'lease lost; stopping the run');
        this.stopWith(LEASE_LOST, err);
      } else {
        this.deps.logger.warn({ tenantId: this.lease.tenantId, err: errorInfo(err) }, 'lease renewal failed');
      }
    }
  }

  async release(): Promise<void> {
    this.detach();
    clearInterval(this.timer);
    this.ending = true;
    await this.renewing;
    if (this.released) return;
    try {
      await this.deps.state.releaseLease(this.lease);
    } catch (err) {
      // The lease expires on its own; a failed release only delays the next run.
      this.deps.logger.warn({ tenantId: this.lease.tenantId, err: errorInfo(err) }, 'lease release failed');
    }
  }
}

/**
 * Takes the tenant's lease as `owner` and runs `work` under it, then releases it; `busy` when another
 * run or backfill holds it. `signal` (the process's shutdown) stops the work through the holder.
 */
export async function underLease<T>(
  tenantId: string,
  owner: string,
  deps: Pick<RunDeps, 'state' | 'logger' | 'options'>,
  signal: AbortSignal | undefined,
  work: (holder: LeaseHolder) => Promise<T>,
  renewForAtMostMs?: number,
): Promise<T | { readonly kind: 'busy' }> {
  const lease = await deps.state.acquireLease(tenantId, owner, deps.options.leaseTtlMs);
  if (lease === null) return { kind: 'busy' };
  const holder = new LeaseHolder(lease, deps, signal, renewForAtMostMs);
  try {
    return await work(holder);
  } finally {
    await holder.release();
  }
}
