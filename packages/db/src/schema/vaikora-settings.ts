import { sql } from 'drizzle-orm';
import { check, integer, jsonb, pgTable, text } from 'drizzle-orm/pg-core';
import { jsonbArray, timestamps, timestamptz } from './columns.ts';
import { tenants } from './tenants.ts';

export type RiskLevel = 'low' | 'medium' | 'high' | 'critical';

/**
 * Which actions become findings for one tenant (see docs/vaikora-api.md, "Which actions become findings"); the
 * shape `thresholdsSchema` of @vsh/core validates and writes (`null` turns a rule off). Rows written
 * before `minRiskScore` existed lack it, which means the same as `null`.
 */
export interface VaikoraThresholds {
  minRiskLevel: RiskLevel | null;
  includeAnomalies: boolean;
  includeThreats: boolean;
  minRiskScore?: number | null;
  /** The lowest severity a confirmed threat's finding gets; rows written before it existed mean HIGH. */
  threatSeverityFloor?: 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL';
}

export const defaultThresholds: VaikoraThresholds = {
  minRiskLevel: 'high',
  includeAnomalies: true,
  includeThreats: true,
};

/**
 * One tenant's Vaikora connection. The API key is stored only as a sealed envelope from `@vsh/secrets`;
 * no part of it (not even the last four characters) is kept in clear. `api_key_key_id` repeats the master
 * key id from inside the envelope so a rotation can find the rows still sealed under an old key.
 */
export const vaikoraSettings = pgTable(
  'vaikora_settings',
  {
    tenantId: text('tenant_id')
      .primaryKey()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    baseUrl: text('base_url').notNull(),
    agentIds: jsonb('agent_ids').$type<string[]>().notNull().default([]),
    thresholds: jsonb('thresholds').$type<VaikoraThresholds>().notNull().default(defaultThresholds),
    pollIntervalSeconds: integer('poll_interval_seconds').notNull().default(300),
    timeFilterParam: text('time_filter_param'),
    apiKeyCiphertext: text('api_key_ciphertext').notNull(),
    apiKeyKeyId: text('api_key_key_id').notNull(),
    verifiedAt: timestamptz('verified_at'),
    lastError: text('last_error'),
    ...timestamps(),
  },
  (t) => [
    check('vaikora_settings_poll_interval_check', sql`${t.pollIntervalSeconds} >= 60`),
    check('vaikora_settings_agent_ids_check', jsonbArray(t.agentIds)),
    check('vaikora_settings_thresholds_check', sql`jsonb_typeof(${t.thresholds}) = 'object'`),
    check('vaikora_settings_base_url_check', sql`${t.baseUrl} ~ '^https?://'`),
  ],
);

export type VaikoraSettings = typeof vaikoraSettings.$inferSelect;
export type NewVaikoraSettings = typeof vaikoraSettings.$inferInsert;
