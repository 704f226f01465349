import { type RouteHandler, z } from '@hono/zod-openapi';
import { destinationStates, runStatuses, tenantStates } from '@vsh/db';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { defineRoute, jsonResponse, tenantIdParam, timestamp } from '../../openapi.ts';
import { tenantStatus } from '../../services/status.ts';
import { RUN_EXAMPLE, runSchema } from './shared.ts';

const countsSchema = z.object({
  imported: z.number().int(),
  rejected: z.number().int(),
  skipped: z.number().int(),
});

const statusSchema = z
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

/** The handler of GET /v1/tenants/{tenantId}/status, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const tenant = c.get('tenant');
    const load = () => tenantStatus(deps, tenant);
    // Up to a second old, as the tenant row itself (ADR 0113).
    return c.json((await deps.tenantReadCache?.read(tenant.id, 'status', load)) ?? (await load()), 200);
  };
}
