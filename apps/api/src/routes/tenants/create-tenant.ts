import { type RouteHandler, z } from '@hono/zod-openapi';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { actorOf, defineRoute, jsonBody, jsonResponse } from '../../openapi.ts';
import { createTenant, createTenantSchema } from '../../services/tenants.ts';
import {
  CREATED_API_KEY_EXAMPLE,
  createdApiKeySchema,
  TENANT_EXAMPLE,
  tenantSchema,
  toCreatedApiKey,
  toTenant,
} from './shared.ts';

/** POST /v1/tenants: its schemas, access and documented answers. */
export const route = defineRoute('operator', {
  method: 'post',
  path: '/tenants',
  operationId: 'createTenant',
  tags: ['tenants'],
  summary: 'Create a tenant and its first API key (shown once)',
  request: {
    body: jsonBody(createTenantSchema.openapi({ example: { name: 'Acme Corp', plan: 'standard' } })),
  },
  responses: {
    201: jsonResponse(
      'The tenant, and its first API key with the whole key (never shown again).',
      z.object({ tenant: tenantSchema, apiKey: createdApiKeySchema }),
      { tenant: TENANT_EXAMPLE, apiKey: CREATED_API_KEY_EXAMPLE },
    ),
  },
});

/** The handler of POST /v1/tenants, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const { tenant, apiKey } = await createTenant(deps, actorOf(c), c.req.valid('json'));
    return c.json({ tenant: toTenant(tenant), apiKey: toCreatedApiKey(apiKey) }, 201);
  };
}
