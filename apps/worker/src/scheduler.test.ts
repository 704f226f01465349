import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import type { BackfillJob, BackfillResult } from './backfill.ts';
import type { RunResult } from './run-tenant.ts';
import { startInProcessScheduler } from './scheduler.ts';
import type { DueTenant, TenantScheduler } from './tenant-store.ts';

describe('in-process scheduler', () => {
  it('starts no run for tenants whose claim was still in flight when stop() was called', async () => {
    let answerClaim: (ids: DueTenant[]) => void = () => undefined;
    const scheduler: TenantScheduler = {
      claimDueTenants: () =>
        new Promise<DueTenant[]>((resolve) => {
          answerClaim = resolve;
        }),
    };
    const started: string[] = [];
    const running = startInProcessScheduler({
      scheduler,
      run: async (tenantId): Promise<RunResult> => {
        started.push(tenantId);
        return { kind: 'busy' };
      },
      concurrency: 4,
      tickMs: 60_000,
      holdMs: 60_000,
      clock: Date.now,
      logger: pino({ level: 'silent' }),
    });

    const stopped = running.stop();
    answerClaim([{ tenantId: 'ten_late', lastRunQuiet: false }]);
    await stopped;
    // A run would start synchronously after the claim resolves: one turn of the event loop shows it.
    await new Promise((resolve) => setImmediate(resolve));

    expect(started).toEqual([]);
  });

  it('runs claimed backfills with the slots tenant runs leave, and puts a busy tenant’s backfill back in the queue', async () => {
    const job = (id: string): BackfillJob => ({
      id,
      tenantId: `ten_${id}`,
      destinationId: null,
      fromMs: 0,
      toMs: 1,
      claim: 'c',
    });
    const claimedWith: number[] = [];
    const requeued: string[] = [];
    const ran: string[] = [];
    let handedOut = false;
    let dueHandedOut = false;
    const progress = {
      progressPercent: 100,
      pages: 1,
      actionsRead: 0,
      actionsInRange: 0,
      findingsImported: 0,
      recordsRejected: 0,
      actionsSkipped: 0,
    };
    const running = startInProcessScheduler({
      scheduler: {
        claimDueTenants: async () => {
          if (dueHandedOut) return [];
          dueHandedOut = true;
          return [{ tenantId: 'ten_due', lastRunQuiet: false }];
        },
      },
      run: async (): Promise<RunResult> => ({ kind: 'busy' }),
      concurrency: 3,
      tickMs: 60_000,
      holdMs: 60_000,
      clock: Date.now,
      logger: pino({ level: 'silent' }),
      backfills: {
        claim: async (limit) => {
          claimedWith.push(limit);
          if (handedOut) return [];
          handedOut = true;
          return [job('ok'), job('busy')];
        },
        run: async (claimed): Promise<BackfillResult> => {
          ran.push(claimed.id);
          return claimed.id === 'busy' ? { kind: 'busy' } : { kind: 'done', progress };
        },
        requeue: async (claimed) => {
          requeued.push(claimed.id);
        },
      },
    });

    await vi.waitFor(() => expect(requeued).toEqual(['busy']));
    await running.stop();

    expect(claimedWith[0]).toBe(2);
    expect(ran.sort()).toEqual(['busy', 'ok']);
    expect(requeued).toEqual(['busy']);
  });

  it('serves a due tenant while slow tenants hold every slot, up to the hard bound on runs at once', async () => {
    let now = 0;
    const due = ['slow-1', 'slow-2', 'slow-3', 'slow-4', 'healthy', 'next-1', 'next-2'];
    const started: string[] = [];
    const release: Array<() => void> = [];
    const running = startInProcessScheduler({
      scheduler: {
        claimDueTenants: async (_at, limit) =>
          due.splice(0, limit).map((tenantId) => ({ tenantId, lastRunQuiet: false })),
      },
      run: (tenantId) => {
        started.push(tenantId);
        return new Promise<RunResult>((resolve) => release.push(() => resolve({ kind: 'busy' })));
      },
      concurrency: 4,
      slowAfterMs: 5000,
      maxInFlight: 6,
      tickMs: 60_000,
      holdMs: 60_000,
      clock: () => now,
      logger: pino({ level: 'silent' }),
    });
    const settle = async () => {
      running.wake();
      await vi.waitFor(() => expect(running.running).toBe(started.length));
      await new Promise((resolve) => setImmediate(resolve));
    };

    await settle();
    const whileFresh = [...started];
    now = 4999;
    await settle();
    const justBefore = [...started];
    now = 5000;
    await settle();
    const onceSlow = [...started];
    now = 60_000;
    await settle();

    expect(whileFresh).toEqual(['slow-1', 'slow-2', 'slow-3', 'slow-4']);
    expect(justBefore).toEqual(whileFresh);
    expect(onceSlow).toEqual([...whileFresh, 'healthy', 'next-1']);
    expect(started).toHaveLength(6);
    for (const r of release) r();
    await running.stop();
  });
});
