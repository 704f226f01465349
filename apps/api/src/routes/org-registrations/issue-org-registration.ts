import { type RouteHandler, z } from '@hono/zod-openapi';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { actorOf, defineRoute, jsonBody, jsonResponse, tenantIdParam } from '../../openapi.ts';
import { issueOrgRegistration, issueOrgRegistrationSchema } from '../../services/org-registrations.ts';
import {
  orgRegistrationSchema,
  REGISTRATION_EXAMPLE,
  stackSetParameters,
  stackSetParametersSchema,
  toOrgRegistration,
} from './shared.ts';

const issuedSchema = z.object({
  registration: orgRegistrationSchema,
  token: z.string().openapi({ description: 'The whole registration token: shown once, never again.' }),
  stackSetParameters: stackSetParametersSchema,
});

const TOKEN_EXAMPLE = `vsho_0123456789ab_${'A'.repeat(43)}`;

/** POST /v1/tenants/{tenantId}/org-registration: its schemas, access and documented answers. */
export const route = defineRoute(
  'tenant',
  {
    method: 'post',
    path: '/tenants/{tenantId}/org-registration',
    operationId: 'issueOrgRegistration',
    tags: ['organisation onboarding'],
    summary: 'Issue the organisation registration token (shown once; replaces and revokes the previous one)',
    description:
      'The token goes into the organisation StackSet (infra/customer-role/org-stackset.yaml) with the other parameters returned here; each member account registers itself with it until it expires or is revoked (ADR 0119).',
    request: {
      params: z.object({ tenantId: tenantIdParam }),
      body: jsonBody(
        issueOrgRegistrationSchema.openapi({
          example: { name: 'Acme organisation', regions: ['us-east-1', 'eu-west-1'], expiresInDays: 14 },
        }),
      ),
    },
    responses: {
      201: jsonResponse(
        'The registration, its token (never shown again) and the StackSet parameters.',
        issuedSchema,
        {
          registration: REGISTRATION_EXAMPLE,
          token: TOKEN_EXAMPLE,
          stackSetParameters: {
            RegistrationToken: TOKEN_EXAMPLE,
            RegistrationUrl: 'https://connector.example.com/org-registrations/accounts',
            ExternalIdPrefix: REGISTRATION_EXAMPLE.externalIdPrefix,
            SecurityHubRegions: 'us-east-1,eu-west-1',
            Data443AccountId: '444455556666',
            WorkerRoleName: 'vsh-connector-worker',
            RoleName: 'Data443-VaikoraSecurityHub',
          },
        },
      ),
    },
  },
  [409, 422],
);

/** The handler of POST /v1/tenants/{tenantId}/org-registration, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const { registration, token } = await issueOrgRegistration(
      deps,
      actorOf(c),
      c.get('tenant'),
      c.req.valid('json'),
    );
    return c.json(
      {
        registration: toOrgRegistration(registration, deps.clock()),
        token,
        stackSetParameters: stackSetParameters(deps, registration, token),
      },
      201,
    );
  };
}
