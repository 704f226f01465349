import { type RouteHandler, z } from '@hono/zod-openapi';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { actorOf, defineRoute, jsonResponse, tenantIdParam } from '../../openapi.ts';
import { revokeOrgRegistration } from '../../services/org-registrations.ts';

/** DELETE /v1/tenants/{tenantId}/org-registration: its schemas, access and documented answers. */
export const route = defineRoute(
  'tenant',
  {
    method: 'delete',
    path: '/tenants/{tenantId}/org-registration',
    operationId: 'revokeOrgRegistration',
    tags: ['organisation onboarding'],
    summary: 'Revoke the organisation registration token (idempotent); registered accounts stay',
    request: { params: z.object({ tenantId: tenantIdParam }) },
    responses: {
      200: jsonResponse(
        'The ids of the registrations revoked by this call (empty when none was live).',
        z.object({ revoked: z.array(z.string()) }),
        { revoked: ['org_01jd0000000000000000000000'] },
      ),
    },
  },
  [409],
);

/** The handler of DELETE /v1/tenants/{tenantId}/org-registration, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => c.json(await revokeOrgRegistration(deps, actorOf(c), c.get('tenant')), 200);
}
