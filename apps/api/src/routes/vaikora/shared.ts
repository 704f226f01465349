import { z } from '@hono/zod-openapi';
import { thresholdsSchema } from '@vsh/core';
import type { VaikoraSettings } from '@vsh/db';
import { iso, timestamp } from '../../openapi.ts';

export const vaikoraSettingsSchema = z
  .object({
    tenantId: z.string(),
    baseUrl: z.string(),
    agentIds: z.array(z.string()),
    thresholds: thresholdsSchema,
    pollIntervalSeconds: z.number().int(),
    timeFilterParam: z.string().nullable(),
    apiKeySet: z
      .literal(true)
      .openapi({ description: 'A key is stored (encrypted). The key is never returned.' }),
    verifiedAt: timestamp.nullable(),
    lastError: z.string().nullable(),
    updatedAt: timestamp,
  })
  .openapi('VaikoraSettings');

/** Vaikora settings as the API shows them: no part of the key. */
export function toVaikoraSettings(row: VaikoraSettings): z.infer<typeof vaikoraSettingsSchema> {
  return {
    tenantId: row.tenantId,
    baseUrl: row.baseUrl,
    agentIds: row.agentIds,
    thresholds: thresholdsSchema.parse(row.thresholds),
    pollIntervalSeconds: row.pollIntervalSeconds,
    timeFilterParam: row.timeFilterParam,
    apiKeySet: true,
    verifiedAt: iso(row.verifiedAt),
    lastError: row.lastError,
    updatedAt: iso(row.updatedAt),
  };
}
