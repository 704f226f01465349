import { type RouteHandler, z } from '@hono/zod-openapi';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { pageQuerySchema, pageResponse } from '../../lib/pagination.ts';
import { defineRoute, tenantIdParam, withExample } from '../../openapi.ts';
import { listRuns } from '../../services/status.ts';
import { RUN_EXAMPLE, runSchema, toRun } from './shared.ts';

/** GET /v1/tenants/{tenantId}/runs: its schemas, access and documented answers. */
export const route = defineRoute('tenant', {
  method: 'get',
  path: '/tenants/{tenantId}/runs',
  operationId: 'listRuns',
  tags: ['status'],
  summary: 'Recent runs, newest first',
  request: { params: z.object({ tenantId: tenantIdParam }), query: pageQuerySchema },
  responses: {
    200: withExample(pageResponse('A page of runs.', runSchema), { items: [RUN_EXAMPLE], nextCursor: null }),
  },
});

/** The handler of GET /v1/tenants/{tenantId}/runs, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const page = await listRuns(deps.db, c.get('tenant').id, c.req.valid('query'));
    return c.json({ items: page.items.map(toRun), nextCursor: page.nextCursor }, 200);
  };
}
