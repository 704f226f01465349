import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { appliedMigrationCount, createDb, type DbHandle } from '@vsh/db';
import { databaseUrlOn, testDatabaseAdminUrl } from '@vsh/db/testing';
import { startTcpFaultProxy } from '@vsh/testkit';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { bundleEntries } from '../bench/bundle.ts';
import { type Harness, startHarness } from '../test/harness.ts';
import { killAllWorkers, spawnWorker } from '../test/processes.ts';

/** Longer than any start-up can take with these cuts (a migration attempt's deadline is 20 s, main.ts). */
const START_BOUND_MS = 60_000;
/** As shutdown.int.test.ts: well inside a container's stop timeout. */
const STOP_BOUND_MS = 20_000;
const RETRIED = 'start-up migration failed: retrying';

/**
 * The start-up steps of a worker on an empty database, each named by text only its own statement sends
 * (matched case-insensitively by the proxy): the driver's handshake, migrate()'s advisory lock on a
 * reserved connection (packages/db/src/migrate.ts), drizzle's migrator (its schema, its table, its read
 * of the last migration, then one transaction for every migration and its journal row), the unlock, and
 * the scheduler's first claims (scheduler.ts), sent as the worker reports it started. `logs` is the
 * warning that shows the worker met the cut where it was meant to and carried on.
 */
const STEPS = [
  { step: 'the handshake of the first connection', text: 'application_name', logs: RETRIED },
  { step: 'the migration lock', text: 'pg_advisory_lock(', logs: RETRIED },
  { step: "the migrator's schema", text: 'create schema if not exists "drizzle"', logs: RETRIED },
  { step: 'the migrations table', text: 'create table if not exists "drizzle"', logs: RETRIED },
  {
    step: 'the read of the last applied migration',
    text: 'select id, hash, created_at from "drizzle"',
    logs: RETRIED,
  },
  { step: "the migrations' transaction begin", text: 'begin', logs: RETRIED },
  { step: 'the first create table', text: 'create table "api_keys"', logs: RETRIED },
  { step: "the last migration's last index", text: 'create index "runs_tenant_started_idx"', logs: RETRIED },
  {
    step: "the first migration's journal row",
    text: 'insert into "drizzle"."__drizzle_migrations"',
    logs: RETRIED,
  },
  { step: "the migrations' commit", text: 'commit', logs: RETRIED },
  { step: 'the migration unlock', text: 'pg_advisory_unlock(', logs: RETRIED },
  {
    step: 'the first claim of due tenants',
    text: 'for update of s skip locked',
    logs: 'could not claim due tenants',
  },
  { step: 'the first claim of backfills', text: "where state = 'queued'", logs: 'could not claim backfills' },
].map((s) => ({ ...s, everyConnection: false }));

/**
 * A database restart as its clients see it: the connection at the step is cut, then every other one the
 * worker has open (the migration lock's among them), as the chaos test's forced cut does.
 */
const RESTARTS = [
  { step: 'the migration lock', text: 'pg_advisory_lock(', logs: RETRIED },
  { step: 'the first create table', text: 'create table "api_keys"', logs: RETRIED },
  { step: "the migrations' commit", text: 'commit', logs: RETRIED },
].map((s) => ({ ...s, everyConnection: true }));

describe('a worker process starting on an empty database whose PostgreSQL connections are cut at one start-up step', () => {
  let h: Harness;
  let admin: DbHandle;
  let migrations: number;
  // The workers run from one esbuild bundle, as deployed: under tsx each of the 16 would spend about 7 s
  // of CPU compiling sources on start, which the rest of the suite waits for.
  const bundleDir = mkdtempSync(
    join(fileURLToPath(new URL('../../../packages/db/', import.meta.url)), '.bundle-test-'),
  );
  let workerEntry: string;

  beforeAll(async () => {
    [h, admin, { worker: workerEntry }] = await Promise.all([
      startHarness(),
      createDb({ kind: 'postgres', url: testDatabaseAdminUrl(), max: 2 }),
      bundleEntries(bundleDir),
    ]);
    // The harness's database was migrated by createTestDatabase: every committed migration.
    migrations = await appliedMigrationCount(h.database.db);
  });
  afterAll(async () => {
    await killAllWorkers();
    await Promise.allSettled([h?.close(), admin?.close()]);
    rmSync(bundleDir, { recursive: true, force: true });
  });

  // Concurrent, each with a database and a proxy of its own: most of a case is waiting on the worker.
  it.concurrent.for([...STEPS, ...RESTARTS])(
    '$text cut ($step; every connection: $everyConnection): the worker starts (then exits 0 on SIGTERM) or exits non-zero saying why; never exits 0 before it started, never hangs',
    async ({ step, text, logs, everyConnection }, { expect, onTestFinished }) => {
      const name = `vsh_test_${process.pid}_${randomBytes(6).toString('hex')}`;
      // An empty database, so the worker's start-up migration runs from its first statement.
      await admin.db.execute(sql.raw(`create database "${name}"`));
      const direct = await createDb({ kind: 'postgres', url: databaseUrlOn(testDatabaseAdminUrl(), name) });
      onTestFinished(async () => {
        await direct.close();
        await admin.db.execute(sql.raw(`drop database if exists "${name}" with (force)`));
      });
      const proxy = await startTcpFaultProxy({
        upstream: upstreamOf(testDatabaseAdminUrl()),
        rules: { cutWhenClientSends: { text, times: 1 } },
      });
      onTestFinished(() => proxy.stop());
      const proxied = new URL(databaseUrlOn(testDatabaseAdminUrl(), name));
      proxied.hostname = proxy.host;
      proxied.port = String(proxy.port);

      const began = Date.now();
      const worker = spawnWorker(
        `startup-cut-${text}`,
        h.workerEnv({
          DATABASE_URL: proxied.toString(),
          WORKER_ID: `startup-cut-${randomBytes(3).toString('hex')}`,
        }),
        { entry: workerEntry },
      );
      onTestFinished(() => {
        worker.kill('SIGKILL');
      });
      const cut = expect.poll(() => proxy.stats().resets, { timeout: START_BOUND_MS, interval: 5 }).toBe(1);
      // The rest go within milliseconds of the first cut, before the retry's backoff (250 ms) is over.
      const restart = everyConnection ? cut.then(() => proxy.resetAll()) : cut.then(() => 0);
      // Awaited below, after the start-up; a cut that never comes fails there.
      restart.catch(() => undefined);
      const bound = new AbortController();
      const outcome = await Promise.race([
        worker.ready.then(() => 'started' as const),
        worker.exited,
        sleep(START_BOUND_MS, 'hung' as const, { signal: bound.signal }),
      ]).finally(() => bound.abort());
      const startMs = Date.now() - began;
      // The cut at the scheduler's first claims can come just after the start line.
      const alsoCut = await restart;

      expect(outcome, worker.tail()).not.toBe('hung');
      if (outcome === 'started') {
        // Started means migrated: every committed migration applied, none half done.
        expect(await appliedMigrationCount(direct.db)).toBe(migrations);
        // It met the cut at this step (not, say, a later one) and went on.
        await expect.poll(() => messages(worker.tail())).toContain(logs);
        const signalled = Date.now();
        worker.kill('SIGTERM');
        expect(await worker.exited, worker.tail()).toEqual({ code: 0, signal: null });
        const stopMs = Date.now() - signalled;
        console.log(
          `cut at ${step}${everyConnection ? ` and ${alsoCut} more` : ''}: started after ${startMs} ms, ` +
            `exited 0 ${stopMs} ms after SIGTERM; warnings: ${messages(worker.tail(), 40).join(', ')}`,
        );
        expect(stopMs).toBeLessThan(STOP_BOUND_MS);
      } else if (outcome !== 'hung') {
        console.log(`cut at ${step}: exited ${JSON.stringify(outcome)} after ${startMs} ms`);
        // Exited before it started: with a failure code, and an error or fatal line that says why.
        expect(outcome.code, worker.tail()).not.toBe(0);
        expect(outcome.code, worker.tail()).not.toBeNull();
        expect(messages(worker.tail(), 50), worker.tail()).not.toEqual([]);
      }
      // Beyond that contract: one cut, or one restart, is within what the retries absorb, each on a fresh
      // pool (startup.ts, openMigrated); the worker starts.
      expect(outcome, worker.tail()).toBe('started');
    },
  );
});

/** The messages of a worker's log lines at `level` or above (pino: 40 warn, 50 error, 60 fatal). */
function messages(tail: string, level = 0): string[] {
  return tail.split('\n').flatMap((line) => {
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: unknown };
      return (entry.level ?? 0) >= level ? [String(entry.msg)] : [];
    } catch {
      return [];
    }
  });
}

function upstreamOf(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port || 5432) };
}
