import type { RouteHandler } from '@hono/zod-openapi';
import { tenants } from '@vsh/db';
import { desc } from 'drizzle-orm';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { healthOf } from '../../lib/health.ts';
import { olderThan, pageOf, pageQuerySchema, pageResponse } from '../../lib/pagination.ts';
import { defineRoute, withExample } from '../../openapi.ts';
import { TENANT_WITH_HEALTH_EXAMPLE, tenantWithHealthSchema, toTenant } from './shared.ts';

/** GET /v1/tenants: its schemas, access and documented answers. */
export const route = defineRoute('operator', {
  method: 'get',
  path: '/tenants',
  operationId: 'listTenants',
  tags: ['tenants'],
  summary: 'List tenants with a health summary, newest first',
  request: { query: pageQuerySchema },
  responses: {
    200: withExample(pageResponse('A page of tenants.', tenantWithHealthSchema), {
      items: [TENANT_WITH_HEALTH_EXAMPLE],
      nextCursor: null,
    }),
  },
});

/** The handler of GET /v1/tenants, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const { limit, cursor } = c.req.valid('query');
    const rows = await deps.db
      .select()
      .from(tenants)
      .where(olderThan(tenants.id, cursor))
      .orderBy(desc(tenants.id))
      .limit(limit + 1);
    const page = pageOf(rows, limit);
    const health = await healthOf(deps.db, page.items, deps.clock());
    const items = page.items.flatMap((tenant) => {
      const summary = health.get(tenant.id);
      return summary === undefined ? [] : [{ ...toTenant(tenant), health: summary }];
    });
    return c.json({ items, nextCursor: page.nextCursor }, 200);
  };
}
