import { type RouteHandler, z } from '@hono/zod-openapi';
import { type Database, type RejectedRecord, rejectedRecords, rejectionStages } from '@vsh/db';
import { and, desc, eq } from 'drizzle-orm';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { olderThan, pageOf, pageQuerySchema, pageResponse } from '../../lib/pagination.ts';
import { defineRoute, iso, tenantIdParam, timestamp } from '../../openapi.ts';

const rejectedRecordSchema = z
  .object({
    id: z.string(),
    destinationId: z.string().nullable(),
    runId: z.string().nullable(),
    actionId: z.string().nullable(),
    stage: z.enum(rejectionStages),
    code: z.string(),
    reason: z.string(),
    raw: z.unknown().openapi({ description: 'The record as received (bounded; large ones are truncated).' }),
    createdAt: timestamp,
  })
  .openapi('RejectedRecord');

/** GET /v1/tenants/{tenantId}/rejected-records: its schemas, access and documented answers. */
export const route = defineRoute('tenant', {
  method: 'get',
  path: '/tenants/{tenantId}/rejected-records',
  tags: ['status'],
  summary: 'Records that could not become findings, with their reasons, newest first',
  request: {
    params: z.object({ tenantId: tenantIdParam }),
    query: pageQuerySchema,
  },
  responses: {
    200: pageResponse('A page of rejected records.', rejectedRecordSchema),
  },
});

/** A page of a tenant's rejected records, newest first, after an opaque cursor (the API's and the status page's). */
export async function rejectedPage(
  db: Database,
  tenantId: string,
  cursor: string | undefined,
  limit: number,
): Promise<{ items: RejectedRecord[]; nextCursor: string | null }> {
  const rows = await db
    .select()
    .from(rejectedRecords)
    .where(and(eq(rejectedRecords.tenantId, tenantId), olderThan(rejectedRecords.id, cursor)))
    .orderBy(desc(rejectedRecords.id))
    .limit(limit + 1);
  return pageOf(rows, limit);
}

/** The handler of GET /v1/tenants/{tenantId}/rejected-records, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const tenant = c.get('tenant');
    const { limit, cursor } = c.req.valid('query');
    const page = await rejectedPage(deps.db, tenant.id, cursor, limit);
    return c.json(
      {
        items: page.items.map((row) => ({
          id: row.id,
          destinationId: row.destinationId,
          runId: row.runId,
          actionId: row.actionId,
          stage: row.stage,
          code: row.code,
          reason: row.reason,
          raw: row.raw,
          createdAt: iso(row.createdAt),
        })),
        nextCursor: page.nextCursor,
      },
      200,
    );
  };
}
