import { type RouteHandler, z } from '@hono/zod-openapi';
import { apiKeys } from '@vsh/db';
import { and, eq, isNull } from 'drizzle-orm';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { ApiError } from '../../errors.ts';
import { audit } from '../../lib/audit.ts';
import { defineRoute, jsonResponse, keyIdParam, tenantIdParam } from '../../openapi.ts';
import { API_KEY_EXAMPLE, apiKeySchema, toApiKey } from '../tenants/shared.ts';

/** DELETE /v1/tenants/{tenantId}/api-keys/{keyId}: its schemas, access and documented answers. */
export const route = defineRoute('tenant', {
  method: 'delete',
  path: '/tenants/{tenantId}/api-keys/{keyId}',
  operationId: 'revokeApiKey',
  tags: ['api keys'],
  summary: 'Revoke a tenant API key (idempotent); it stops working at once',
  request: { params: z.object({ tenantId: tenantIdParam, keyId: keyIdParam }) },
  responses: {
    200: jsonResponse('The revoked key.', apiKeySchema, {
      ...API_KEY_EXAMPLE,
      revokedAt: '2026-02-01T00:00:00.000Z',
    }),
  },
});

/** The handler of DELETE /v1/tenants/{tenantId}/api-keys/{keyId}, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const tenant = c.get('tenant');
    const { keyId } = c.req.valid('param');
    const now = deps.clock();
    const row = await deps.db.transaction(async (tx) => {
      const [revoked] = await tx
        .update(apiKeys)
        .set({ revokedAt: now })
        .where(and(eq(apiKeys.id, keyId), eq(apiKeys.tenantId, tenant.id), isNull(apiKeys.revokedAt)))
        .returning();
      if (revoked !== undefined) {
        await audit(tx, c.get('principal'), c.get('requestId'), {
          tenantId: tenant.id,
          action: 'api_key.revoked',
          target: revoked.id,
          details: { prefix: revoked.prefix },
        });
        return revoked;
      }
      const [existing] = await tx
        .select()
        .from(apiKeys)
        .where(and(eq(apiKeys.id, keyId), eq(apiKeys.tenantId, tenant.id)))
        .limit(1);
      return existing;
    });
    if (row === undefined) throw new ApiError('NOT_FOUND', 'API key not found');
    return c.json(toApiKey(row), 200);
  };
}
