import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import type { Logger } from 'drizzle-orm/logger';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema/index.ts';

export type Schema = typeof schema;

/**
 * The one database type every caller uses, whichever driver is underneath. Both drivers' databases are
 * `PgDatabase`s; only the raw result shape of `db.execute()` differs, so callers use the query builder
 * (or read `execute()` results with `rowsOf`). In raw `sql` templates pass times as ISO strings: drizzle
 * turns off postgres-js's own Date serializer, so a bare `Date` parameter fails there (the query builder
 * maps `Date`s itself and is unaffected).
 */
export type Database = PgDatabase<PgQueryResultHKT, Schema>;

/** A transaction handle of `Database`, for functions that must run inside one. */
export type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];

export type CreateDbOptions =
  | {
      kind: 'postgres';
      url: string;
      max?: number;
      /** Sees every statement drizzle sends, with its parameters (the query-plan tests read them). */
      logger?: Logger;
    }
  | { kind: 'pglite'; dataDir: string | 'memory' };

export interface DbHandle {
  db: Database;
  kind: CreateDbOptions['kind'];
  /** Closes the pool (postgres) or the embedded database (pglite); the handle is unusable afterwards. */
  close(): Promise<void>;
}

/** Opens a database: PostgreSQL through postgres-js, or embedded PGlite in memory or in a data folder. */
export async function createDb(options: CreateDbOptions): Promise<DbHandle> {
  if (options.kind === 'postgres') {
    const max = options.max ?? 10;
    // `migrate` holds an advisory lock on one pooled connection while it migrates on another.
    if (!Number.isInteger(max) || max < 2) throw new RangeError('createDb: max must be an integer >= 2');
    const client = postgres(options.url, {
      max,
      // Postgres NOTICEs ("relation already exists, skipping") are noise for a service's log.
      onnotice: () => {},
      // Off: the driver's array-type catalog query runs first on every new connection, and when it
      // fails (a cut, a statement timeout, a terminated backend) its error is also handed to the
      // caller's first query, which did nothing wrong (porsager/postgres#1223); its promise was not
      // even awaited until patches/postgres@3.4.9.patch (#1192, #1205). drizzle reads and writes
      // array columns in PostgreSQL's text form itself, so nothing here needs those parsers, and each
      // new connection saves a round trip. connection-faults.int.test.ts; ADR 0111.
      fetch_types: false,
    });
    const db = drizzlePostgres({
      client,
      schema,
      ...(options.logger === undefined ? {} : { logger: options.logger }),
    });
    return { db, kind: 'postgres', close: () => client.end({ timeout: 5 }) };
  }
  const inMemory = options.dataDir === 'memory';
  if (!inMemory) mkdirSync(options.dataDir, { recursive: true });
  const client = inMemory ? new PGlite() : new PGlite(options.dataDir);
  await client.waitReady;
  const db = drizzlePglite({ client, schema });
  return { db, kind: 'pglite', close: () => client.close() };
}
