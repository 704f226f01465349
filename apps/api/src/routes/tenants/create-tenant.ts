import { type RouteHandler, z } from '@hono/zod-openapi';
import { type Tenant, tenants } from '@vsh/db';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { type Actor, audit } from '../../lib/audit.ts';
import { defineRoute, jsonResponse } from '../../openapi.ts';
import {
  CREATED_API_KEY_EXAMPLE,
  createdApiKeySchema,
  insertApiKey,
  TENANT_EXAMPLE,
  tenantName,
  tenantPlan,
  tenantSchema,
  toTenant,
} from './shared.ts';

/** The body of POST /v1/tenants (also what the operator's invite page parses its form with). */
export const createTenantBodySchema = z
  .strictObject({ name: tenantName, plan: tenantPlan.optional() })
  .openapi({ example: { name: 'Acme Corp', plan: 'standard' } });

/** POST /v1/tenants: its schemas, access and documented answers. */
export const route = defineRoute('operator', {
  method: 'post',
  path: '/tenants',
  operationId: 'createTenant',
  tags: ['tenants'],
  summary: 'Create a tenant and its first API key (shown once)',
  request: {
    body: {
      required: true,
      content: {
        'application/json': {
          schema: createTenantBodySchema,
        },
      },
    },
  },
  responses: {
    201: jsonResponse(
      'The tenant, and its first API key with the whole key (never shown again).',
      z.object({ tenant: tenantSchema, apiKey: createdApiKeySchema }),
      { tenant: TENANT_EXAMPLE, apiKey: CREATED_API_KEY_EXAMPLE },
    ),
  },
});

export type CreateTenantBody = z.infer<typeof createTenantBodySchema>;

/**
 * Creates a tenant and its first API key in one transaction, audited (shared by the route and the invite
 * page). The whole key is in the result and nowhere else.
 */
export async function createTenant(
  deps: ApiDeps,
  actor: Actor,
  body: CreateTenantBody,
): Promise<{ tenant: Tenant; apiKey: z.infer<typeof createdApiKeySchema> }> {
  return deps.db.transaction(async (tx) => {
    const [tenant] = await tx
      .insert(tenants)
      .values({ name: body.name, ...(body.plan === undefined ? {} : { plan: body.plan }) })
      .returning();
    if (tenant === undefined) throw new Error('insert into tenants returned no row');
    const apiKey = await insertApiKey(tx, tenant.id, 'default');
    await audit(tx, actor.principal, actor.requestId, {
      tenantId: tenant.id,
      action: 'tenant.created',
      target: tenant.id,
      details: { plan: tenant.plan },
    });
    await audit(tx, actor.principal, actor.requestId, {
      tenantId: tenant.id,
      action: 'api_key.created',
      target: apiKey.id,
      details: { prefix: apiKey.prefix },
    });
    return { tenant, apiKey };
  });
}

/** The handler of POST /v1/tenants, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const body = c.req.valid('json');
    const { tenant, apiKey } = await createTenant(
      deps,
      { principal: c.get('principal'), requestId: c.get('requestId') },
      body,
    );
    return c.json({ tenant: toTenant(tenant), apiKey }, 201);
  };
}
