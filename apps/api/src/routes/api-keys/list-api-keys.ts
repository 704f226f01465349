import { type RouteHandler, z } from '@hono/zod-openapi';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { defineRoute, jsonResponse, tenantIdParam } from '../../openapi.ts';
import { listApiKeys } from '../../services/api-keys.ts';
import { API_KEY_EXAMPLE, apiKeySchema, toApiKey } from '../tenants/shared.ts';

/** GET /v1/tenants/{tenantId}/api-keys: its schemas, access and documented answers. */
export const route = defineRoute('tenant', {
  method: 'get',
  path: '/tenants/{tenantId}/api-keys',
  operationId: 'listApiKeys',
  tags: ['api keys'],
  summary: "List a tenant's API keys (prefixes only), revoked ones included",
  request: { params: z.object({ tenantId: tenantIdParam }) },
  responses: {
    200: jsonResponse(
      'The keys, newest first; never the keys themselves.',
      z.object({ items: z.array(apiKeySchema) }),
      { items: [API_KEY_EXAMPLE] },
    ),
  },
});

/** The handler of GET /v1/tenants/{tenantId}/api-keys, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const rows = await listApiKeys(deps.db, c.get('tenant').id);
    return c.json({ items: rows.map(toApiKey) }, 200);
  };
}
