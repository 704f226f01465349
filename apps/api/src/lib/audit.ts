import { auditLog, type Database, type Transaction } from '@vsh/db';
import type { Principal } from '../deps.ts';

export interface AuditEntry {
  tenantId: string | null;
  action: string;
  target: string | null;
  /** What changed: field names and ids, never values of secrets. */
  details?: Record<string, unknown>;
}

/** Who is acting and in which request: what a change made by a shared service function audits. */
export interface Actor {
  principal: Principal;
  requestId: string;
}

/** The audit actor of a principal: `operator`, or `key:<api key id>` for a tenant key. */
function auditActor(principal: Principal): string {
  return principal.kind === 'operator' ? 'operator' : `key:${principal.id}`;
}

/** Appends one audit entry, in the caller's transaction so the change and its record commit together. */
export async function audit(db: Database | Transaction, actor: Actor, entry: AuditEntry): Promise<void> {
  await db.insert(auditLog).values({
    tenantId: entry.tenantId,
    actor: auditActor(actor.principal),
    action: entry.action,
    target: entry.target,
    details: entry.details ?? {},
    requestId: actor.requestId,
  });
}
