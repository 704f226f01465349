import { type RouteHandler, z } from '@hono/zod-openapi';
import { VAIKORA_ERROR_CODES } from '@vsh/vaikora';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { defineRoute, jsonBody, jsonResponse, tenantIdParam } from '../../openapi.ts';
import {
  DEFAULT_VAIKORA_BASE_URL,
  testVaikoraConnection,
  timeFilterParamSchema,
  vaikoraBaseUrlSchema,
  vaikoraSettingsInputSchema,
} from '../../services/vaikora.ts';

/** The body of POST /v1/tenants/{tenantId}/vaikora/test. */
const testBodySchema = z
  .strictObject({
    apiKey: vaikoraSettingsInputSchema.shape.apiKey,
    baseUrl: vaikoraBaseUrlSchema,
    timeFilterParam: timeFilterParamSchema,
  })
  .openapi({ example: { apiKey: 'vk_live_...', baseUrl: DEFAULT_VAIKORA_BASE_URL } });

const vaikoraTestResultSchema = z
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
      body: jsonBody(testBodySchema),
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
    const input = { ...c.req.valid('json'), requestId: c.get('requestId') };
    return c.json(await testVaikoraConnection(deps, c.get('tenant'), input), 200);
  };
}
