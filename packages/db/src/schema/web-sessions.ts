import { sql } from 'drizzle-orm';
import { bigint, check, index, integer, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { apiKeys } from './api-keys.ts';
import { timestamptz } from './columns.ts';
import { tenants } from './tenants.ts';

/**
 * A signed-in browser of the web pages (ADR 0091), shared by every API instance. The cookie carries a
 * random 256-bit token; only its SHA-256 is kept, so reading this table does not let anyone sign in.
 * A tenant session names the key it signed in with (honoured only while that key is unrevoked and its
 * tenant active, and deleted with them); an operator session names the operator key by a tag, so a
 * rotated operator key ends the sessions of the old one. A row exists only while the session may be
 * live: signing out, the per-key cap and the lazy sweep of expired rows delete it.
 */
export const webSessions = pgTable(
  'web_sessions',
  {
    /** Hex SHA-256 of the session token. */
    id: text('id').primaryKey(),
    /** Creation order across instances (sign-in times can tie), for ending a key's oldest sessions. */
    seq: bigint('seq', { mode: 'number' }).generatedAlwaysAsIdentity(),
    tenantId: text('tenant_id').references(() => tenants.id, { onDelete: 'cascade' }),
    apiKeyId: text('api_key_id').references(() => apiKeys.id, { onDelete: 'cascade' }),
    /** Hex SHA-256 of a label and the operator key that signed in; null for a tenant session. */
    operatorKeyTag: text('operator_key_tag'),
    createdAt: timestamptz('created_at').notNull(),
    /** Refreshed at most once a minute per session, not on every request. */
    lastSeenAt: timestamptz('last_seen_at').notNull(),
    /** When it ends unless used again: the earlier of last use + idle timeout and sign-in + absolute lifetime. */
    expiresAt: timestamptz('expires_at').notNull(),
  },
  (t) => [
    // The per-key cap: a key's (or, with a null key, the operator's) sessions newest first.
    index('web_sessions_api_key_seq_idx').on(t.apiKeyId, t.seq.desc()),
    index('web_sessions_tenant_id_idx').on(t.tenantId),
    index('web_sessions_expires_at_idx').on(t.expiresAt),
    check('web_sessions_id_check', sql`${t.id} ~ '^[0-9a-f]{64}$'`),
    check(
      'web_sessions_principal_check',
      sql`(${t.apiKeyId} is not null and ${t.tenantId} is not null and ${t.operatorKeyTag} is null) or (${t.apiKeyId} is null and ${t.tenantId} is null and ${t.operatorKeyTag} ~ '^[0-9a-f]{64}$')`,
    ),
  ],
);

/**
 * Successful web sign-ins per client per minute (a fixed window), counted in the database so that the
 * limit holds across API instances. `client` is the hex SHA-256 of the source address and the key id;
 * rows older than the current window are swept on sign-in.
 */
export const webSignIns = pgTable(
  'web_sign_ins',
  {
    client: text('client').notNull(),
    windowStart: timestamptz('window_start').notNull(),
    count: integer('count').notNull().default(1),
  },
  (t) => [
    primaryKey({ name: 'web_sign_ins_pkey', columns: [t.client, t.windowStart] }),
    index('web_sign_ins_window_start_idx').on(t.windowStart),
    check('web_sign_ins_client_check', sql`${t.client} ~ '^[0-9a-f]{64}$'`),
    check('web_sign_ins_count_check', sql`${t.count} >= 1`),
  ],
);

export type WebSession = typeof webSessions.$inferSelect;
export type NewWebSession = typeof webSessions.$inferInsert;
