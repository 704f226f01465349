import { type RouteHandler, z } from '@hono/zod-openapi';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { actorOf, defineRoute, iso, jsonResponse, tenantIdParam, timestamp } from '../../openapi.ts';
import { requestRun } from '../../services/status.ts';

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

/** The handler of POST /v1/tenants/{tenantId}/run-now, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const now = await requestRun(deps, actorOf(c), c.get('tenant'));
    return c.json({ runRequestedAt: iso(now) }, 202);
  };
}
