import { randomBytes } from 'node:crypto';
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
  /** URL of a database to issue CREATE/DROP DATABASE from; the local server's `postgres` by default. */
  adminUrl?: string;
}

const defaultAdminUrl = 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * Creates a fresh, uniquely named PostgreSQL database with every migration applied, so each test file
 * owns its data and files can run in parallel without seeing each other's rows.
 */
export async function createTestDatabase(options: CreateTestDatabaseOptions = {}): Promise<TestDatabase> {
  const adminUrl = options.adminUrl ?? defaultAdminUrl;
  const name = `vsh_test_${process.pid}_${randomBytes(6).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const handle = await createDb({ kind: 'postgres', url: url.toString(), max: 4 });
  try {
    await migrate(handle.db);
  } catch (error) {
    await handle.close();
    await dropDatabase(adminUrl, name);
    throw error;
  }
  return {
    url: url.toString(),
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
