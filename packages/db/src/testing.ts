import { randomBytes } from 'node:crypto';
import type { Logger } from 'drizzle-orm/logger';
import postgres from 'postgres';
import { createDb, type Database } from './client.ts';
import { migrate } from './migrate.ts';

export interface TestDatabase {
  /** Connection URL of the new database, for code under test that opens its own pool. */
  url: string;
  db: Database;
  /** Closes `db` and drops the database (forcibly: connections other code left open are ended). */
  drop(): Promise<void>;
}

export interface CreateTestDatabaseOptions {
  /** URL of a database to issue CREATE/DROP DATABASE from; {@link testDatabaseAdminUrl} by default. */
  adminUrl?: string;
  /** Sees every statement sent through `db` once the migrations are applied (tests that count them). */
  logger?: Logger;
}

/** The variable that points the integration tests at another PostgreSQL server than the local one. */
const TEST_DATABASE_URL = 'TEST_DATABASE_URL';
const localAdminUrl = 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * The URL of a database on the server the integration tests create their databases on (they issue CREATE and DROP
 * DATABASE through it): `TEST_DATABASE_URL`, or the local server's `postgres` database when it is unset or empty.
 */
export function testDatabaseAdminUrl(env: NodeJS.ProcessEnv = process.env): string {
  const value = env[TEST_DATABASE_URL]?.trim();
  if (!value) return localAdminUrl;
  if (!URL.canParse(value) || !/^postgres(ql)?:$/.test(new URL(value).protocol)) {
    throw new Error(
      `${TEST_DATABASE_URL} must be a postgres:// URL (a database on the test server), got "${value}"`,
    );
  }
  return value;
}

/** The URL of database `name` on the same server, with the same credentials and parameters, as `url`. */
export function databaseUrlOn(url: string, name: string): string {
  const other = new URL(url);
  other.pathname = `/${encodeURIComponent(name)}`;
  return other.toString();
}

/**
 * Creates a fresh, uniquely named PostgreSQL database with every migration applied, so each test file
 * owns its data and files can run in parallel without seeing each other's rows.
 */
export async function createTestDatabase(options: CreateTestDatabaseOptions = {}): Promise<TestDatabase> {
  const adminUrl = options.adminUrl ?? testDatabaseAdminUrl();
  const name = `vsh_test_${process.pid}_${randomBytes(6).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const url = databaseUrlOn(adminUrl, name);
  let migrating = true;
  const logger = options.logger;
  const handle = await createDb({
    kind: 'postgres',
    url,
    max: 4,
    ...(logger === undefined
      ? {}
      : {
          logger: {
            logQuery: (query, params) => {
              if (!migrating) logger.logQuery(query, params);
            },
          },
        }),
  });
  try {
    await migrate(handle.db);
    migrating = false;
  } catch (error) {
    await handle.close();
    await dropDatabase(adminUrl, name);
    throw error;
  }
  return {
    url,
    db: handle.db,
    drop: async () => {
      await handle.close();
      await dropDatabase(adminUrl, name);
    },
  };
}

async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
  } finally {
    await admin.end();
  }
}
