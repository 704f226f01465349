import { createRoute, type RouteHandler } from '@hono/zod-openapi';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { jsonBody, jsonResponse } from '../../openapi.ts';
import {
  ORG_REGISTRATION_PATH,
  orgAccountRemovalSchema,
  removeOrgAccount,
} from '../../services/org-registrations.ts';
import { PUBLIC_ERRORS, REQUEST_EXAMPLE } from './register-org-account.ts';
import { ACCOUNT_EXAMPLE, orgAccountSchema, toOrgAccount } from './shared.ts';

/** POST /org-registrations/accounts/remove: public, authenticated by the registration token in the body. */
export const route = createRoute({
  method: 'post',
  path: `${ORG_REGISTRATION_PATH}/remove`,
  operationId: 'removeOrgAccount',
  tags: ['organisation onboarding'],
  summary: 'Remove a member account (called by the custom resource when its stack instance is deleted)',
  description:
    "Deletes the account's destination and keeps the account as removed. Only an account of the token's own tenant; any other answers 404.",
  security: [],
  request: {
    body: jsonBody(
      orgAccountRemovalSchema.openapi({
        example: {
          registrationToken: REQUEST_EXAMPLE.registrationToken,
          accountId: REQUEST_EXAMPLE.accountId,
        },
      }),
    ),
  },
  responses: {
    200: jsonResponse('Removed.', orgAccountSchema, {
      ...ACCOUNT_EXAMPLE,
      state: 'removed',
      reason: null,
      destinationId: null,
      removedAt: '2026-01-02T00:00:00.000Z',
    }),
    ...PUBLIC_ERRORS,
  },
});

/** The handler of POST /org-registrations/accounts/remove, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const account = await removeOrgAccount(deps, c.get('requestId'), c.req.valid('json'));
    return c.json(toOrgAccount(account), 200);
  };
}
