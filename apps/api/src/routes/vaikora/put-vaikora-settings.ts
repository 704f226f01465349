import { type RouteHandler, z } from '@hono/zod-openapi';
import { thresholdsSchema } from '@vsh/core';
import { type Tenant, tenantSchedules, type VaikoraSettings, vaikoraSettings } from '@vsh/db';
import { sealedKeyId } from '@vsh/secrets';
import { checkBaseUrl } from '@vsh/vaikora';
import { eq } from 'drizzle-orm';
import { type ApiDeps, type AppEnv, baseUrlPolicyOf } from '../../deps.ts';
import { ApiError } from '../../errors.ts';
import { type Actor, audit } from '../../lib/audit.ts';
import { syncStreams } from '../../lib/streams.ts';
import { requireActive } from '../../middleware/authorize.ts';
import { defineRoute, tenantIdParam } from '../../openapi.ts';
import {
  agentIdsSchema,
  checkVaikoraKey,
  DEFAULT_VAIKORA_BASE_URL,
  openStoredKey,
  toVaikoraSettings,
  vaikoraSettingsSchema,
} from './shared.ts';

/** The body of PUT /v1/tenants/{tenantId}/vaikora (also what the web page's Vaikora form is parsed with). */
export const bodySchema = z
  .strictObject({
    apiKey: z
      .string()
      .min(1, 'must not be empty')
      .max(1024, 'must be at most 1024 characters')
      .regex(/^[\x21-\x7e]+$/, 'must be visible ASCII without spaces')
      .optional()
      .openapi({ description: 'Write-only. Required the first time; omit to keep the stored key.' }),
    baseUrl: z.string().max(2048, 'must be at most 2048 characters').default(DEFAULT_VAIKORA_BASE_URL),
    agentIds: agentIdsSchema,
    thresholds: thresholdsSchema.default(thresholdsSchema.parse({})),
    pollIntervalSeconds: z
      .number()
      .int('must be a whole number of seconds')
      .min(60, 'must be at least 60 seconds')
      .max(86_400, 'must be at most 86400 seconds (a day)')
      .default(300),
    timeFilterParam: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/, 'must be a plain query parameter name')
      .nullable()
      .default(null),
  })
  .openapi({
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
      body: { required: true, content: { 'application/json': { schema: bodySchema } } },
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

/** The parsed body of the settings PUT. */
export type VaikoraSettingsBody = z.infer<typeof bodySchema>;

/**
 * Verifies and stores a tenant's Vaikora settings, then re-syncs its streams (shared by the route and the
 * web page's form). The key is checked with Vaikora before anything is written; it is never logged.
 */
export async function saveVaikoraSettings(
  deps: ApiDeps,
  actor: Actor,
  tenant: Tenant,
  body: VaikoraSettingsBody,
): Promise<VaikoraSettings> {
  requireActive(tenant);
  const baseUrl = checkBaseUrl(body.baseUrl, baseUrlPolicyOf(deps.config));
  if (!baseUrl.ok) throw new ApiError('BASE_URL_NOT_ALLOWED', `body.baseUrl: ${baseUrl.reason}`);

  const [existing] = await deps.db
    .select()
    .from(vaikoraSettings)
    .where(eq(vaikoraSettings.tenantId, tenant.id))
    .limit(1);
  let apiKey = body.apiKey;
  if (apiKey === undefined) {
    if (existing === undefined) {
      throw new ApiError('VALIDATION_FAILED', 'body.apiKey: is required when no key is stored');
    }
    apiKey = await openStoredKey(deps, existing.apiKeyCiphertext, tenant.id);
  }
  const check = await checkVaikoraKey(deps, actor.requestId, {
    baseUrl: baseUrl.url,
    apiKey,
    timeFilterParam: body.timeFilterParam,
  });
  if (!check.ok) throw new ApiError('VAIKORA_VERIFICATION_FAILED', check.message);

  const sealed =
    body.apiKey === undefined && existing !== undefined
      ? existing.apiKeyCiphertext
      : await deps.secretBox.seal(apiKey, { tenantId: tenant.id });
  const now = deps.clock();
  const values = {
    baseUrl: baseUrl.url,
    agentIds: body.agentIds,
    thresholds: body.thresholds,
    pollIntervalSeconds: body.pollIntervalSeconds,
    timeFilterParam: body.timeFilterParam,
    apiKeyCiphertext: sealed,
    apiKeyKeyId: sealedKeyId(sealed),
    verifiedAt: now,
    lastError: null,
  };
  const row = await deps.db.transaction(async (tx) => {
    const [saved] = await tx
      .insert(vaikoraSettings)
      .values({ tenantId: tenant.id, ...values })
      .onConflictDoUpdate({ target: vaikoraSettings.tenantId, set: values })
      .returning();
    await tx.insert(tenantSchedules).values({ tenantId: tenant.id, nextRunAt: now }).onConflictDoNothing();
    const streams = await syncStreams(tx, tenant.id);
    await audit(tx, actor.principal, actor.requestId, {
      tenantId: tenant.id,
      action: existing === undefined ? 'vaikora.settings_created' : 'vaikora.settings_updated',
      target: tenant.id,
      details: {
        apiKeyChanged: body.apiKey !== undefined,
        baseUrlHost: new URL(baseUrl.url).host,
        agents: body.agentIds.length,
        pollIntervalSeconds: body.pollIntervalSeconds,
        streams,
      },
    });
    return saved;
  });
  if (row === undefined) throw new Error('upsert of vaikora_settings returned no row');
  return row;
}

/** The handler of PUT /v1/tenants/{tenantId}/vaikora, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const row = await saveVaikoraSettings(
      deps,
      { principal: c.get('principal'), requestId: c.get('requestId') },
      c.get('tenant'),
      c.req.valid('json'),
    );
    return c.json(toVaikoraSettings(row), 200);
  };
}
