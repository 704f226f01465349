import { type Backfill, backfills, type Database, type Tenant } from '@vsh/db';
import { and, eq } from 'drizzle-orm';
import type { ApiDeps } from '../deps.ts';
import { type Actor, audit } from '../lib/audit.ts';
import { requireActive, wakeWorker } from './common.ts';
import { findDestination } from './destinations.ts';
import { ServiceError } from './errors.ts';
import { vaikoraConfigured } from './vaikora-settings.ts';

/** The longest range one backfill may cover (ADR 0095): bounded work per job, and within Vaikora's retention. */
export const MAX_BACKFILL_DAYS = 30;

/** What a backfill re-sends: the actions of [from, to), to one destination or all of them. */
export interface BackfillInput {
  /** RFC 3339, as given (the audit entry keeps it as given). */
  from: string;
  to: string;
  destinationId?: string | undefined;
}

/**
 * Queues a backfill of a time range (at most MAX_BACKFILL_DAYS, not in the future) and wakes the worker;
 * a worker runs it under the tenant's lease, and stream cursors do not move.
 */
export async function createBackfill(
  deps: Pick<ApiDeps, 'db' | 'clock' | 'onRunNow' | 'logger'>,
  actor: Actor,
  tenant: Tenant,
  input: BackfillInput,
): Promise<Backfill> {
  requireActive(tenant);
  const from = new Date(input.from);
  const to = new Date(input.to);
  const now = deps.clock();
  if (from.getTime() >= to.getTime())
    throw new ServiceError('invalid_input', 'body.from: must be before body.to');
  if (to.getTime() - from.getTime() > MAX_BACKFILL_DAYS * 86_400_000)
    throw new ServiceError('invalid_input', `body.to: the range must be at most ${MAX_BACKFILL_DAYS} days`);
  if (to.getTime() > now.getTime())
    throw new ServiceError('invalid_input', 'body.to: must not be in the future');
  const destinationId = input.destinationId ?? null;
  const row = await deps.db.transaction(async (tx) => {
    if (!(await vaikoraConfigured(tx, tenant.id)))
      throw new ServiceError('not_configured', 'set the Vaikora connection before asking for a backfill');
    if (destinationId !== null) await findDestination(tx, tenant.id, destinationId);
    const [inserted] = await tx
      .insert(backfills)
      .values({ tenantId: tenant.id, destinationId, fromAt: from, toAt: to })
      .returning();
    if (inserted === undefined) throw new Error('insert into backfills returned no row');
    await audit(tx, actor, {
      tenantId: tenant.id,
      action: 'backfill.requested',
      target: inserted.id,
      details: { from: input.from, to: input.to, destinationId },
    });
    return inserted;
  });
  await wakeWorker(deps, actor, tenant.id);
  return row;
}

/** A backfill of the tenant, or `not_found`. */
export async function getBackfill(db: Database, tenantId: string, backfillId: string): Promise<Backfill> {
  const [row] = await db
    .select()
    .from(backfills)
    .where(and(eq(backfills.id, backfillId), eq(backfills.tenantId, tenantId)))
    .limit(1);
  if (row === undefined) throw new ServiceError('not_found', 'backfill not found');
  return row;
}
