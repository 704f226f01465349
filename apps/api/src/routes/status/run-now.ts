import { type RouteHandler, z } from '@hono/zod-openapi';
import { type Tenant, tenantSchedules, vaikoraSettings } from '@vsh/db';
import { eq } from 'drizzle-orm';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { ApiError } from '../../errors.ts';
import { type Actor, audit } from '../../lib/audit.ts';
import { requireActive } from '../../middleware/authorize.ts';
import { defineRoute, iso, jsonResponse, tenantIdParam, timestamp } from '../../openapi.ts';

/** POST /v1/tenants/{tenantId}/run-now: its schemas, access and documented answers. */
export const route = defineRoute(
  'tenant',
  {
    method: 'post',
    path: '/tenants/{tenantId}/run-now',
    operationId: 'requestRun',
    tags: ['status'],
    summary: 'Ask for a run as soon as a worker is free',
    request: { params: z.object({ tenantId: tenantIdParam }) },
    responses: {
      202: jsonResponse(
        'Recorded; a worker picks the tenant up next.',
        z.object({ runRequestedAt: timestamp }),
        { runRequestedAt: '2026-01-01T12:00:00.000Z' },
      ),
    },
  },
  [409],
);

/** Records "run now" for a tenant and wakes the worker hook (shared by the route and the status page). */
export async function requestRun(deps: ApiDeps, actor: Actor, tenant: Tenant): Promise<Date> {
  requireActive(tenant);
  const now = deps.clock();
  await deps.db.transaction(async (tx) => {
    const [settings] = await tx
      .select({ tenantId: vaikoraSettings.tenantId })
      .from(vaikoraSettings)
      .where(eq(vaikoraSettings.tenantId, tenant.id))
      .limit(1);
    if (settings === undefined) {
      throw new ApiError('NOT_CONFIGURED', 'set the Vaikora connection before asking for a run');
    }
    await tx
      .insert(tenantSchedules)
      .values({ tenantId: tenant.id, nextRunAt: now, runRequestedAt: now })
      .onConflictDoUpdate({
        target: tenantSchedules.tenantId,
        set: { nextRunAt: now, runRequestedAt: now },
      });
    await audit(tx, actor.principal, actor.requestId, {
      tenantId: tenant.id,
      action: 'tenant.run_requested',
      target: tenant.id,
    });
  });
  if (deps.onRunNow !== undefined) {
    try {
      await deps.onRunNow(tenant.id);
    } catch (err) {
      deps.logger.warn({ requestId: actor.requestId, tenantId: tenant.id, err }, 'onRunNow hook failed');
    }
  }
  return now;
}

/** The handler of POST /v1/tenants/{tenantId}/run-now, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const now = await requestRun(
      deps,
      { principal: c.get('principal'), requestId: c.get('requestId') },
      c.get('tenant'),
    );
    return c.json({ runRequestedAt: iso(now) }, 202);
  };
}
