import { type RouteHandler, z } from '@hono/zod-openapi';
import { type Tenant, vaikoraSettings } from '@vsh/db';
import { checkBaseUrl, VAIKORA_ERROR_CODES, VaikoraError, type VaikoraErrorCode } from '@vsh/vaikora';
import { eq } from 'drizzle-orm';
import { type ApiDeps, type AppEnv, baseUrlPolicyOf } from '../../deps.ts';
import { ApiError } from '../../errors.ts';
import { requireActive } from '../../middleware/authorize.ts';
import { defineRoute, jsonResponse, tenantIdParam } from '../../openapi.ts';
import { bodySchema as settingsBodySchema } from './put-vaikora-settings.ts';
import {
  AGENT_ID_PATTERN,
  checkVaikoraKey,
  DEFAULT_VAIKORA_BASE_URL,
  openStoredKey,
  VAIKORA_CHECK_BUDGET_MS,
} from './shared.ts';

/** Pages and agents the connection test reads at most: enough to fill a form, cheap for Vaikora. */
export const DISCOVERY_BOUNDS = { maxPages: 3, maxAgents: 100 } as const;

/** The body of POST /v1/tenants/{tenantId}/vaikora/test (also the web form's "Test connection"). */
export const testBodySchema = z
  .strictObject({
    apiKey: settingsBodySchema.shape.apiKey,
    baseUrl: z.string().max(2048, 'must be at most 2048 characters').default(DEFAULT_VAIKORA_BASE_URL),
    timeFilterParam: settingsBodySchema.shape.timeFilterParam,
  })
  .openapi({ example: { apiKey: 'vk_live_...', baseUrl: DEFAULT_VAIKORA_BASE_URL } });

/** The input of `testVaikoraConnection`: without `apiKey`, the tenant's stored key is used. */
export interface VaikoraTestInput {
  apiKey?: string | undefined;
  baseUrl: string;
  timeFilterParam?: string | null | undefined;
  /** For the log line of a failed check; default `app`. */
  requestId?: string | undefined;
}

export const vaikoraTestResultSchema = z
  .object({
    ok: z.boolean(),
    code: z.enum(VAIKORA_ERROR_CODES).nullable(),
    message: z.string(),
    agents: z.array(z.string()).nullable().openapi({
      description:
        'Distinct agent ids on the newest actions the key can list; null when Vaikora does not list actions without an agent id (type them instead).',
    }),
    agentsComplete: z
      .boolean()
      .openapi({ description: 'False when the scan stopped at its page or agent bound.' }),
  })
  .openapi('VaikoraTestResult');

export type VaikoraTestResult = z.infer<typeof vaikoraTestResultSchema>;

/**
 * Tests a Vaikora key and base URL without storing anything, and lists the agents the key can see
 * (bounded). A refused key is an outcome (`ok: false`), not an error; the key never appears in the
 * answer or a log line.
 */
export async function testVaikoraConnection(
  deps: ApiDeps,
  tenant: Tenant,
  input: VaikoraTestInput,
): Promise<VaikoraTestResult> {
  requireActive(tenant);
  const baseUrl = checkBaseUrl(input.baseUrl, baseUrlPolicyOf(deps.config));
  if (!baseUrl.ok) throw new ApiError('BASE_URL_NOT_ALLOWED', `body.baseUrl: ${baseUrl.reason}`);
  let apiKey = input.apiKey;
  if (apiKey === undefined) {
    const [stored] = await deps.db
      .select({ apiKeyCiphertext: vaikoraSettings.apiKeyCiphertext })
      .from(vaikoraSettings)
      .where(eq(vaikoraSettings.tenantId, tenant.id))
      .limit(1);
    if (stored === undefined) {
      throw new ApiError('NOT_CONFIGURED', 'body.apiKey: is required when no key is stored');
    }
    apiKey = await openStoredKey(deps, stored.apiKeyCiphertext, tenant.id);
  }
  const timeFilterParam = input.timeFilterParam ?? null;
  const requestId = input.requestId ?? 'app';
  const check = await checkVaikoraKey(deps, requestId, { baseUrl: baseUrl.url, apiKey, timeFilterParam });
  if (!check.ok) {
    return { ok: false, code: check.code, message: check.message, agents: null, agentsComplete: false };
  }
  const client = deps.vaikoraClient({
    baseUrl: baseUrl.url,
    apiKey,
    ...(timeFilterParam === null ? {} : { timeFilterParam }),
  });
  if (client.discoverAgents === undefined) {
    return { ok: true, code: null, message: 'Vaikora accepted the key', agents: null, agentsComplete: false };
  }
  let code: VaikoraErrorCode;
  try {
    const found = await client.discoverAgents({
      ...DISCOVERY_BOUNDS,
      signal: AbortSignal.timeout(VAIKORA_CHECK_BUDGET_MS),
    });
    // Only ids the settings would accept: the list feeds a form that is saved as is.
    const agents = found.agents.filter((id) => AGENT_ID_PATTERN.test(id));
    return {
      ok: true,
      code: null,
      message: `Vaikora accepted the key; ${agents.length} agent${agents.length === 1 ? '' : 's'} found`,
      agents,
      agentsComplete: found.complete,
    };
  } catch (err) {
    code = err instanceof VaikoraError ? err.code : 'TIMEOUT';
  }
  deps.logger.warn({ requestId, code }, 'vaikora agent discovery failed');
  return {
    ok: true,
    code: null,
    message: `Vaikora accepted the key, but listing actions without an agent id failed (${code}): type the agent ids`,
    agents: null,
    agentsComplete: false,
  };
}

/** POST /v1/tenants/{tenantId}/vaikora/test: its schemas, access and documented answers. */
export const route = defineRoute(
  'tenant',
  {
    method: 'post',
    operationId: 'testVaikoraConnection',
    path: '/tenants/{tenantId}/vaikora/test',
    tags: ['vaikora'],
    summary:
      'Test a Vaikora key and base URL without saving them, and list the agents the key can see (first pages only)',
    request: {
      params: z.object({ tenantId: tenantIdParam }),
      body: { required: true, content: { 'application/json': { schema: testBodySchema } } },
    },
    responses: {
      200: jsonResponse(
        'The outcome (a refused key is an outcome, not an error) and the agents found.',
        vaikoraTestResultSchema,
        {
          ok: true,
          code: null,
          message: 'Vaikora accepted the key; 2 agents found',
          agents: ['agt-support-bot', 'agt-sql'],
          agentsComplete: true,
        },
      ),
    },
  },
  [409, 422],
);

/** The handler of POST /v1/tenants/{tenantId}/vaikora/test, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const body = c.req.valid('json');
    const result = await testVaikoraConnection(deps, c.get('tenant'), {
      apiKey: body.apiKey,
      baseUrl: body.baseUrl,
      timeFilterParam: body.timeFilterParam,
      requestId: c.get('requestId'),
    });
    return c.json(result, 200);
  };
}
