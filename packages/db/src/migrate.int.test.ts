import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq, sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { createDb, type DbHandle } from './client.ts';
import { appliedMigrationCount, migrate, migrationsFolder, rowsOf } from './migrate.ts';
import { tenants } from './schema/index.ts';
import { createTestDatabase, databaseUrlOn, testDatabaseAdminUrl } from './testing.ts';

const expectedTables = [
  'api_keys',
  'audit_log',
  'aws_destinations',
  'backfills',
  'org_accounts',
  'org_registrations',
  'rejected_records',
  'runs',
  'streams',
  'tenant_schedules',
  'tenants',
  'vaikora_settings',
  'web_sessions',
  'web_sign_in_links',
  'web_sign_ins',
];
// Every migration drizzle-kit has generated and committed, as its journal lists them.
const committedMigrations = (
  JSON.parse(readFileSync(join(migrationsFolder, 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] }
).entries.length;

async function publicTables(handle: Pick<DbHandle, 'db'>): Promise<string[]> {
  const result = await handle.db.execute(
    sql`select table_name from information_schema.tables where table_schema = 'public' order by table_name`,
  );
  return rowsOf<{ table_name: string }>(result).map((row) => row.table_name);
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('migrate on PostgreSQL', () => {
  it('creates every table in a fresh database and records each committed migration', async () => {
    const test = await createTestDatabase();
    cleanups.push(test.drop);

    expect(await publicTables(test)).toEqual(expectedTables);
    expect(await appliedMigrationCount(test.db)).toBe(committedMigrations);
  });

  it('applies nothing twice when run again', async () => {
    const test = await createTestDatabase();
    cleanups.push(test.drop);

    await migrate(test.db);

    expect(await appliedMigrationCount(test.db)).toBe(committedMigrations);
  });

  it('migrates once when several processes start together on an empty database', async () => {
    const name = `vsh_test_race_${process.pid}_${Date.now()}`;
    const admin = postgres(testDatabaseAdminUrl(), { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database "${name}"`);
    cleanups.push(async () => {
      await admin.unsafe(`drop database if exists "${name}" with (force)`);
      await admin.end();
    });
    const url = databaseUrlOn(testDatabaseAdminUrl(), name);
    const handles = await Promise.all([1, 2, 3].map(() => createDb({ kind: 'postgres', url, max: 2 })));
    cleanups.push(async () => {
      await Promise.all(handles.map((handle) => handle.close()));
    });

    await Promise.all(handles.map((handle) => migrate(handle.db)));

    const counts = await Promise.all(handles.map((handle) => appliedMigrationCount(handle.db)));
    expect(counts).toEqual([committedMigrations, committedMigrations, committedMigrations]);
  });
});

describe('migrate on PGlite', () => {
  it('creates every table in memory', async () => {
    const handle = await createDb({ kind: 'pglite', dataDir: 'memory' });
    cleanups.push(handle.close);

    await migrate(handle.db);

    expect(await publicTables(handle)).toEqual(expectedTables);
    expect(await appliedMigrationCount(handle.db)).toBe(committedMigrations);
  });

  it('keeps data in a data folder across close and reopen, and does not migrate again', async () => {
    const dataDir = join(await mkdtemp(join(tmpdir(), 'vsh-pglite-')), 'data');
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const first = await createDb({ kind: 'pglite', dataDir });
    await migrate(first.db);
    const [created] = await first.db.insert(tenants).values({ name: 'Persisted' }).returning();
    await first.close();

    const reopened = await createDb({ kind: 'pglite', dataDir });
    cleanups.push(reopened.close);
    await migrate(reopened.db);
    const found = await reopened.db
      .select()
      .from(tenants)
      .where(eq(tenants.id, created?.id ?? ''));

    expect(found.map((row) => row.name)).toEqual(['Persisted']);
    expect(await appliedMigrationCount(reopened.db)).toBe(committedMigrations);
  });
});

describe('createDb', () => {
  it('refuses a pool smaller than two connections, which migrate needs', async () => {
    await expect(createDb({ kind: 'postgres', url: 'postgres://127.0.0.1/none', max: 1 })).rejects.toThrow(
      RangeError,
    );
  });
});
