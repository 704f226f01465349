import { sql } from 'drizzle-orm';
import { check, index, pgTable, text } from 'drizzle-orm/pg-core';
import { apiKeys } from './api-keys.ts';
import { idColumn, timestamptz } from './columns.ts';
import { tenants } from './tenants.ts';

/**
 * A one-time sign-in link for the web pages: redeeming it starts a session as one API key of the tenant.
 * Only the SHA-256 of the link's random 256-bit token is kept, so reading this table does not let anyone
 * sign in. Revoking the key (checked at redemption) or deleting it or the tenant makes the link useless;
 * `used_at` is set by the one redemption that wins.
 */
export const webSignInLinks = pgTable(
  'web_sign_in_links',
  {
    id: idColumn('lnk'),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    apiKeyId: text('api_key_id')
      .notNull()
      .references(() => apiKeys.id, { onDelete: 'cascade' }),
    /** Hex SHA-256 of the token. */
    tokenHash: text('token_hash').notNull().unique('web_sign_in_links_token_hash_unique'),
    createdAt: timestamptz('created_at').notNull(),
    expiresAt: timestamptz('expires_at').notNull(),
    usedAt: timestamptz('used_at'),
  },
  (t) => [
    index('web_sign_in_links_tenant_id_idx').on(t.tenantId),
    index('web_sign_in_links_api_key_id_idx').on(t.apiKeyId),
    index('web_sign_in_links_expires_at_idx').on(t.expiresAt),
    check('web_sign_in_links_token_hash_check', sql`${t.tokenHash} ~ '^[0-9a-f]{64}$'`),
    check('web_sign_in_links_expiry_check', sql`${t.expiresAt} > ${t.createdAt}`),
  ],
);

export type WebSignInLink = typeof webSignInLinks.$inferSelect;
export type NewWebSignInLink = typeof webSignInLinks.$inferInsert;
