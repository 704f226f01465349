import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { BackfillJob, BackfillResult } from './backfill.ts';
import type { RunResult } from './run-tenant.ts';
import { startInProcessScheduler } from './scheduler.ts';
import type { TenantScheduler } from './tenant-store.ts';

describe('in-process scheduler', () => {
  it('starts no run for tenants whose claim was still in flight when stop() was called', async () => {
    let answerClaim: (ids: string[]) => void = () => undefined;
    const scheduler: TenantScheduler = {
      claimDueTenants: () =>
        new Promise<string[]>((resolve) => {
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
    answerClaim(['ten_late']);
    await stopped;
    await sleep(10);

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
          return ['ten_due'];
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

    await sleep(50);
    await running.stop();

    expect(claimedWith[0]).toBe(2);
    expect(ran.sort()).toEqual(['busy', 'ok']);
    expect(requeued).toEqual(['busy']);
  });
});
