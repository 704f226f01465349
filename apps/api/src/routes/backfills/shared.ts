import { z } from '@hono/zod-openapi';
import { type Backfill, backfillStates } from '@vsh/db';
import { iso, timestamp } from '../../openapi.ts';

export const backfillIdParam = z
  .string()
  .regex(/^bkf_[0-9a-hjkmnp-tv-z]{26}$/, 'must be a backfill id (bkf_...)')
  .openapi({ param: { name: 'backfillId', in: 'path' }, example: 'bkf_01jd0000000000000000000000' });

export const backfillSchema = z
  .object({
    id: z.string(),
    tenantId: z.string(),
    destinationId: z.string().nullable(),
    from: timestamp,
    to: timestamp,
    state: z.enum(backfillStates),
    progressPercent: z
      .number()
      .int()
      .openapi({ description: 'An estimate from how far the sweeps have come.' }),
    pages: z.number().int(),
    actionsRead: z
      .number()
      .int()
      .openapi({ description: 'Every action read, including those outside the range.' }),
    actionsInRange: z.number().int(),
    findingsImported: z.number().int().openapi({ description: 'Findings sent (new or replaced in place).' }),
    recordsRejected: z.number().int(),
    actionsSkipped: z.number().int().openapi({ description: 'Below the tenant thresholds.' }),
    errorCode: z.string().nullable(),
    errorMessage: z.string().nullable(),
    createdAt: timestamp,
    startedAt: timestamp.nullable(),
    finishedAt: timestamp.nullable(),
  })
  .openapi('Backfill');

/** A backfill as the examples of the OpenAPI document show it. */
export const BACKFILL_EXAMPLE = {
  id: 'bkf_01jd0000000000000000000000',
  tenantId: 'ten_01jd0000000000000000000000',
  destinationId: null,
  from: '2026-01-01T00:00:00.000Z',
  to: '2026-01-02T00:00:00.000Z',
  state: 'queued',
  progressPercent: 0,
  pages: 0,
  actionsRead: 0,
  actionsInRange: 0,
  findingsImported: 0,
  recordsRejected: 0,
  actionsSkipped: 0,
  errorCode: null,
  errorMessage: null,
  createdAt: '2026-01-02T09:00:00.000Z',
  startedAt: null,
  finishedAt: null,
} satisfies z.infer<typeof backfillSchema>;

/** A backfill row as the API shows it. */
export function toBackfill(row: Backfill): z.infer<typeof backfillSchema> {
  return {
    id: row.id,
    tenantId: row.tenantId,
    destinationId: row.destinationId,
    from: iso(row.fromAt),
    to: iso(row.toAt),
    state: row.state,
    progressPercent: row.progressPercent,
    pages: row.pages,
    actionsRead: row.actionsRead,
    actionsInRange: row.actionsInRange,
    findingsImported: row.findingsImported,
    recordsRejected: row.recordsRejected,
    actionsSkipped: row.actionsSkipped,
    errorCode: row.errorCode,
    errorMessage: row.errorMessage,
    createdAt: iso(row.createdAt),
    startedAt: iso(row.startedAt),
    finishedAt: iso(row.finishedAt),
  };
}
