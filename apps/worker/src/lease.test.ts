import { StateError } from '@vsh/aws';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LeaseHolder, underLease } from './lease.ts';
import { DEFAULT_RUN_OPTIONS, type Lease, type RunDeps } from './ports.ts';

const lease: Lease = { tenantId: 'ten_1', owner: 'unit#1', epoch: 4, expiresAtMs: 1_000 };

function deps(state: Partial<RunDeps['state']>): Pick<RunDeps, 'state' | 'logger' | 'options'> {
  return {
    state: {
      acquireLease: async () => lease,
      renewLease: async (l, ttlMs) => ({ ...l, expiresAtMs: l.expiresAtMs + ttlMs }),
      releaseLease: async () => true,
      readTenant: async () => {
        throw new Error('not used');
      },
      advanceCursor: async () => 'advanced',
      ...state,
    },
    logger: pino({ level: 'silent' }),
    options: DEFAULT_RUN_OPTIONS,
  };
}

describe('LeaseHolder', () => {
  it('extends the lease it holds on renewal', async () => {
    const holder = new LeaseHolder(lease, deps({}), undefined);

    await holder.renew();
    await holder.release();

    expect(holder.lease.expiresAtMs).toBe(1_000 + DEFAULT_RUN_OPTIONS.leaseTtlMs);
    expect(holder.signal.aborted).toBe(false);
  });

  it('stops the work with LEASE_LOST when the store says the lease is no longer ours', async () => {
    const holder = new LeaseHolder(
      lease,
      deps({
        renewLease: async () => {
          throw new StateError('LEASE_LOST', 'taken over', false);
        },
      }),
      undefined,
    );

    await holder.renew();
    await holder.release();

    expect(holder.signal.aborted).toBe(true);
    expect(holder.stopReason?.code).toBe('LEASE_LOST');
  });

  it('goes on when a renewal fails for another reason (the next renewal may succeed)', async () => {
    const holder = new LeaseHolder(
      lease,
      deps({
        renewLease: async () => {
          throw new StateError('UNAVAILABLE', 'throttled', true);
        },
      }),
      undefined,
    );

    await holder.renew();
    await holder.release();

    expect(holder.signal.aborted).toBe(false);
    expect(holder.stopReason).toBeNull();
  });

  it('stops with SHUTDOWN when the process stops, keeping the first reason', async () => {
    const shutdown = new AbortController();
    const holder = new LeaseHolder(lease, deps({}), shutdown.signal);

    shutdown.abort();
    holder.stopWith({ code: 'LEASE_EXPIRED', message: 'ran out' });
    await holder.release();

    expect(holder.signal.aborted).toBe(true);
    expect(holder.stopReason?.code).toBe('SHUTDOWN');
  });

  it('a failed release does not fail the work: the lease runs out on its own', async () => {
    const holder = new LeaseHolder(
      lease,
      deps({
        releaseLease: async () => {
          throw new StateError('UNAVAILABLE', 'down', true);
        },
      }),
      undefined,
    );

    await expect(holder.release()).resolves.toBeUndefined();
  });
});

describe('a run that never finishes (a call that never returns)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('renews the lease up to its limit only, then stops the run with RUN_OVERRAN and lets the lease expire', async () => {
    vi.useFakeTimers();
    let renewals = 0;
    const d = deps({
      renewLease: async (l, ttlMs) => {
        renewals++;
        return { ...l, expiresAtMs: l.expiresAtMs + ttlMs };
      },
    });
    // Every 20 s / 3 the holder renews; the work below never settles.
    const stuck = underLease(
      'ten_1',
      'unit#4',
      d,
      undefined,
      () => new Promise<never>(() => undefined),
      60_000,
    );
    void stuck.catch(() => undefined);

    await vi.advanceTimersByTimeAsync(60_000);
    const renewedWithinLimit = renewals;
    await vi.advanceTimersByTimeAsync(10 * 60_000);

    expect(renewedWithinLimit).toBe(9);
    expect(renewals).toBe(9);
  });

  it('says why the run stopped', async () => {
    vi.useFakeTimers();
    const holder = new LeaseHolder(lease, deps({}), undefined, 10_000);

    await vi.advanceTimersByTimeAsync(7_000);
    const afterOneRenewal = holder.signal.aborted;
    await vi.advanceTimersByTimeAsync(7_000);
    await holder.release();

    expect(afterOneRenewal).toBe(false);
    expect(holder.signal.aborted).toBe(true);
    expect(holder.stopReason?.code).toBe('RUN_OVERRAN');
  });
});

describe('the last write releasing the lease (ADR 0140)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A holder whose renewals and releases are counted, renewing every 20 s / 3 (fake timers). */
  function counted() {
    vi.useFakeTimers();
    const calls = { renewals: 0, releases: 0 };
    const holder = new LeaseHolder(
      lease,
      deps({
        renewLease: async (l, ttlMs) => {
          calls.renewals++;
          return { ...l, expiresAtMs: l.expiresAtMs + ttlMs };
        },
        releaseLease: async () => {
          calls.releases++;
          return true;
        },
      }),
      undefined,
    );
    return { holder, calls };
  }

  it('sends no renewal while the last write is on its way (one landing after it would hold the lease again)', async () => {
    const { holder, calls } = counted();
    await vi.advanceTimersByTimeAsync(7_000);
    await holder.pauseRenewals();
    await vi.advanceTimersByTimeAsync(60_000);
    const whilePaused = calls.renewals;
    holder.releasedByWrite();
    await vi.advanceTimersByTimeAsync(60_000);
    await holder.release();

    expect(whilePaused).toBe(1);
    expect(calls).toEqual({ renewals: 1, releases: 0 });
  });

  it('waits for a renewal in flight before the last write goes', async () => {
    vi.useFakeTimers();
    let settle: () => void = () => undefined;
    const order: string[] = [];
    const holder = new LeaseHolder(
      lease,
      deps({
        renewLease: (l) =>
          new Promise((resolve) => {
            settle = () => {
              order.push('renewed');
              resolve({ ...l, expiresAtMs: l.expiresAtMs + 1 });
            };
          }),
      }),
      undefined,
    );
    await vi.advanceTimersByTimeAsync(7_000);
    const paused = holder.pauseRenewals().then(() => order.push('paused'));
    await vi.advanceTimersByTimeAsync(0);
    settle();
    await paused;
    holder.releasedByWrite();
    await holder.release();

    expect(order).toEqual(['renewed', 'paused']);
  });

  it('takes a renewal refused after the release as expected: no warning, the work not stopped', async () => {
    vi.useFakeTimers();
    let settle: () => void = () => undefined;
    const holder = new LeaseHolder(
      lease,
      deps({
        // A renewal on its way while the lease is released; the store refuses it once it lands.
        renewLease: () =>
          new Promise((_resolve, reject) => {
            settle = () => reject(new StateError('LEASE_LOST', 'released', false));
          }),
      }),
      undefined,
    );
    await vi.advanceTimersByTimeAsync(7_000);
    holder.releasedByWrite();
    settle();
    await holder.release();

    expect(holder.signal.aborted).toBe(false);
    expect(holder.stopReason).toBeNull();
  });

  it('renews again, and releases by call, when the last write did not release it', async () => {
    const { holder, calls } = counted();
    await holder.pauseRenewals();
    await vi.advanceTimersByTimeAsync(20_000);
    holder.resumeRenewals();
    await vi.advanceTimersByTimeAsync(7_000);
    await holder.release();

    expect(calls).toEqual({ renewals: 1, releases: 1 });
  });
});

describe('underLease', () => {
  it('is busy without running the work when the lease is held elsewhere', async () => {
    let ran = false;

    const result = await underLease(
      'ten_1',
      'unit#2',
      deps({ acquireLease: async () => null }),
      undefined,
      async () => {
        ran = true;
        return 'done';
      },
    );

    expect(result).toEqual({ kind: 'busy' });
    expect(ran).toBe(false);
  });

  it('releases the lease even when the work throws', async () => {
    const released: Lease[] = [];
    const d = deps({
      releaseLease: async (l) => {
        released.push(l);
        return true;
      },
    });

    const work = underLease('ten_1', 'unit#3', d, undefined, async () => {
      throw new Error('boom');
    });

    await expect(work).rejects.toThrow('boom');
    expect(released).toEqual([lease]);
  });
});
