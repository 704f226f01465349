import { type RouteHandler, z } from '@hono/zod-openapi';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { defineRoute, jsonResponse, tenantIdParam } from '../../openapi.ts';
import { getBackfill } from '../../services/backfills.ts';
import { BACKFILL_EXAMPLE, backfillIdParam, backfillSchema, toBackfill } from './shared.ts';

/** GET /v1/tenants/{tenantId}/backfills/{backfillId}: its schemas, access and documented answers. */
export const route = defineRoute('operator', {
  method: 'get',
  path: '/tenants/{tenantId}/backfills/{backfillId}',
  operationId: 'getBackfill',
  tags: ['backfills'],
  summary: "A backfill's state and progress",
  request: { params: z.object({ tenantId: tenantIdParam, backfillId: backfillIdParam }) },
  responses: {
    200: jsonResponse('The backfill.', backfillSchema, {
      ...BACKFILL_EXAMPLE,
      state: 'done',
      progressPercent: 100,
      pages: 3,
      actionsRead: 250,
      actionsInRange: 240,
      findingsImported: 230,
      recordsRejected: 0,
      actionsSkipped: 10,
      startedAt: '2026-01-02T09:00:01.000Z',
      finishedAt: '2026-01-02T09:00:40.000Z',
    }),
  },
});

/** The handler of GET /v1/tenants/{tenantId}/backfills/{backfillId}, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const row = await getBackfill(deps.db, c.get('tenant').id, c.req.valid('param').backfillId);
    return c.json(toBackfill(row), 200);
  };
}
