import { randomUUID } from 'node:crypto';
import { type Backfill, backfills, type Database, keepRejectedRecords, rowsOf } from '@vsh/db';
import { createServiceLogger } from '@vsh/secrets';
import { and, eq, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { BackfillJob, BackfillProgress, BackfillStore } from './backfill.ts';
import { rejectionToKeep } from './tenant-store.ts';

function jobOf(row: Pick<Backfill, 'id' | 'tenantId' | 'destinationId' | 'fromAt' | 'toAt' | 'workerId'>) {
  return {
    id: row.id,
    tenantId: row.tenantId,
    destinationId: row.destinationId,
    fromMs: row.fromAt.getTime(),
    toMs: row.toAt.getTime(),
    claim: row.workerId ?? '',
  } satisfies BackfillJob;
}

/**
 * The backfill rows on drizzle (PostgreSQL or PGlite). `logger` receives the database's cause when rejected
 * records cannot be kept; without one they go to a pino logger of its own on stdout, never nowhere.
 */
export function createDbBackfillStore(
  db: Database,
  logger: Logger = createServiceLogger({ service: 'worker', base: { component: 'backfill-store' } }),
): BackfillStore {
  const mine = (job: BackfillJob) =>
    and(eq(backfills.id, job.id), eq(backfills.workerId, job.claim), eq(backfills.state, 'running'));
  return {
    async claimBackfills(claimPrefix, limit, staleMs) {
      const claim = `${claimPrefix}#${randomUUID()}`;
      // As for due tenants: one statement, oldest first, rows another worker is claiming skipped.
      const result = await db.execute(sql`
        update ${backfills} set state = 'running', worker_id = ${claim},
          started_at = coalesce(started_at, now()), heartbeat_at = now()
        where ${backfills.id} in (
          select id from ${backfills}
          where state = 'queued'
             or (state = 'running' and heartbeat_at < now() - make_interval(secs => ${staleMs / 1000}))
          order by created_at
          limit ${limit}
          for update skip locked
        )
        returning id, tenant_id, destination_id, from_at, to_at, worker_id`);
      return rowsOf<{
        id: string;
        tenant_id: string;
        destination_id: string | null;
        from_at: string | Date;
        to_at: string | Date;
        worker_id: string;
      }>(result).map((r) =>
        jobOf({
          id: r.id,
          tenantId: r.tenant_id,
          destinationId: r.destination_id,
          fromAt: new Date(r.from_at),
          toAt: new Date(r.to_at),
          workerId: r.worker_id,
        }),
      );
    },

    async loadClaimed(backfillId) {
      const [row] = await db
        .select()
        .from(backfills)
        .where(and(eq(backfills.id, backfillId), eq(backfills.state, 'running')));
      return row === undefined ? null : jobOf(row);
    },

    async requeue(job) {
      await db.update(backfills).set({ state: 'queued', workerId: null }).where(mine(job));
    },

    async progress(job, progress: BackfillProgress) {
      await db
        .update(backfills)
        .set({ ...progress, heartbeatAt: new Date() })
        .where(mine(job));
    },

    async finish(job, progress, error) {
      const now = new Date();
      await db
        .update(backfills)
        .set({
          ...progress,
          state: error === null ? 'done' : 'failed',
          errorCode: error?.code ?? null,
          errorMessage: error?.message ?? null,
          heartbeatAt: now,
          finishedAt: now,
        })
        .where(mine(job));
    },

    async recordRejections(tenantId, backfillId, rejections) {
      return keepRejectedRecords(
        db,
        { tenantId, runId: null, rejections: rejections.map(rejectionToKeep), logFields: { backfillId } },
        logger,
      );
    },
  };
}
