import { awsDestinations, streams, type Transaction } from '@vsh/db';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { vaikoraAgents } from './vaikora-settings.ts';

// A destination's routes run once it has passed verification; the worker itself skips `disabled` ones.
const ROUTED_STATES = ['verified', 'active', 'degraded'] as const;

export interface StreamSync {
  enabled: number;
  disabled: number;
}

/**
 * Makes a tenant's streams match its settings: one enabled stream per Vaikora agent x region of every
 * verified destination, for the agents routed to it (its `agent_ids` intersected with the settings'
 * agents; null: all of them), every other stream of the tenant disabled. Streams are never deleted here, so a
 * route that comes back keeps its id and with it the worker's cursor. Every statement is filtered by the
 * tenant id.
 */
export async function syncStreams(tx: Transaction, tenantId: string): Promise<StreamSync> {
  const agents = await vaikoraAgents(tx, tenantId);
  const destinations = await tx
    .select({ id: awsDestinations.id, regions: awsDestinations.regions, agentIds: awsDestinations.agentIds })
    .from(awsDestinations)
    .where(and(eq(awsDestinations.tenantId, tenantId), inArray(awsDestinations.state, [...ROUTED_STATES])));
  const desired = destinations.flatMap((destination) => {
    // A destination's own list narrows the settings' agents; an agent only it names is not polled.
    const routed =
      destination.agentIds === null ? agents : agents.filter((id) => destination.agentIds?.includes(id));
    return routed.flatMap((agentId) =>
      destination.regions.map((region) => ({ tenantId, destinationId: destination.id, agentId, region })),
    );
  });
  const wanted = new Set(desired.map((row) => `${row.destinationId}\u0000${row.agentId}\u0000${row.region}`));
  if (desired.length > 0) {
    await tx
      .insert(streams)
      .values(desired.map((row) => ({ ...row, enabled: true })))
      .onConflictDoUpdate({
        target: [streams.destinationId, streams.agentId, streams.region],
        set: { enabled: true },
        setWhere: sql`${streams.enabled} = false`,
      });
  }
  const existing = await tx
    .select({
      id: streams.id,
      destinationId: streams.destinationId,
      agentId: streams.agentId,
      region: streams.region,
      enabled: streams.enabled,
    })
    .from(streams)
    .where(eq(streams.tenantId, tenantId));
  const stale = existing
    .filter(
      (row) => row.enabled && !wanted.has(`${row.destinationId}\u0000${row.agentId}\u0000${row.region}`),
    )
    .map((row) => row.id);
  if (stale.length > 0) {
    await tx
      .update(streams)
      .set({ enabled: false })
      .where(and(eq(streams.tenantId, tenantId), inArray(streams.id, stale)));
  }
  return { enabled: desired.length, disabled: stale.length };
}
