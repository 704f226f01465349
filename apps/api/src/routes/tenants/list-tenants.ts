import type { RouteHandler } from '@hono/zod-openapi';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { pageQuerySchema, pageResponse } from '../../lib/pagination.ts';
import { defineRoute, withExample } from '../../openapi.ts';
import { listTenants } from '../../services/tenants.ts';
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
    const query = c.req.valid('query');
    const load = () => listTenants(deps, query);
    // Up to a second old, as the overview's pages (ADR 0113); a write to any tenant here forgets it.
    const key = `v1-tenants:${query.limit}:${query.cursor ?? ''}`;
    const page = (await deps.tenantReadCache?.read(key, 'listing', load)) ?? (await load());
    const items = page.items.map(({ tenant, health }) => ({ ...toTenant(tenant), health }));
    return c.json({ items, nextCursor: page.nextCursor }, 200);
  };
}
