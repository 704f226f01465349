import { type RouteHandler, z } from '@hono/zod-openapi';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { actorOf, defineRoute, jsonResponse, keyIdParam, tenantIdParam } from '../../openapi.ts';
import { revokeApiKey } from '../../services/api-keys.ts';
import { API_KEY_EXAMPLE, apiKeySchema, toApiKey } from '../tenants/shared.ts';

/** DELETE /v1/tenants/{tenantId}/api-keys/{keyId}: its schemas, access and documented answers. */
export const route = defineRoute('tenant', {
  method: 'delete',
  path: '/tenants/{tenantId}/api-keys/{keyId}',
  operationId: 'revokeApiKey',
  tags: ['api keys'],
  summary: 'Revoke a tenant API key (idempotent); it stops working within 10 seconds',
  description:
    'The key stops working at once on the instance that answers, and on every other instance within 10 seconds: each instance keeps a successful verification for at most that long (ADR 0108).',
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
    const row = await revokeApiKey(deps, actorOf(c), c.get('tenant'), c.req.valid('param').keyId);
    return c.json(toApiKey(row), 200);
  };
}
