import { createRoute, type RouteHandler } from '@hono/zod-openapi';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { errorResponses } from '../../errors.ts';
import { jsonBody, jsonResponse } from '../../openapi.ts';
import {
  ORG_REGISTRATION_PATH,
  orgAccountRegistrationSchema,
  registerOrgAccount,
} from '../../services/org-registrations.ts';
import { ACCOUNT_EXAMPLE, orgAccountSchema, toOrgAccount } from './shared.ts';

/** The errors of the public registration operations (no bearer key: the token is in the body). */
export const PUBLIC_ERRORS = errorResponses(400, 401, 404, 409, 413, 415, 422, 429, 500);

export const REQUEST_EXAMPLE = {
  registrationToken: `vsho_0123456789ab_${'A'.repeat(43)}`,
  accountId: '210987654321',
  regions: ['us-east-1', 'eu-west-1'],
  roleArn: 'arn:aws:iam::210987654321:role/Data443-VaikoraSecurityHub',
};

/** POST /org-registrations/accounts: public, authenticated by the registration token in the body. */
export const route = createRoute({
  method: 'post',
  path: ORG_REGISTRATION_PATH,
  operationId: 'registerOrgAccount',
  tags: ['organisation onboarding'],
  summary: 'Register a member account of an organisation (called by the StackSet custom resource)',
  description:
    'No API key: the organisation registration token in the body is the only credential, and it registers only into its own tenant. The account becomes a destination and is verified at once; a repeated call verifies it again (idempotent). 401 UNAUTHORIZED for an unknown or revoked token, 401 REGISTRATION_TOKEN_EXPIRED for an expired one, 400 for a malformed account id or region, 409 when the tenant registered the account by hand. Rate-limited per client address.',
  security: [],
  request: { body: jsonBody(orgAccountRegistrationSchema.openapi({ example: REQUEST_EXAMPLE })) },
  responses: {
    200: jsonResponse('Already registered: verified again.', orgAccountSchema, ACCOUNT_EXAMPLE),
    201: jsonResponse(
      'Registered and verified (state says whether it passed, reason why not).',
      orgAccountSchema,
      {
        ...ACCOUNT_EXAMPLE,
        state: 'verified',
        reason: null,
        checks: [],
      },
    ),
    ...PUBLIC_ERRORS,
  },
});

/** The handler of POST /org-registrations/accounts, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const { account, created } = await registerOrgAccount(deps, c.get('requestId'), c.req.valid('json'));
    return created ? c.json(toOrgAccount(account), 201) : c.json(toOrgAccount(account), 200);
  };
}
