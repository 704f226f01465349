import { type RouteHandler, z } from '@hono/zod-openapi';
import { apiKeys, tenants } from '@vsh/db';
import { and, count, eq, isNull } from 'drizzle-orm';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { ApiError } from '../../errors.ts';
import { audit } from '../../lib/audit.ts';
import { requireActive } from '../../middleware/authorize.ts';
import { defineRoute, jsonResponse, tenantIdParam } from '../../openapi.ts';
import { apiKeyName, CREATED_API_KEY_EXAMPLE, createdApiKeySchema, insertApiKey } from '../tenants/shared.ts';

/** Active keys a tenant may hold: enough for rotation with overlap and a few integrations, and bounded. */
export const MAX_ACTIVE_KEYS = 20;

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
      201: jsonResponse('The key, with the whole key (never shown again).', createdApiKeySchema, {
        ...CREATED_API_KEY_EXAMPLE,
        name: 'ci pipeline',
      }),
    },
  },
  [409],
);

/**
 * The handler of POST /v1/tenants/{tenantId}/api-keys, bound to the app's dependencies. The count and
 * the insert run in one transaction that first locks the tenant's row, so creations for one tenant take
 * turns (concurrent ones cannot all see 19 and all insert) and an offboarding, which updates that row,
 * cannot interleave with them: a creation that waited on it sees the tenant offboarded.
 */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    requireActive(c.get('tenant'));
    const tenantId = c.get('tenant').id;
    const { name } = c.req.valid('json');
    const created = await deps.db.transaction(async (tx) => {
      const [locked] = await tx.select().from(tenants).where(eq(tenants.id, tenantId)).for('update');
      if (locked === undefined) throw new ApiError('NOT_FOUND', 'tenant not found');
      requireActive(locked);
      const [active] = await tx
        .select({ count: count() })
        .from(apiKeys)
        .where(and(eq(apiKeys.tenantId, tenantId), isNull(apiKeys.revokedAt)));
      if ((active?.count ?? 0) >= MAX_ACTIVE_KEYS) return undefined;
      const apiKey = await insertApiKey(tx, tenantId, name);
      await audit(tx, c.get('principal'), c.get('requestId'), {
        tenantId,
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
