import { errorMessage } from '@vsh/core';
import type { Logger } from 'pino';
import type { BackfillJob, BackfillResult } from './backfill.ts';
import type { RunHint } from './ports.ts';
import type { RunResult } from './run-tenant.ts';
import { RunSlots } from './slots.ts';
import type { TenantScheduler } from './tenant-store.ts';

export interface InProcessSchedulerOptions {
  readonly scheduler: TenantScheduler;
  readonly run: (tenantId: string, signal: AbortSignal, hint?: RunHint) => Promise<RunResult>;
  /** Tenant runs at once in this process, not counting slow ones (see `RunSlots`). */
  readonly concurrency: number;
  readonly slowAfterMs?: number | undefined;
  readonly maxInFlight?: number | undefined;
  /** How often to look for due tenants when idle. */
  readonly tickMs: number;
  /** How long a claimed tenant is held before it is due again if its run never reschedules it. */
  readonly holdMs: number;
  readonly clock: () => number;
  readonly logger: Logger;
  /** Queued backfills share the concurrency with tenant runs (ADR 0095). */
  readonly backfills?: InProcessBackfills | undefined;
}

export interface InProcessBackfills {
  readonly claim: (limit: number) => Promise<BackfillJob[]>;
  readonly run: (job: BackfillJob, signal: AbortSignal) => Promise<BackfillResult>;
  /** A job whose tenant was busy goes back to the queue for a later tick. */
  readonly requeue: (job: BackfillJob) => Promise<void>;
}

export interface InProcessScheduler {
  /** Looks for due tenants now (after "run now"). */
  wake(): void;
  /** Stops claiming, lets the runs in flight finish their batch, and resolves when all are done. */
  stop(): Promise<void>;
  readonly running: number;
}

/**
 * The embedded default: one process claims due tenants from the database and runs them with bounded
 * concurrency. The DynamoDB lease inside each run still guards against a tenant running twice.
 */
export function startInProcessScheduler(options: InProcessSchedulerOptions): InProcessScheduler {
  const controller = new AbortController();
  const slots = new RunSlots(options);
  let timer: NodeJS.Timeout | undefined;
  let ticking = false;
  let again = false;
  let claiming: Promise<unknown> = Promise.resolve();

  const tick = async (): Promise<void> => {
    if (controller.signal.aborted) return;
    if (ticking) {
      again = true;
      return;
    }
    ticking = true;
    try {
      const free = slots.free();
      if (free <= 0) return;
      const claim = options.scheduler.claimDueTenants(new Date(options.clock()), free, options.holdMs);
      claiming = claim.catch(() => undefined);
      const due = await claim;
      // Claimed while stopping: no run may start after stop() resolves (it would use closed clients);
      // the claim holds these tenants for `holdMs`, then they are due again for any worker.
      if (controller.signal.aborted) return;
      // `start` resolves to false when finishing should not look for work at once (a busy tenant's backfill).
      const jobs: Array<{ tenantId: string; start: () => Promise<boolean> }> = due.map(
        ({ tenantId, lastRunQuiet }) => ({
          tenantId,
          start: () =>
            options
              .run(tenantId, controller.signal, lastRunQuiet ? { lastRunQuiet } : undefined)
              .then((result) => {
                if (result.kind !== 'ran')
                  options.logger.debug({ tenantId, result: result.kind }, 'tenant not run');
                return true;
              }),
        }),
      );
      const backfills = options.backfills;
      if (backfills !== undefined && free - due.length > 0) {
        const claimed = backfills.claim(free - due.length);
        claiming = claimed.catch(() => undefined);
        const found = await claimed.catch((err: unknown) => {
          options.logger.warn({ err: errorMessage(err) }, 'could not claim backfills');
          return [];
        });
        for (const backfill of found) {
          jobs.push({
            tenantId: backfill.tenantId,
            start: async () => {
              const result = controller.signal.aborted
                ? ({ kind: 'busy' } as const)
                : await backfills.run(backfill, controller.signal);
              if (result.kind !== 'busy') return true;
              await backfills.requeue(backfill);
              return false;
            },
          });
        }
      }
      for (const { tenantId, start } of jobs) {
        const job = start()
          .catch((err: unknown) => {
            options.logger.error({ tenantId, err: errorMessage(err) }, 'tenant run failed');
            return true;
          })
          .then((again) => {
            if (again && !controller.signal.aborted) void tick();
          });
        slots.add(job);
      }
    } catch (err) {
      options.logger.warn({ err: errorMessage(err) }, 'could not claim due tenants');
    } finally {
      ticking = false;
      if (again) {
        again = false;
        void tick();
      }
    }
  };

  timer = setInterval(() => void tick(), options.tickMs);
  void tick();

  return {
    wake: () => void tick(),
    get running() {
      return slots.size;
    },
    async stop() {
      clearInterval(timer);
      timer = undefined;
      controller.abort(new Error('shutting down'));
      await claiming;
      await slots.drain();
    },
  };
}
