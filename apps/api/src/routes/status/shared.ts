import { z } from '@hono/zod-openapi';
import { runStatuses } from '@vsh/db';
import { timestamp } from '../../openapi.ts';

export { toRun } from '../../services/status.ts';

export const runSchema = z
  .object({
    id: z.string(),
    status: z.enum(runStatuses),
    startedAt: timestamp,
    finishedAt: timestamp.nullable(),
    quiet: z.boolean().openapi({
      description:
        'A quiet run: Vaikora had nothing new for the tenant, so it wrote and sent nothing and took no lease (every next run of an idle tenant is one).',
    }),
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
          skipped: z.number().int().openapi({ description: "Below the tenant's thresholds." }),
          read: z.number().int().optional().openapi({
            description:
              "Actions the destination's streams read, once per stream: read = alreadySent + otherAgent + skipped + rejected + imported + notSent (ADR 0100). Absent on runs recorded before.",
          }),
          alreadySent: z
            .number()
            .int()
            .optional()
            .openapi({ description: 'Handled by an earlier run; the overlap window read them again.' }),
          otherAgent: z.number().int().optional().openapi({
            description:
              "Named another agent than the stream's; that agent's own route delivers them (ADR 0098).",
          }),
          notSent: z
            .number()
            .int()
            .optional()
            .openapi({ description: 'Ready but not taken by Security Hub yet; the next run tries again.' }),
          lagSeconds: z.number().int().nullable().optional(),
          errorCode: z.string().nullable().optional(),
          errorMessage: z.string().nullable().optional(),
        }),
      )
      .openapi({ description: 'Per destination id: what this run did there.' }),
  })
  .openapi('Run');

/** A finished run as the API shows it: the example of the run schemas. */
export const RUN_EXAMPLE: z.infer<typeof runSchema> = {
  id: 'run_01jd0000000000000000000000',
  status: 'partial',
  startedAt: '2026-01-01T12:00:00.000Z',
  finishedAt: '2026-01-01T12:00:04.000Z',
  quiet: false,
  actionsRead: 283,
  findingsMapped: 3,
  findingsImported: 2,
  actionsSkipped: 9,
  recordsRejected: 8,
  throttles: 1,
  lagSeconds: 42,
  errorCode: 'IMPORT_INCOMPLETE',
  errorMessage: 'Security Hub did not take some findings yet: ThrottlingException',
  recentFindings: [
    {
      id: 'vaikora-act-8f14e45f',
      title: 'Vaikora: risky action by agent support-bot',
      severity: 'HIGH',
      time: '2026-01-01T11:59:30.000Z',
      region: 'us-east-1',
    },
  ],
  destinationStats: {
    dst_01jd0000000000000000000000: {
      imported: 2,
      rejected: 8,
      skipped: 9,
      read: 283,
      alreadySent: 263,
      otherAgent: 0,
      notSent: 1,
      lagSeconds: 42,
      errorCode: null,
      errorMessage: null,
    },
  },
};
