import { type RouteHandler, z } from '@hono/zod-openapi';
import { backfills, vaikoraSettings } from '@vsh/db';
import { eq } from 'drizzle-orm';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { ApiError } from '../../errors.ts';
import { audit } from '../../lib/audit.ts';
import { requireActive } from '../../middleware/authorize.ts';
import { defineRoute, destinationIdParam, jsonResponse, tenantIdParam } from '../../openapi.ts';
import { findDestination } from '../destinations/find.ts';
import { BACKFILL_EXAMPLE, backfillSchema, MAX_BACKFILL_DAYS, toBackfill } from './shared.ts';

const rfc3339 = z.iso.datetime({
  offset: true,
  message: 'must be an RFC 3339 date-time, e.g. 2026-01-01T00:00:00Z',
});

/** POST /v1/tenants/{tenantId}/backfills: its schemas, access and documented answers. */
export const route = defineRoute(
  'operator',
  {
    method: 'post',
    path: '/tenants/{tenantId}/backfills',
    operationId: 'createBackfill',
    tags: ['backfills'],
    summary: 'Re-send the actions of a time range to Security Hub (idempotent: stable finding ids)',
    description: `The range is [from, to), at most ${MAX_BACKFILL_DAYS} days, not in the future. A worker runs the job under the tenant's lease; stream cursors do not move.`,
    request: {
      params: z.object({ tenantId: tenantIdParam }),
      body: {
        required: true,
        content: {
          'application/json': {
            schema: z
              .strictObject({
                from: rfc3339,
                to: rfc3339,
                destinationId: destinationIdParam.optional(),
              })
              .openapi({ example: { from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' } }),
          },
        },
      },
    },
    responses: {
      202: jsonResponse('Queued; poll it for progress.', backfillSchema, BACKFILL_EXAMPLE),
    },
  },
  [409],
);

/** The handler of POST /v1/tenants/{tenantId}/backfills, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const tenant = c.get('tenant');
    requireActive(tenant);
    const body = c.req.valid('json');
    const from = new Date(body.from);
    const to = new Date(body.to);
    const now = deps.clock();
    if (from.getTime() >= to.getTime())
      throw new ApiError('VALIDATION_FAILED', 'body.from: must be before body.to');
    if (to.getTime() - from.getTime() > MAX_BACKFILL_DAYS * 86_400_000)
      throw new ApiError('VALIDATION_FAILED', `body.to: the range must be at most ${MAX_BACKFILL_DAYS} days`);
    if (to.getTime() > now.getTime())
      throw new ApiError('VALIDATION_FAILED', 'body.to: must not be in the future');
    const row = await deps.db.transaction(async (tx) => {
      const [settings] = await tx
        .select({ tenantId: vaikoraSettings.tenantId })
        .from(vaikoraSettings)
        .where(eq(vaikoraSettings.tenantId, tenant.id))
        .limit(1);
      if (settings === undefined)
        throw new ApiError('NOT_CONFIGURED', 'set the Vaikora connection before asking for a backfill');
      if (body.destinationId !== undefined) await findDestination(tx, tenant.id, body.destinationId);
      const [inserted] = await tx
        .insert(backfills)
        .values({ tenantId: tenant.id, destinationId: body.destinationId ?? null, fromAt: from, toAt: to })
        .returning();
      if (inserted === undefined) throw new Error('insert into backfills returned no row');
      await audit(tx, c.get('principal'), c.get('requestId'), {
        tenantId: tenant.id,
        action: 'backfill.requested',
        target: inserted.id,
        details: { from: body.from, to: body.to, destinationId: body.destinationId ?? null },
      });
      return inserted;
    });
    // The in-process worker looks for work now rather than at its next tick.
    if (deps.onRunNow !== undefined) {
      try {
        await deps.onRunNow(tenant.id);
      } catch (err) {
        deps.logger.warn({ requestId: c.get('requestId'), tenantId: tenant.id, err }, 'onRunNow hook failed');
      }
    }
    return c.json(toBackfill(row), 202);
  };
}
