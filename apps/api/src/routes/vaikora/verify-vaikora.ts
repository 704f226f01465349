import { type RouteHandler, z } from '@hono/zod-openapi';
import { vaikoraSettings } from '@vsh/db';
import { VAIKORA_ERROR_CODES } from '@vsh/vaikora';
import { and, eq } from 'drizzle-orm';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { ApiError } from '../../errors.ts';
import { audit } from '../../lib/audit.ts';
import { requireActive } from '../../middleware/authorize.ts';
import { defineRoute, tenantIdParam } from '../../openapi.ts';
import { checkVaikoraKey, openStoredKey, toVaikoraSettings, vaikoraSettingsSchema } from './shared.ts';

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
    const tenant = c.get('tenant');
    requireActive(tenant);
    const [existing] = await deps.db
      .select()
      .from(vaikoraSettings)
      .where(eq(vaikoraSettings.tenantId, tenant.id))
      .limit(1);
    if (existing === undefined)
      throw new ApiError('NOT_CONFIGURED', 'no Vaikora settings yet: PUT them first');
    const apiKey = await openStoredKey(deps, existing.apiKeyCiphertext, tenant.id);
    const check = await checkVaikoraKey(deps, c.get('requestId'), {
      baseUrl: existing.baseUrl,
      apiKey,
      timeFilterParam: existing.timeFilterParam,
    });
    const now = deps.clock();
    const row = await deps.db.transaction(async (tx) => {
      const [saved] = await tx
        .update(vaikoraSettings)
        .set(check.ok ? { verifiedAt: now, lastError: null } : { lastError: check.message })
        .where(and(eq(vaikoraSettings.tenantId, tenant.id)))
        .returning();
      await audit(tx, c.get('principal'), c.get('requestId'), {
        tenantId: tenant.id,
        action: 'vaikora.verified',
        target: tenant.id,
        details: { ok: check.ok, ...(check.ok ? {} : { code: check.code }) },
      });
      return saved;
    });
    if (row === undefined)
      throw new ApiError('NOT_CONFIGURED', 'the Vaikora settings were removed meanwhile');
    return c.json(
      {
        ok: check.ok,
        code: check.ok ? null : check.code,
        message: check.ok ? 'Vaikora accepted the key' : check.message,
        settings: toVaikoraSettings(row),
      },
      200,
    );
  };
}
