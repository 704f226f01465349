import { type RouteHandler, z } from '@hono/zod-openapi';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { actorOf, defineRoute, jsonBody, jsonResponse, tenantIdParam } from '../../openapi.ts';
import { apiKeyName, createApiKey } from '../../services/api-keys.ts';
import { CREATED_API_KEY_EXAMPLE, createdApiKeySchema, toCreatedApiKey } from '../tenants/shared.ts';

/** POST /v1/tenants/{tenantId}/api-keys: its schemas, access and documented answers. */
export const route = defineRoute(
  'tenant',
  {
    method: 'post',
    path: '/tenants/{tenantId}/api-keys',
    operationId: 'createApiKey',
    tags: ['api keys'],
    summary: 'Create a tenant API key (the whole key is shown once)',
    request: {
      params: z.object({ tenantId: tenantIdParam }),
      body: jsonBody(z.strictObject({ name: apiKeyName }).openapi({ example: { name: 'ci pipeline' } })),
    },
    responses: {
      201: jsonResponse('The key, with the whole key (never shown again).', createdApiKeySchema, {
        ...CREATED_API_KEY_EXAMPLE,
        name: 'ci pipeline',
      }),
    },
  },
  [409],
);

/** The handler of POST /v1/tenants/{tenantId}/api-keys, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const created = await createApiKey(deps, actorOf(c), c.get('tenant'), c.req.valid('json').name);
    return c.json(toCreatedApiKey(created), 201);
  };
}
