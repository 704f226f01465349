import { type RouteHandler, z } from '@hono/zod-openapi';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { defineRoute, tenantIdParam } from '../../openapi.ts';
import { getVaikoraSettings } from '../../services/vaikora.ts';
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
  return async (c) => c.json(toVaikoraSettings(await getVaikoraSettings(deps, c.get('tenant').id)), 200);
}
