import { type RouteHandler, z } from '@hono/zod-openapi';
import { tenants } from '@vsh/db';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { audit } from '../../lib/audit.ts';
import { defineRoute } from '../../openapi.ts';
import {
  createdApiKeySchema,
  insertApiKey,
  tenantName,
  tenantPlan,
  tenantSchema,
  toTenant,
} from './shared.ts';

/** POST /v1/tenants: its schemas, access and documented answers. */
export const route = defineRoute('operator', {
  method: 'post',
  path: '/tenants',
  tags: ['tenants'],
  summary: 'Create a tenant and its first API key (shown once)',
  request: {
    body: {
      required: true,
      content: {
        'application/json': {
          schema: z
            .strictObject({ name: tenantName, plan: tenantPlan.optional() })
            .openapi({ example: { name: 'Acme Corp', plan: 'standard' } }),
        },
      },
    },
  },
  responses: {
    201: {
      description: 'The tenant, and its first API key with the whole key (never shown again).',
      content: {
        'application/json': { schema: z.object({ tenant: tenantSchema, apiKey: createdApiKeySchema }) },
      },
    },
  },
});

/** The handler of POST /v1/tenants, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const body = c.req.valid('json');
    const result = await deps.db.transaction(async (tx) => {
      const [tenant] = await tx
        .insert(tenants)
        .values({ name: body.name, ...(body.plan === undefined ? {} : { plan: body.plan }) })
        .returning();
      if (tenant === undefined) throw new Error('insert into tenants returned no row');
      const apiKey = await insertApiKey(tx, tenant.id, 'default');
      const principal = c.get('principal');
      await audit(tx, principal, c.get('requestId'), {
        tenantId: tenant.id,
        action: 'tenant.created',
        target: tenant.id,
        details: { plan: tenant.plan },
      });
      await audit(tx, principal, c.get('requestId'), {
        tenantId: tenant.id,
        action: 'api_key.created',
        target: apiKey.id,
        details: { prefix: apiKey.prefix },
      });
      return { tenant: toTenant(tenant), apiKey };
    });
    return c.json(result, 201);
  };
}
