import { type RouteHandler, z } from '@hono/zod-openapi';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { ApiError } from '../../errors.ts';
import { audit } from '../../lib/audit.ts';
import { requireActive } from '../../middleware/authorize.ts';
import { defineRoute, tenantIdParam } from '../../openapi.ts';
import { apiKeyName, createdApiKeySchema, insertApiKey } from '../tenants/shared.ts';

// Enough for rotation with overlap and a few integrations; a leaked-key flood cannot grow without bound.
const MAX_ACTIVE_KEYS = 20;

/** POST /v1/tenants/{tenantId}/api-keys: its schemas, access and documented answers. */
export const route = defineRoute(
  'tenant',
  {
    method: 'post',
    path: '/tenants/{tenantId}/api-keys',
    tags: ['api keys'],
    summary: 'Create a tenant API key (the whole key is shown once)',
    request: {
      params: z.object({ tenantId: tenantIdParam }),
      body: {
        required: true,
        content: {
          'application/json': {
            schema: z.strictObject({ name: apiKeyName }).openapi({ example: { name: 'ci pipeline' } }),
          },
        },
      },
    },
    responses: {
      201: {
        description: 'The key, with the whole key (never shown again).',
        content: { 'application/json': { schema: createdApiKeySchema } },
      },
    },
  },
  [409],
);

/** The handler of POST /v1/tenants/{tenantId}/api-keys, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const tenant = c.get('tenant');
    requireActive(tenant);
    const { name } = c.req.valid('json');
    const created = await deps.db.transaction(async (tx) => {
      const active = await tx.query.apiKeys.findMany({
        columns: { id: true },
        where: (keys, { and, eq, isNull }) => and(eq(keys.tenantId, tenant.id), isNull(keys.revokedAt)),
      });
      if (active.length >= MAX_ACTIVE_KEYS) return undefined;
      const apiKey = await insertApiKey(tx, tenant.id, name);
      await audit(tx, c.get('principal'), c.get('requestId'), {
        tenantId: tenant.id,
        action: 'api_key.created',
        target: apiKey.id,
        details: { prefix: apiKey.prefix },
      });
      return apiKey;
    });
    if (created === undefined) {
      throw new ApiError(
        'CONFLICT',
        `a tenant has at most ${MAX_ACTIVE_KEYS} active API keys; revoke one first`,
      );
    }
    return c.json(created, 201);
  };
}
