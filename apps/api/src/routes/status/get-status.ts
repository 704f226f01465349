import { type RouteHandler, z } from '@hono/zod-openapi';
import {
  awsDestinations,
  type DestinationRunStats,
  destinationStates,
  type RunStatus,
  rejectedRecords,
  runStatuses,
  runs,
  streams,
  type Tenant,
  tenantSchedules,
  tenantStates,
  vaikoraSettings,
} from '@vsh/db';
import { and, asc, count, desc, eq, gte, sql, sum } from 'drizzle-orm';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { defineRoute, iso, jsonResponse, tenantIdParam, timestamp } from '../../openapi.ts';
import { RUN_EXAMPLE, runSchema, toRun } from './shared.ts';

const WINDOW_HOURS = 24;

const countsSchema = z.object({
  imported: z.number().int(),
  rejected: z.number().int(),
  skipped: z.number().int(),
});

export const statusSchema = z
  .object({
    tenantId: z.string(),
    state: z.enum(tenantStates),
    windowHours: z.number().int().openapi({ description: 'The window the counts cover.' }),
    schedule: z
      .object({
        nextRunAt: timestamp,
        runRequestedAt: timestamp.nullable(),
        lastRunStartedAt: timestamp.nullable(),
        lastRunFinishedAt: timestamp.nullable(),
      })
      .nullable(),
    vaikora: z.object({
      configured: z.boolean(),
      verifiedAt: timestamp.nullable(),
      lastError: z.string().nullable(),
    }),
    lastRun: runSchema.nullable(),
    cursorLagSeconds: z
      .number()
      .int()
      .nullable()
      .openapi({ description: 'Lag at the end of the last finished run.' }),
    counts: countsSchema.extend({ runs: z.number().int(), failedRuns: z.number().int() }),
    destinations: z.array(
      z.object({
        id: z.string(),
        accountId: z.string(),
        regions: z.array(z.string()),
        state: z.enum(destinationStates),
        lastVerifiedAt: timestamp.nullable(),
        lastError: z.string().nullable(),
        consecutiveFailures: z.number().int(),
        streams: z.number().int(),
        counts: countsSchema.openapi({ description: "From the runs' per-destination stats in the window." }),
        lastRun: z
          .object({ id: z.string(), status: z.enum(runStatuses), startedAt: timestamp })
          .nullable()
          .openapi({ description: 'The latest run in the window that reached this destination.' }),
        cursorLagSeconds: z.number().int().nullable(),
        lastRunError: z.string().nullable(),
        rejectedRecords: z
          .number()
          .int()
          .openapi({ description: 'Rejected records kept for this destination in the window.' }),
      }),
    ),
  })
  .openapi('TenantStatus');

/** GET /v1/tenants/{tenantId}/status: its schemas, access and documented answers. */
export const route = defineRoute('tenant', {
  method: 'get',
  path: '/tenants/{tenantId}/status',
  operationId: 'getTenantStatus',
  tags: ['status'],
  summary: 'Ingestion status: destinations and their states, last run, cursor lag, counts, last errors',
  request: { params: z.object({ tenantId: tenantIdParam }) },
  responses: {
    200: jsonResponse('The status.', statusSchema, {
      tenantId: 'ten_01jd0000000000000000000000',
      state: 'active',
      windowHours: 24,
      schedule: {
        nextRunAt: '2026-01-01T12:05:00.000Z',
        runRequestedAt: null,
        lastRunStartedAt: '2026-01-01T12:00:00.000Z',
        lastRunFinishedAt: '2026-01-01T12:00:04.000Z',
      },
      vaikora: { configured: true, verifiedAt: '2026-01-01T09:00:00.000Z', lastError: null },
      lastRun: RUN_EXAMPLE,
      cursorLagSeconds: 42,
      counts: { runs: 288, failedRuns: 0, imported: 1204, rejected: 8, skipped: 5120 },
      destinations: [
        {
          id: 'dst_01jd0000000000000000000000',
          accountId: '123456789012',
          regions: ['us-east-1'],
          state: 'active',
          lastVerifiedAt: '2026-01-01T09:10:00.000Z',
          lastError: null,
          consecutiveFailures: 0,
          streams: 1,
          counts: { imported: 1204, rejected: 8, skipped: 5120 },
          lastRun: {
            id: 'run_01jd0000000000000000000000',
            status: 'partial',
            startedAt: '2026-01-01T12:00:00.000Z',
          },
          cursorLagSeconds: 42,
          lastRunError: null,
          rejectedRecords: 8,
        },
      ],
    }),
  },
});

// At one run a minute, a day is 1,440 runs; the cap bounds the work if a worker misbehaves.
const MAX_WINDOW_RUNS = 2_000;

interface WindowRun {
  id: string;
  status: RunStatus;
  startedAt: Date;
  destinationStats: Record<string, DestinationRunStats>;
}

/** A destination's counts, latest run, lag and error, from the per-destination stats of the window's runs (newest first). */
function destinationActivity(windowRuns: WindowRun[], destinationId: string) {
  const counts = { imported: 0, rejected: 0, skipped: 0 };
  let latest: { run: WindowRun; stats: DestinationRunStats } | undefined;
  for (const run of windowRuns) {
    const stats = run.destinationStats[destinationId];
    if (stats === undefined) continue;
    counts.imported += stats.imported;
    counts.rejected += stats.rejected;
    counts.skipped += stats.skipped;
    latest ??= { run, stats };
  }
  const error = latest?.stats.errorCode ?? null;
  return {
    counts,
    lastRun:
      latest === undefined
        ? null
        : { id: latest.run.id, status: latest.run.status, startedAt: latest.run.startedAt.toISOString() },
    cursorLagSeconds: latest?.stats.lagSeconds ?? null,
    lastRunError: error === null ? null : `${error}: ${latest?.stats.errorMessage ?? ''}`.trim(),
  };
}

const asInt = (value: string | number | null | undefined): number => Number(value ?? 0);

/** A tenant's ingestion status, as GET /status answers it (shared by the route and the status page). */
export async function tenantStatus(deps: ApiDeps, tenant: Tenant): Promise<z.infer<typeof statusSchema>> {
  const since = new Date(deps.clock().getTime() - WINDOW_HOURS * 3_600_000);
  const [
    [schedule],
    [vaikora],
    [lastRun],
    [lastFinished],
    [totals],
    destinations,
    streamCounts,
    rejectedCounts,
    windowRuns,
  ] = await Promise.all([
    deps.db.select().from(tenantSchedules).where(eq(tenantSchedules.tenantId, tenant.id)).limit(1),
    deps.db
      .select({ verifiedAt: vaikoraSettings.verifiedAt, lastError: vaikoraSettings.lastError })
      .from(vaikoraSettings)
      .where(eq(vaikoraSettings.tenantId, tenant.id))
      .limit(1),
    deps.db.select().from(runs).where(eq(runs.tenantId, tenant.id)).orderBy(desc(runs.startedAt)).limit(1),
    deps.db
      .select({ lagSeconds: runs.lagSeconds })
      .from(runs)
      .where(and(eq(runs.tenantId, tenant.id), sql`${runs.finishedAt} is not null`))
      .orderBy(desc(runs.finishedAt))
      .limit(1),
    deps.db
      .select({
        runs: count(),
        failedRuns: sum(sql`case when ${runs.status} = 'failed' then 1 else 0 end`),
        imported: sum(runs.findingsImported),
        rejected: sum(runs.recordsRejected),
        skipped: sum(runs.actionsSkipped),
      })
      .from(runs)
      .where(and(eq(runs.tenantId, tenant.id), gte(runs.startedAt, since))),
    deps.db
      .select()
      .from(awsDestinations)
      .where(eq(awsDestinations.tenantId, tenant.id))
      .orderBy(asc(awsDestinations.id)),
    deps.db
      .select({ destinationId: streams.destinationId, n: count() })
      .from(streams)
      .where(and(eq(streams.tenantId, tenant.id), eq(streams.enabled, true)))
      .groupBy(streams.destinationId),
    deps.db
      .select({ destinationId: rejectedRecords.destinationId, n: count() })
      .from(rejectedRecords)
      .where(and(eq(rejectedRecords.tenantId, tenant.id), gte(rejectedRecords.createdAt, since)))
      .groupBy(rejectedRecords.destinationId),
    deps.db
      .select({
        id: runs.id,
        status: runs.status,
        startedAt: runs.startedAt,
        destinationStats: runs.destinationStats,
      })
      .from(runs)
      .where(and(eq(runs.tenantId, tenant.id), gte(runs.startedAt, since)))
      .orderBy(desc(runs.startedAt))
      .limit(MAX_WINDOW_RUNS),
  ]);
  return {
    tenantId: tenant.id,
    state: tenant.state,
    windowHours: WINDOW_HOURS,
    schedule:
      schedule === undefined
        ? null
        : {
            nextRunAt: iso(schedule.nextRunAt),
            runRequestedAt: iso(schedule.runRequestedAt),
            lastRunStartedAt: iso(schedule.lastRunStartedAt),
            lastRunFinishedAt: iso(schedule.lastRunFinishedAt),
          },
    vaikora: {
      configured: vaikora !== undefined,
      verifiedAt: iso(vaikora?.verifiedAt ?? null),
      lastError: vaikora?.lastError ?? null,
    },
    lastRun: lastRun === undefined ? null : toRun(lastRun),
    cursorLagSeconds: lastFinished?.lagSeconds ?? null,
    counts: {
      runs: asInt(totals?.runs),
      failedRuns: asInt(totals?.failedRuns),
      imported: asInt(totals?.imported),
      rejected: asInt(totals?.rejected),
      skipped: asInt(totals?.skipped),
    },
    destinations: destinations.map((row) => ({
      id: row.id,
      accountId: row.accountId,
      regions: row.regions,
      state: row.state,
      lastVerifiedAt: iso(row.lastVerifiedAt),
      lastError: row.lastError,
      consecutiveFailures: row.consecutiveFailures,
      streams: streamCounts.find((s) => s.destinationId === row.id)?.n ?? 0,
      ...destinationActivity(windowRuns, row.id),
      rejectedRecords: rejectedCounts.find((r) => r.destinationId === row.id)?.n ?? 0,
    })),
  };
}

/** The handler of GET /v1/tenants/{tenantId}/status, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => c.json(await tenantStatus(deps, c.get('tenant')), 200);
}
