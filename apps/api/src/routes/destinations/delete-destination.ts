import { type RouteHandler, z } from '@hono/zod-openapi';
import { awsDestinations } from '@vsh/db';
import { and, eq } from 'drizzle-orm';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { ApiError } from '../../errors.ts';
import { audit } from '../../lib/audit.ts';
import { requireActive } from '../../middleware/authorize.ts';
import { defineRoute, destinationIdParam, tenantIdParam } from '../../openapi.ts';

/** DELETE /v1/tenants/{tenantId}/destinations/{destinationId}: its schemas, access and documented answers. */
export const route = defineRoute(
  'tenant',
  {
    method: 'delete',
    operationId: 'deleteDestination',
    path: '/tenants/{tenantId}/destinations/{destinationId}',
    tags: ['destinations'],
    summary: 'Remove a destination and its streams (findings already in Security Hub stay there)',
    request: { params: z.object({ tenantId: tenantIdParam, destinationId: destinationIdParam }) },
    responses: { 204: { description: 'Removed.' } },
  },
  [409],
);

/** The handler of DELETE /v1/tenants/{tenantId}/destinations/{destinationId}, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const tenant = c.get('tenant');
    requireActive(tenant);
    const { destinationId } = c.req.valid('param');
    const removed = await deps.db.transaction(async (tx) => {
      const [row] = await tx
        .delete(awsDestinations)
        .where(and(eq(awsDestinations.id, destinationId), eq(awsDestinations.tenantId, tenant.id)))
        .returning({ id: awsDestinations.id, accountId: awsDestinations.accountId });
      if (row === undefined) return false;
      await audit(tx, c.get('principal'), c.get('requestId'), {
        tenantId: tenant.id,
        action: 'destination.deleted',
        target: row.id,
        details: { accountId: row.accountId },
      });
      return true;
    });
    if (!removed) throw new ApiError('NOT_FOUND', 'destination not found');
    return c.body(null, 204);
  };
}
