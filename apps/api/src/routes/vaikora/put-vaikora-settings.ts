import { type RouteHandler, z } from '@hono/zod-openapi';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { actorOf, defineRoute, jsonBody, tenantIdParam } from '../../openapi.ts';
import {
  DEFAULT_VAIKORA_BASE_URL,
  saveVaikoraSettings,
  vaikoraSettingsInputSchema,
} from '../../services/vaikora.ts';
import { toVaikoraSettings, vaikoraSettingsSchema } from './shared.ts';

/** The body of PUT /v1/tenants/{tenantId}/vaikora. */
const bodySchema = vaikoraSettingsInputSchema.openapi({
  example: {
    apiKey: 'vk_live_...',
    baseUrl: DEFAULT_VAIKORA_BASE_URL,
    agentIds: ['agt-support-bot'],
    pollIntervalSeconds: 300,
  },
});

/** PUT /v1/tenants/{tenantId}/vaikora: its schemas, access and documented answers. */
export const route = defineRoute(
  'tenant',
  {
    method: 'put',
    operationId: 'setVaikoraSettings',
    path: '/tenants/{tenantId}/vaikora',
    tags: ['vaikora'],
    summary:
      'Set the Vaikora connection; the key is verified with one Vaikora call (retried briefly on 429, 5xx and network errors) before it is stored',
    request: {
      params: z.object({ tenantId: tenantIdParam }),
      body: jsonBody(bodySchema),
    },
    responses: {
      200: {
        description: 'The stored settings (never the key).',
        content: { 'application/json': { schema: vaikoraSettingsSchema } },
      },
    },
  },
  [409, 422],
);

/** The handler of PUT /v1/tenants/{tenantId}/vaikora, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const row = await saveVaikoraSettings(deps, actorOf(c), c.get('tenant'), c.req.valid('json'));
    return c.json(toVaikoraSettings(row), 200);
  };
}
