import { type RouteHandler, z } from '@hono/zod-openapi';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { defineRoute, jsonResponse, tenantIdParam } from '../../openapi.ts';
import { currentOrgRegistration, listOrgAccounts } from '../../services/org-registrations.ts';
import {
  ACCOUNT_EXAMPLE,
  orgAccountSchema,
  orgRegistrationSchema,
  REGISTRATION_EXAMPLE,
  toOrgAccount,
  toOrgRegistration,
} from './shared.ts';

const answerSchema = z.object({
  registration: orgRegistrationSchema.nullable(),
  accounts: z.array(orgAccountSchema),
});

/** GET /v1/tenants/{tenantId}/org-registration: its schemas, access and documented answers. */
export const route = defineRoute('tenant', {
  method: 'get',
  path: '/tenants/{tenantId}/org-registration',
  operationId: 'getOrgRegistration',
  tags: ['organisation onboarding'],
  summary: "The organisation registration (never its token) and the organisation's accounts with their state",
  request: { params: z.object({ tenantId: tenantIdParam }) },
  responses: {
    200: jsonResponse('The live registration (or null) and every registered account.', answerSchema, {
      registration: REGISTRATION_EXAMPLE,
      accounts: [ACCOUNT_EXAMPLE],
    }),
  },
});

/** The handler of GET /v1/tenants/{tenantId}/org-registration, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const tenantId = c.get('tenant').id;
    const [registration, accounts] = await Promise.all([
      currentOrgRegistration(deps.db, tenantId),
      listOrgAccounts(deps.db, tenantId),
    ]);
    return c.json(
      {
        registration: registration === null ? null : toOrgRegistration(registration, deps.clock()),
        accounts: accounts.map(toOrgAccount),
      },
      200,
    );
  };
}
