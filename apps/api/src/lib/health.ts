import { z } from '@hono/zod-openapi';
import {
  awsDestinations,
  type Database,
  type DestinationState,
  destinationStates,
  runs,
  type Tenant,
  vaikoraSettings,
} from '@vsh/db';
import { count, desc, inArray } from 'drizzle-orm';
import { iso, timestamp } from '../openapi.ts';

export const HEALTH_STATUSES = [
  'healthy',
  'pending',
  'degraded',
  'failing',
  'unconfigured',
  'offboarded',
] as const;
export type HealthStatus = (typeof HEALTH_STATUSES)[number];

export const healthSchema = z
  .object({
    status: z.enum(HEALTH_STATUSES),
    destinations: z.object(
      Object.fromEntries(destinationStates.map((state) => [state, z.number().int()])) as Record<
        DestinationState,
        z.ZodNumber
      >,
    ),
    vaikora: z.object({
      configured: z.boolean(),
      verifiedAt: timestamp.nullable(),
      lastError: z.string().nullable(),
    }),
    lastRun: z
      .object({
        id: z.string(),
        status: z.enum(['running', 'ok', 'partial', 'failed']),
        startedAt: timestamp,
        finishedAt: timestamp.nullable(),
      })
      .nullable(),
  })
  .openapi('TenantHealth');

export type Health = z.infer<typeof healthSchema>;

interface HealthInputs {
  tenant: Tenant;
  destinations: Record<DestinationState, number>;
  vaikora: { verifiedAt: Date | null; lastError: string | null } | undefined;
  lastRun:
    | {
        id: string;
        status: 'running' | 'ok' | 'partial' | 'failed';
        startedAt: Date;
        finishedAt: Date | null;
      }
    | undefined;
}

/** One word for a tenant's state, failing first: what the operator overview sorts by. */
export function healthStatus(input: HealthInputs): HealthStatus {
  const { tenant, destinations, vaikora, lastRun } = input;
  if (tenant.state === 'offboarded') return 'offboarded';
  const total = destinationStates.reduce((sum, state) => sum + destinations[state], 0);
  if (vaikora === undefined || total === 0) return 'unconfigured';
  if (vaikora.lastError !== null || destinations.disabled > 0 || lastRun?.status === 'failed')
    return 'failing';
  if (destinations.degraded > 0 || lastRun?.status === 'partial') return 'degraded';
  if (destinations.verified + destinations.active === 0) return 'pending';
  return 'healthy';
}

/**
 * Health of each tenant of a page, in three queries whatever the page size (destination counts,
 * Vaikora settings, each tenant's latest run), all filtered by the page's tenant ids.
 */
export async function healthOf(db: Database, page: Tenant[]): Promise<Map<string, Health>> {
  const ids = page.map((tenant) => tenant.id);
  const out = new Map<string, Health>();
  if (ids.length === 0) return out;
  const [destinationRows, vaikoraRows, runRows] = await Promise.all([
    db
      .select({ tenantId: awsDestinations.tenantId, state: awsDestinations.state, n: count() })
      .from(awsDestinations)
      .where(inArray(awsDestinations.tenantId, ids))
      .groupBy(awsDestinations.tenantId, awsDestinations.state),
    db
      .select({
        tenantId: vaikoraSettings.tenantId,
        verifiedAt: vaikoraSettings.verifiedAt,
        lastError: vaikoraSettings.lastError,
      })
      .from(vaikoraSettings)
      .where(inArray(vaikoraSettings.tenantId, ids)),
    db
      .selectDistinctOn([runs.tenantId], {
        tenantId: runs.tenantId,
        id: runs.id,
        status: runs.status,
        startedAt: runs.startedAt,
        finishedAt: runs.finishedAt,
      })
      .from(runs)
      .where(inArray(runs.tenantId, ids))
      .orderBy(runs.tenantId, desc(runs.startedAt)),
  ]);
  for (const tenant of page) {
    const destinations = Object.fromEntries(destinationStates.map((state) => [state, 0])) as Record<
      DestinationState,
      number
    >;
    for (const row of destinationRows) if (row.tenantId === tenant.id) destinations[row.state] = row.n;
    const vaikora = vaikoraRows.find((row) => row.tenantId === tenant.id);
    const lastRun = runRows.find((row) => row.tenantId === tenant.id);
    out.set(tenant.id, {
      status: healthStatus({ tenant, destinations, vaikora, lastRun }),
      destinations,
      vaikora: {
        configured: vaikora !== undefined,
        verifiedAt: iso(vaikora?.verifiedAt ?? null),
        lastError: vaikora?.lastError ?? null,
      },
      lastRun:
        lastRun === undefined
          ? null
          : {
              id: lastRun.id,
              status: lastRun.status,
              startedAt: iso(lastRun.startedAt),
              finishedAt: iso(lastRun.finishedAt),
            },
    });
  }
  return out;
}
