import { setTimeout as delay } from 'node:timers/promises';

export interface RunSlotsOptions {
  /** Runs at once, not counting slow ones. */
  readonly concurrency: number;
  /**
   * A run older than this stops holding its slot: it is waiting on a slow upstream (a Vaikora page
   * just under the timeout), which costs little CPU and a bounded page of memory, so slow or hostile
   * tenants cannot keep every other tenant waiting (issue 11). Default 5 s.
   */
  readonly slowAfterMs?: number | undefined;
  /** Hard bound on runs at once, slow ones included; default 4 x `concurrency`. */
  readonly maxInFlight?: number | undefined;
  readonly clock: () => number;
}

/** The slots of one process's runs (in-process scheduler and SQS consumer alike). */
export class RunSlots {
  private readonly inFlight = new Map<Promise<unknown>, number>();
  private readonly slowAfterMs: number;
  private readonly maxInFlight: number;

  constructor(private readonly options: RunSlotsOptions) {
    this.slowAfterMs = options.slowAfterMs ?? 5000;
    this.maxInFlight = options.maxInFlight ?? options.concurrency * 4;
  }

  get size(): number {
    return this.inFlight.size;
  }

  /** Slots free now: runs younger than `slowAfterMs` hold one; never more than `maxInFlight` in all. */
  free(): number {
    const now = this.options.clock();
    let holding = 0;
    for (const startedAt of this.inFlight.values()) if (now - startedAt < this.slowAfterMs) holding++;
    return Math.max(0, Math.min(this.options.concurrency - holding, this.maxInFlight - this.inFlight.size));
  }

  /** Counts `job` until it settles. */
  add(job: Promise<unknown>): void {
    this.inFlight.set(job, this.options.clock());
    const done = () => {
      this.inFlight.delete(job);
    };
    job.then(done, done);
  }

  /** Resolves when a slot may have come free: a run settled, or the youngest run became slow. */
  async change(signal?: AbortSignal): Promise<void> {
    const now = this.options.clock();
    let soonest = Number.POSITIVE_INFINITY;
    for (const startedAt of this.inFlight.values()) {
      const slowIn = startedAt + this.slowAfterMs - now;
      if (slowIn > 0 && slowIn < soonest) soonest = slowIn;
    }
    const waits: Promise<unknown>[] = [...this.inFlight.keys()].map((p) => p.catch(() => undefined));
    if (soonest !== Number.POSITIVE_INFINITY) {
      waits.push(delay(soonest, undefined, signal === undefined ? {} : { signal }).catch(() => undefined));
    }
    if (waits.length > 0) await Promise.race(waits);
  }

  /** Waits for every run in flight. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight.keys()]);
  }
}
