import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
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
});
