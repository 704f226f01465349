import { sql } from 'drizzle-orm';
import { check, index, pgTable, text } from 'drizzle-orm/pg-core';
import { idColumn, timestamptz } from './columns.ts';
import { tenants } from './tenants.ts';

/**
 * Keys for the control-plane API. Only the lookup prefix (e.g. the first 12 characters, `vsh_live_xxx`)
 * and the SHA-256 of the whole key are kept. A key is high-entropy random data, not a password, so a
 * slow hash (scrypt, argon2) buys nothing against brute force and costs every request; SHA-256 is what
 * Unkey and GitHub do. A null tenant means an operator key that is not bound to one tenant.
 */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: idColumn('key'),
    tenantId: text('tenant_id').references(() => tenants.id, { onDelete: 'cascade' }),
    prefix: text('prefix').notNull().unique('api_keys_prefix_unique'),
    hash: text('hash').notNull(),
    name: text('name').notNull(),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    lastUsedAt: timestamptz('last_used_at'),
    revokedAt: timestamptz('revoked_at'),
  },
  (t) => [
    index('api_keys_tenant_id_idx').on(t.tenantId),
    check('api_keys_hash_check', sql`${t.hash} ~ '^[0-9a-f]{64}$'`),
  ],
);

export type ApiKey = typeof apiKeys.$inferSelect;
export type NewApiKey = typeof apiKeys.$inferInsert;
