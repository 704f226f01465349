import { type RouteHandler, z } from '@hono/zod-openapi';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { actorOf, defineRoute, jsonResponse, keyIdParam, tenantIdParam, timestamp } from '../../openapi.ts';
import { createSignInLink } from '../../services/sign-in-links.ts';

/** The body of POST /v1/tenants/{tenantId}/sign-in-links (optional). */
const bodySchema = z
  .strictObject({
    apiKeyId: keyIdParam
      .optional()
      .openapi({ description: "The key to sign in as; default the tenant's newest unrevoked key." }),
  })
  // The example is the usual call: the tenant's newest key (an example key id would name no real key).
  .openapi({ example: {} });

const signInLinkSchema = z
  .object({
    url: z.string().openapi({
      description: 'Shown once. Opens the sign-in page, which redeems the token once.',
      example: 'https://connector.example.com/ui/login/link?token=...',
    }),
    expiresAt: timestamp,
    apiKeyId: z.string().openapi({ example: 'key_01jd0000000000000000000000' }),
  })
  .openapi('SignInLink');

/** POST /v1/tenants/{tenantId}/sign-in-links: its schemas, access and documented answers. */
export const route = defineRoute(
  'operator',
  {
    method: 'post',
    operationId: 'createSignInLink',
    path: '/tenants/{tenantId}/sign-in-links',
    tags: ['tenants'],
    summary: 'Create a one-time sign-in link for the web pages (signs in as an API key of the tenant)',
    request: {
      params: z.object({ tenantId: tenantIdParam }),
      body: { required: false, content: { 'application/json': { schema: bodySchema } } },
    },
    responses: {
      201: jsonResponse(
        'The link (its token is never stored, only its SHA-256) and when it expires.',
        signInLinkSchema,
        {
          url: 'https://connector.example.com/ui/login/link?token=3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
          expiresAt: '2026-01-02T00:00:00.000Z',
          apiKeyId: 'key_01jd0000000000000000000000',
        },
      ),
    },
  },
  [409],
);

/** The handler of POST /v1/tenants/{tenantId}/sign-in-links, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const body = c.req.valid('json') ?? {};
    const link = await createSignInLink(deps, actorOf(c), c.get('tenant'), { apiKeyId: body.apiKeyId });
    return c.json({ url: link.url, expiresAt: link.expiresAt.toISOString(), apiKeyId: link.apiKeyId }, 201);
  };
}
