import { type RouteHandler, z } from '@hono/zod-openapi';
import { VAIKORA_ERROR_CODES } from '@vsh/vaikora';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { actorOf, defineRoute, tenantIdParam } from '../../openapi.ts';
import { verifyStoredVaikoraKey } from '../../services/vaikora.ts';
import { toVaikoraSettings, vaikoraSettingsSchema } from './shared.ts';

/** POST /v1/tenants/{tenantId}/vaikora/verify: its schemas, access and documented answers. */
export const route = defineRoute(
  'tenant',
  {
    method: 'post',
    operationId: 'verifyVaikoraSettings',
    path: '/tenants/{tenantId}/vaikora/verify',
    tags: ['vaikora'],
    summary:
      'Verify the stored Vaikora key again (one Vaikora call, retried briefly on 429, 5xx and network errors)',
    request: { params: z.object({ tenantId: tenantIdParam }) },
    responses: {
      200: {
        description: 'The outcome (a refused key is an outcome, not an error) and the settings after it.',
        content: {
          'application/json': {
            schema: z.object({
              ok: z.boolean(),
              code: z.enum(VAIKORA_ERROR_CODES).nullable(),
              message: z.string(),
              settings: vaikoraSettingsSchema,
            }),
          },
        },
      },
    },
  },
  [409],
);

/** The handler of POST /v1/tenants/{tenantId}/vaikora/verify, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const { check, settings } = await verifyStoredVaikoraKey(deps, actorOf(c), c.get('tenant'));
    return c.json(
      {
        ok: check.ok,
        code: check.ok ? null : check.code,
        message: check.ok ? 'Vaikora accepted the key' : check.message,
        settings: toVaikoraSettings(settings),
      },
      200,
    );
  };
}
