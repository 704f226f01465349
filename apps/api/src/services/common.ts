import type { Tenant } from '@vsh/db';
import type { ApiDeps } from '../deps.ts';
import type { Actor } from '../lib/audit.ts';
import { ServiceError } from './errors.ts';

/** Throws `tenant_offboarded` unless the tenant is active: an offboarded tenant accepts no changes. */
export function requireActive(tenant: Tenant): void {
  if (tenant.state !== 'active') {
    throw new ServiceError('tenant_offboarded', 'the tenant is offboarded and accepts no changes');
  }
}

/**
 * Wakes the in-process worker (the `onRunNow` hook) so it looks for work now rather than at its next
 * tick. The change is already committed, so a failing hook is logged and never fails the request.
 */
export async function wakeWorker(
  deps: Pick<ApiDeps, 'onRunNow' | 'logger'>,
  actor: Actor,
  tenantId: string,
): Promise<void> {
  if (deps.onRunNow === undefined) return;
  try {
    await deps.onRunNow(tenantId);
  } catch (err) {
    deps.logger.warn({ requestId: actor.requestId, tenantId, err }, 'onRunNow hook failed');
  }
}

/** A Date (or null) as an ISO string (or null): how every read model shows a time. */
export function iso(date: Date): string;
export function iso(date: Date | null): string | null;
export function iso(date: Date | null): string | null {
  return date === null ? null : date.toISOString();
}
