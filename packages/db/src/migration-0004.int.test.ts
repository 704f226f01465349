import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asc, eq, sql } from 'drizzle-orm';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type DbHandle } from './client.ts';
import { migrate, migrationsFolder } from './migrate.ts';
import { backfills, rejectedRecords, runs } from './schema/index.ts';
import { databaseUrlOn, testDatabaseAdminUrl } from './testing.ts';

const adminUrl = testDatabaseAdminUrl();

/** The committed migrations up to and including `tag`, in a scratch folder. */
async function migrationsUpTo(tag: string): Promise<{ folder: string; remove(): Promise<void> }> {
  const folder = join(await mkdtemp(join(tmpdir(), 'vsh-migrations-')), 'drizzle');
  await cp(migrationsFolder, folder, { recursive: true });
  const journalPath = join(folder, 'meta', '_journal.json');
  const journal = JSON.parse(await readFile(journalPath, 'utf8')) as { entries: Array<{ tag: string }> };
  const end = journal.entries.findIndex((entry) => entry.tag === tag);
  await writeFile(journalPath, JSON.stringify({ ...journal, entries: journal.entries.slice(0, end + 1) }));
  return { folder, remove: () => rm(join(folder, '..'), { recursive: true, force: true }) };
}

describe('migration 0004 (rejected records kept once, raw as text) on PostgreSQL', () => {
  const name = `vsh_test_0004_${process.pid}_${Date.now()}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  let handle: DbHandle;

  beforeAll(async () => {
    await admin.unsafe(`create database "${name}"`);
    handle = await createDb({ kind: 'postgres', url: databaseUrlOn(adminUrl, name), max: 2 });
  });
  afterAll(async () => {
    await handle?.close();
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
    await admin.end();
  });

  it('carries the rows kept before it over: one row each, seen once, cut records as text with their size', async () => {
    const before = await migrationsUpTo('0003_backfills');
    try {
      await migratePostgres(handle.db as Parameters<typeof migratePostgres>[0], {
        migrationsFolder: before.folder,
      });
    } finally {
      await before.remove();
    }
    const db = handle.db;
    await db.execute(sql`insert into tenants (id, name) values ('ten_a', 'Acme'), ('ten_b', 'Other')`);
    await db.execute(sql`insert into runs (id, tenant_id, status, finished_at, error_code, error_message) values
      ('run_1', 'ten_a', 'failed', now(), 'UNEXPECTED', 'Failed query: insert into "rejected_records" values ($1)
params: {"secret":"raw"}'),
      ('run_2', 'ten_a', 'ok', now(), null, null)`);
    await db.execute(sql`insert into backfills (id, tenant_id, from_at, to_at, state, finished_at, error_code, error_message)
      values ('bkf_1', 'ten_a', now() - interval '1 day', now(), 'failed', now(), 'UNEXPECTED', 'Failed query: select 1')`);
    const plain = JSON.stringify({ id: 'a1', note: 'é' });
    await db.execute(sql`insert into rejected_records (id, tenant_id, destination_id, run_id, stage, code, reason, raw, created_at) values
      ('rej_1', 'ten_a', null, 'run_1', 'parse', 'MISSING_ID', 'no id', ${plain}::jsonb, '2030-01-01T00:00:00Z'),
      ('rej_2', 'ten_a', null, 'run_2', 'parse', 'MISSING_ID', 'no id', ${plain}::jsonb, '2030-01-01T00:05:00Z'),
      ('rej_3', 'ten_a', null, null, 'parse', 'TOO_BIG', 'big', '{"truncated":true,"bytes":90000,"preview":"{\\"blob\\":\\"xx"}'::jsonb, now()),
      ('rej_4', 'ten_a', null, null, 'parse', 'CYCLE', 'cycle', '{"truncated":true,"bytes":0,"preview":""}'::jsonb, now()),
      ('rej_5', 'ten_b', null, null, 'import', 'IMPORT_REJECTED', 'no raw', null, now())`);

    await migrate(db);

    const rows = await db.select().from(rejectedRecords).orderBy(asc(rejectedRecords.id));
    expect(rows.map((r) => r.id)).toEqual(['rej_1', 'rej_2', 'rej_3', 'rej_4', 'rej_5']);
    expect(new Set(rows.map((r) => r.fingerprint)).size).toBe(5);
    for (const row of rows) {
      expect(row).toMatchObject({
        scope: 'tenant',
        occurrences: 1,
        lastSeenAt: row.createdAt,
        lastRunId: row.runId,
      });
      expect(row.fingerprint).toMatch(/^[A-Za-z0-9_-]{43}$/);
    }
    expect(JSON.parse(rows[0]?.raw ?? '')).toEqual(JSON.parse(plain));
    expect(rows[0]?.rawBytes).toBe(Buffer.byteLength(rows[0]?.raw ?? '', 'utf8'));
    expect(rows[2]).toMatchObject({ raw: '{"blob":"xx', rawBytes: 90_000, rawUnstoredReason: null });
    expect(rows[3]).toMatchObject({
      raw: null,
      rawBytes: null,
      rawUnstoredReason: 'not representable as JSON',
    });
    expect(rows[4]).toMatchObject({ raw: null, rawBytes: null, rawUnstoredReason: null });
    const [failedRun] = await db.select().from(runs).where(eq(runs.id, 'run_1'));
    expect(failedRun?.errorMessage).toBe(
      'a database statement failed (its SQL and parameters were removed by migration 0004)',
    );
    const [failedBackfill] = await db.select().from(backfills).where(eq(backfills.id, 'bkf_1'));
    expect(failedBackfill?.errorMessage).not.toContain('select 1');
  });
});
