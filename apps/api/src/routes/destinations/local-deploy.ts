import { type RouteHandler, z } from '@hono/zod-openapi';
import { customerRoleParameterValues, DEFAULT_STACK_NAME } from '@vsh/customer-role';
import type { Tenant } from '@vsh/db';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { ApiError } from '../../errors.ts';
import { type Actor, audit } from '../../lib/audit.ts';
import { requireActive } from '../../middleware/authorize.ts';
import { defineRoute, destinationIdParam, jsonResponse, tenantIdParam } from '../../openapi.ts';
import { findDestination } from './find.ts';

/**
 * Deploys a destination's customer role into the local stack's emulated AWS account (local mode only),
 * with exactly the parameters the onboarding shows. The caller then verifies the role as usual.
 */
export async function deployRoleLocally(
  deps: ApiDeps,
  actor: Actor,
  tenant: Tenant,
  destinationId: string,
): Promise<{ roleArn: string }> {
  const port = deps.localAws;
  if (deps.config.mode !== 'local' || port === undefined) {
    throw new ApiError(
      'NOT_AVAILABLE',
      'deploying the role from here works only with the local stack; deploy it in your AWS account',
    );
  }
  requireActive(tenant);
  const row = await findDestination(deps.db, tenant.id, destinationId);
  const [region = 'us-east-1'] = row.regions;
  const parameters = {
    ...customerRoleParameterValues({
      externalId: row.externalId,
      data443AccountId: deps.config.data443AccountId,
      workerRoleName: deps.config.workerRoleName,
      roleName: row.roleName,
    }),
  };
  let roleArn: string;
  try {
    ({ roleArn } = await port.deployRole({
      accountId: row.accountId,
      region,
      stackName: DEFAULT_STACK_NAME,
      parameters,
    }));
  } catch (err) {
    deps.logger.error({ requestId: actor.requestId, err }, 'local role deploy failed');
    throw new ApiError(
      'LOCAL_DEPLOY_FAILED',
      `the local stack could not deploy the role; quote request id ${actor.requestId}`,
    );
  }
  await audit(deps.db, actor.principal, actor.requestId, {
    tenantId: tenant.id,
    action: 'destination.local_deployed',
    target: row.id,
    details: { accountId: row.accountId, region, roleArn },
  });
  return { roleArn };
}

/** POST /v1/tenants/{tenantId}/destinations/{destinationId}/local-deploy: its schemas and answers. */
export const route = defineRoute(
  'tenant',
  {
    method: 'post',
    operationId: 'deployDestinationRoleLocally',
    path: '/tenants/{tenantId}/destinations/{destinationId}/local-deploy',
    tags: ['destinations'],
    summary:
      "Local stack only: deploy the destination's customer role into the local AWS account (then verify it)",
    request: { params: z.object({ tenantId: tenantIdParam, destinationId: destinationIdParam }) },
    responses: {
      200: jsonResponse('The role the local stack created.', z.object({ roleArn: z.string() }), {
        roleArn: 'arn:aws:iam::210987654321:role/Data443-VaikoraSecurityHub',
      }),
    },
  },
  [409, 502],
);

/** The handler of POST .../local-deploy, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const result = await deployRoleLocally(
      deps,
      { principal: c.get('principal'), requestId: c.get('requestId') },
      c.get('tenant'),
      c.req.valid('param').destinationId,
    );
    return c.json(result, 200);
  };
}
