import { type RouteHandler, z } from '@hono/zod-openapi';
import { rejectionStages } from '@vsh/db';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { pageQuerySchema, pageResponse } from '../../lib/pagination.ts';
import { defineRoute, iso, tenantIdParam, timestamp, withExample } from '../../openapi.ts';
import { rawTruncated, rejectedPage } from '../../services/status.ts';

const rejectedRecordSchema = z
  .object({
    id: z.string(),
    scope: z.string().openapi({
      description:
        'Where it was rejected, the key it is kept once under: a destination id, `agent:<agentId>` for a record rejected while reading (before any destination), or `tenant`.',
    }),
    fingerprint: z
      .string()
      .openapi({ description: 'Identity of the record within its scope (sha256, base64url).' }),
    destinationId: z.string().nullable(),
    runId: z.string().nullable().openapi({ description: 'The run that first kept it.' }),
    lastRunId: z.string().nullable().openapi({ description: 'The latest run that saw it.' }),
    actionId: z.string().nullable(),
    stage: z.enum(rejectionStages),
    code: z.string(),
    reason: z.string(),
    raw: z.string().nullable().openapi({
      description:
        'The record as received, as text: its JSON, or the reader’s own text of a record it could not parse. NUL, other control characters and lone surrogates are written as \\u escapes. At most 8 KiB: the start of the text when rawTruncated. Null when there was no record or it could not be stored (see rawUnstoredReason).',
    }),
    rawBytes: z
      .number()
      .int()
      .nullable()
      .openapi({ description: 'UTF-8 size of the whole text, of which raw is the start.' }),
    rawTruncated: z.boolean().openapi({ description: 'Whether raw is only the start of the record.' }),
    rawUnstoredReason: z
      .string()
      .nullable()
      .openapi({ description: 'Why raw is null although there was a record.' }),
    occurrences: z
      .number()
      .int()
      .openapi({ description: 'How many recordings (runs, backfill pages) saw this record.' }),
    firstSeenAt: timestamp,
    lastSeenAt: timestamp,
    createdAt: timestamp.openapi({ description: 'Same as firstSeenAt (kept for older clients).' }),
  })
  .openapi('RejectedRecord');

/** GET /v1/tenants/{tenantId}/rejected-records: its schemas, access and documented answers. */
export const route = defineRoute('tenant', {
  method: 'get',
  path: '/tenants/{tenantId}/rejected-records',
  operationId: 'listRejectedRecords',
  tags: ['status'],
  summary:
    'Records that could not become findings, each once per stream, with their reasons and how often they were seen, most recently seen first',
  request: {
    params: z.object({ tenantId: tenantIdParam }),
    query: pageQuerySchema,
  },
  responses: {
    200: withExample(pageResponse('A page of rejected records.', rejectedRecordSchema), {
      items: [
        {
          id: 'rej_01jd0000000000000000000000',
          scope: 'dst_01jd0000000000000000000000',
          fingerprint: 'q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1c',
          destinationId: 'dst_01jd0000000000000000000000',
          runId: 'run_01jd0000000000000000000000',
          lastRunId: 'run_01jd0000000000000000000000',
          actionId: 'act-8f14e45f',
          stage: 'validate',
          code: 'INVALID_FINDING',
          reason: 'Title: must not be empty',
          raw: '{"id":"act-8f14e45f","agent_id":"support-bot","action_type":""}',
          rawBytes: 62,
          rawTruncated: false,
          rawUnstoredReason: null,
          occurrences: 3,
          firstSeenAt: '2026-01-01T11:00:00.000Z',
          lastSeenAt: '2026-01-01T12:00:00.000Z',
          createdAt: '2026-01-01T11:00:00.000Z',
        },
      ],
      nextCursor: null,
    }),
  },
});

/** The handler of GET /v1/tenants/{tenantId}/rejected-records, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => {
    const { limit, cursor } = c.req.valid('query');
    const page = await rejectedPage(deps.db, c.get('tenant').id, cursor, limit);
    return c.json(
      {
        items: page.items.map((row) => ({
          id: row.id,
          scope: row.scope,
          fingerprint: row.fingerprint,
          destinationId: row.destinationId,
          runId: row.runId,
          lastRunId: row.lastRunId,
          actionId: row.actionId,
          stage: row.stage,
          code: row.code,
          reason: row.reason,
          raw: row.raw,
          rawBytes: row.rawBytes,
          rawTruncated: rawTruncated(row),
          rawUnstoredReason: row.rawUnstoredReason,
          occurrences: row.occurrences,
          firstSeenAt: iso(row.createdAt),
          lastSeenAt: iso(row.lastSeenAt),
          createdAt: iso(row.createdAt),
        })),
        nextCursor: page.nextCursor,
      },
      200,
    );
  };
}
