import { type RouteHandler, z } from '@hono/zod-openapi';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import {
  actorOf,
  defineRoute,
  destinationIdParam,
  jsonBody,
  jsonResponse,
  tenantIdParam,
} from '../../openapi.ts';
import { createBackfill, MAX_BACKFILL_DAYS } from '../../services/backfills.ts';
import { BACKFILL_EXAMPLE, backfillSchema, toBackfill } from './shared.ts';

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
      body: jsonBody(
        z
          .strictObject({ from: rfc3339, to: rfc3339, destinationId: destinationIdParam.optional() })
          .openapi({ example: { from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' } }),
      ),
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
    const row = await createBackfill(deps, actorOf(c), c.get('tenant'), c.req.valid('json'));
    return c.json(toBackfill(row), 202);
  };
}
