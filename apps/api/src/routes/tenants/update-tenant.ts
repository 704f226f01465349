import { type RouteHandler, z } from '@hono/zod-openapi';
import { tenants } from '@vsh/db';
import { eq } from 'drizzle-orm';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { audit } from '../../lib/audit.ts';
import { requireActive } from '../../middleware/authorize.ts';
import { defineRoute, jsonResponse, tenantIdParam } from '../../openapi.ts';
import { TENANT_EXAMPLE, tenantName, tenantPlan, tenantSchema, toTenant } from './shared.ts';

/** PATCH /v1/tenants/{tenantId}: its schemas, access and documented answers. */
export const route = defineRoute(
  'operator',
  {
    method: 'patch',
    path: '/tenants/{tenantId}',
    operationId: 'updateTenant',
    tags: ['tenants'],
    summary: "Change a tenant's name or plan",
    request: {
      params: z.object({ tenantId: tenantIdParam }),
      body: {
        required: true,
        content: {
          'application/json': {
            schema: z
              .strictObject({ name: tenantName.optional(), plan: tenantPlan.optional() })
              .refine((body) => body.name !== undefined || body.plan !== undefined, 'give name or plan')
              .openapi({ example: { name: 'Acme Corporation' } }),
          },
        },
      },
    },
    responses: {
      200: jsonResponse('The updated tenant.', tenantSchema, { ...TENANT_EXAMPLE, name: 'Acme Corporation' }),
    },
  },
  [409],
);

/** The handler of PATCH /v1/tenants/{tenantId}, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const tenant = c.get('tenant');
    requireActive(tenant);
    const body = c.req.valid('json');
    const changes = {
      ...(body.name === undefined ? {} : { name: body.name }),
      ...(body.plan === undefined ? {} : { plan: body.plan }),
    };
    const updated = await deps.db.transaction(async (tx) => {
      const [row] = await tx.update(tenants).set(changes).where(eq(tenants.id, tenant.id)).returning();
      await audit(tx, c.get('principal'), c.get('requestId'), {
        tenantId: tenant.id,
        action: 'tenant.updated',
        target: tenant.id,
        details: { fields: Object.keys(changes) },
      });
      return row;
    });
    if (updated === undefined) throw new Error('update of tenants returned no row');
    return c.json(toTenant(updated), 200);
  };
}
