import { z } from '@hono/zod-openapi';
import { type Run, runStatuses } from '@vsh/db';
import { iso, timestamp } from '../../openapi.ts';

export const runSchema = z
  .object({
    id: z.string(),
    status: z.enum(runStatuses),
    startedAt: timestamp,
    finishedAt: timestamp.nullable(),
    actionsRead: z.number().int(),
    findingsMapped: z.number().int(),
    findingsImported: z.number().int(),
    actionsSkipped: z.number().int(),
    recordsRejected: z.number().int(),
    throttles: z.number().int(),
    lagSeconds: z
      .number()
      .int()
      .nullable()
      .openapi({ description: 'How far behind Vaikora the cursors were at the end of the run.' }),
    errorCode: z.string().nullable(),
    errorMessage: z.string().nullable(),
    recentFindings: z.array(
      z.object({
        id: z.string(),
        title: z.string(),
        severity: z.string(),
        time: z.string(),
        region: z.string(),
      }),
    ),
    destinationStats: z
      .record(
        z.string(),
        z.object({
          imported: z.number().int(),
          rejected: z.number().int(),
          skipped: z.number().int(),
          lagSeconds: z.number().int().nullable().optional(),
          errorCode: z.string().nullable().optional(),
          errorMessage: z.string().nullable().optional(),
        }),
      )
      .openapi({ description: 'Per destination id: what this run did there.' }),
  })
  .openapi('Run');

/** A run row as the API shows it. */
export function toRun(row: Run): z.infer<typeof runSchema> {
  return {
    id: row.id,
    status: row.status,
    startedAt: iso(row.startedAt),
    finishedAt: iso(row.finishedAt),
    actionsRead: row.actionsRead,
    findingsMapped: row.findingsMapped,
    findingsImported: row.findingsImported,
    actionsSkipped: row.actionsSkipped,
    recordsRejected: row.recordsRejected,
    throttles: row.throttles,
    lagSeconds: row.lagSeconds,
    errorCode: row.errorCode,
    errorMessage: row.errorMessage,
    recentFindings: row.recentFindings,
    destinationStats: row.destinationStats,
  };
}
