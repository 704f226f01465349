import { type RouteHandler, z } from '@hono/zod-openapi';
import { type AwsDestination, awsDestinations, type Tenant } from '@vsh/db';
import { and, eq } from 'drizzle-orm';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { ApiError } from '../../errors.ts';
import { type Actor, audit } from '../../lib/audit.ts';
import { syncStreams } from '../../lib/streams.ts';
import { requireActive } from '../../middleware/authorize.ts';
import { defineRoute, destinationIdParam, jsonResponse, tenantIdParam } from '../../openapi.ts';
import { agentIdsSchema } from '../vaikora/shared.ts';
import { bodySchema as registerBodySchema } from './create-destination.ts';
import { findDestination } from './find.ts';
import { DESTINATION_EXAMPLE, destinationSchema, partitionOf, toDestination } from './shared.ts';

/** The body of PATCH /v1/tenants/{tenantId}/destinations/{destinationId}: what may change after registration. */
export const routingBodySchema = z
  .strictObject({
    agentIds: agentIdsSchema.nullable().optional().openapi({
      description: "The agents routed here; null routes every agent of the tenant's Vaikora settings.",
    }),
    regions: registerBodySchema.shape.regions.optional(),
  })
  .refine((body) => body.agentIds !== undefined || body.regions !== undefined, {
    message: 'must change agentIds or regions',
  })
  .openapi({ example: { agentIds: ['agt-support-bot'], regions: ['us-east-1'] } });

/** What `updateDestinationRouting` changes; an omitted field keeps its value. */
export interface DestinationRoutingInput {
  agentIds?: string[] | null | undefined;
  regions?: string[] | undefined;
}

/**
 * Changes which agents and regions a destination receives, then re-syncs the tenant's streams (new
 * routes enabled, dropped ones disabled, never deleted). A region added to a verified destination sends
 * it back to `pending`: Security Hub was checked only in the old regions, so it is verified again first.
 */
export async function updateDestinationRouting(
  deps: ApiDeps,
  actor: Actor,
  tenant: Tenant,
  destinationId: string,
  input: DestinationRoutingInput,
): Promise<AwsDestination> {
  requireActive(tenant);
  return deps.db.transaction(async (tx) => {
    const current = await findDestination(tx, tenant.id, destinationId);
    const changes: Partial<Pick<AwsDestination, 'agentIds' | 'regions' | 'state'>> = {};
    if (input.agentIds !== undefined) changes.agentIds = input.agentIds;
    if (input.regions !== undefined) {
      const partition = partitionOf(current);
      if (input.regions.some((region) => partitionOf({ regions: [region] }) !== partition)) {
        throw new ApiError(
          'PARTITION_MISMATCH',
          `body.regions: the destination is in partition ${partition}; register another destination for another partition`,
        );
      }
      changes.regions = input.regions;
      const added = input.regions.some((region) => !current.regions.includes(region));
      if (added && current.state !== 'pending' && current.state !== 'disabled') changes.state = 'pending';
    }
    const [updated] = await tx
      .update(awsDestinations)
      .set(changes)
      .where(and(eq(awsDestinations.id, current.id), eq(awsDestinations.tenantId, tenant.id)))
      .returning();
    if (updated === undefined) throw new ApiError('NOT_FOUND', 'destination not found');
    const streams = await syncStreams(tx, tenant.id);
    await audit(tx, actor.principal, actor.requestId, {
      tenantId: tenant.id,
      action: 'destination.routing_updated',
      target: updated.id,
      details: {
        ...(input.agentIds === undefined ? {} : { agentIds: updated.agentIds }),
        ...(input.regions === undefined ? {} : { regions: updated.regions }),
        ...(changes.state === undefined ? {} : { state: changes.state }),
        streams,
      },
    });
    return updated;
  });
}

/** PATCH /v1/tenants/{tenantId}/destinations/{destinationId}: its schemas, access and documented answers. */
export const route = defineRoute(
  'tenant',
  {
    method: 'patch',
    operationId: 'updateDestinationRouting',
    path: '/tenants/{tenantId}/destinations/{destinationId}',
    tags: ['destinations'],
    summary:
      'Change which Vaikora agents and regions a destination receives (re-syncs streams; an added region needs a new verification)',
    request: {
      params: z.object({ tenantId: tenantIdParam, destinationId: destinationIdParam }),
      body: { required: true, content: { 'application/json': { schema: routingBodySchema } } },
    },
    responses: {
      200: jsonResponse('The destination after the change.', destinationSchema, DESTINATION_EXAMPLE),
    },
  },
  [409, 422],
);

/** The handler of PATCH /v1/tenants/{tenantId}/destinations/{destinationId}, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const row = await updateDestinationRouting(
      deps,
      { principal: c.get('principal'), requestId: c.get('requestId') },
      c.get('tenant'),
      c.req.valid('param').destinationId,
      c.req.valid('json'),
    );
    return c.json(toDestination(row), 200);
  };
}
