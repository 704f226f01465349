import { type RouteHandler, z } from '@hono/zod-openapi';
import { vaikoraSettings } from '@vsh/db';
import { eq } from 'drizzle-orm';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { ApiError } from '../../errors.ts';
import { defineRoute, tenantIdParam } from '../../openapi.ts';
import { toVaikoraSettings, vaikoraSettingsSchema } from './shared.ts';

/** GET /v1/tenants/{tenantId}/vaikora: its schemas, access and documented answers. */
export const route = defineRoute('tenant', {
  method: 'get',
  operationId: 'getVaikoraSettings',
  path: '/tenants/{tenantId}/vaikora',
  tags: ['vaikora'],
  summary: 'Read the Vaikora connection (never any part of the key)',
  request: { params: z.object({ tenantId: tenantIdParam }) },
  responses: {
    200: { description: 'The settings.', content: { 'application/json': { schema: vaikoraSettingsSchema } } },
  },
});

/** The handler of GET /v1/tenants/{tenantId}/vaikora, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const tenant = c.get('tenant');
    const [row] = await deps.db
      .select()
      .from(vaikoraSettings)
      .where(eq(vaikoraSettings.tenantId, tenant.id))
      .limit(1);
    if (row === undefined) throw new ApiError('NOT_FOUND', 'no Vaikora settings yet: PUT them first');
    return c.json(toVaikoraSettings(row), 200);
  };
}
