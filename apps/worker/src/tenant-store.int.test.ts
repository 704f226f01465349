import { createHash, randomBytes } from 'node:crypto';
import { type Rejection, reject } from '@vsh/core';
import {
  awsDestinations,
  createDb,
  escapeControlCharacters,
  newId,
  type RejectedRecord,
  rejectedRecords,
  runs,
  tenantSchedules,
  tenants,
  vaikoraSettings,
} from '@vsh/db';
import { createTestDatabase, type TestDatabase } from '@vsh/db/testing';
import { createSecretBox, LocalMasterKeyProvider, sealedKeyId } from '@vsh/secrets';
import { asc, eq, sql } from 'drizzle-orm';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDbBackfillStore } from './backfill-store.ts';
import type { RecordedRejection } from './ports.ts';
import { createDbTenantStore } from './tenant-store.ts';

const secrets = createSecretBox(
  new LocalMasterKeyProvider({ primaryKey: randomBytes(32).toString('base64') }),
);

/** A pino logger whose lines are kept, parsed, for the assertions. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

function deeplyNested(depth: number): unknown {
  let value: unknown = 'bottom';
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

describe('the worker keeps rejected records once per stream (PostgreSQL)', () => {
  let test: TestDatabase;

  beforeAll(async () => {
    test = await createTestDatabase();
  });
  afterAll(async () => {
    await test?.drop();
  });

  async function newTenant(): Promise<string> {
    const [row] = await test.db.insert(tenants).values({ name: 'Acme' }).returning({ id: tenants.id });
    if (row === undefined) throw new Error('no tenant inserted');
    return row.id;
  }

  async function newDestination(tenantId: string): Promise<string> {
    const [row] = await test.db
      .insert(awsDestinations)
      .values({
        tenantId,
        accountId: '123456789012',
        regions: ['us-east-1'],
        externalId: newId('dst'),
        roleName: 'VaikoraSecurityHubImport',
      })
      .returning({ id: awsDestinations.id });
    if (row === undefined) throw new Error('no destination inserted');
    return row.id;
  }

  async function newRun(tenantId: string): Promise<string> {
    const id = newId('run');
    await test.db.insert(runs).values({ id, tenantId, workerId: 'test', startedAt: new Date() });
    return id;
  }

  async function kept(tenantId: string): Promise<RejectedRecord[]> {
    return test.db
      .select()
      .from(rejectedRecords)
      .where(eq(rejectedRecords.tenantId, tenantId))
      .orderBy(asc(rejectedRecords.id));
  }

  const whileReading = (rejection: Rejection, agentId = 'agt-1'): RecordedRejection => ({
    rejection,
    destinationId: null,
    agentId,
  });

  it('keeps records carrying NUL, lone surrogates, control characters, deep nesting, BigInt and huge sizes', async () => {
    const tenantId = await newTenant();
    const runId = await newRun(tenantId);
    const { logger, lines } = capturingLogger();
    const store = createDbTenantStore({ db: test.db, secrets, logger });
    const withNul = { id: 'act\u0000nul', note: 'half \ud800 pair', ctl: '\u0001\u001f\u007f\u0085' };
    const huge = { id: 'big', blob: 'é'.repeat(200_000) };
    const cyclic: Record<string, unknown> = { id: 'cycle' };
    cyclic.self = cyclic;
    const rejections = [
      reject('MISSING_TIMESTAMP', 'parse', 'no timestamp in act\u0000nul', 'act\u0000nul', withNul),
      reject('RECORD_TOO_DEEP', 'parse', 'nested too deep', null, deeplyNested(100_000)),
      reject('RECORD_TOO_LARGE', 'parse', 'too large', 'big', huge),
      reject('MALFORMED_RECORD', 'parse', 'not an object', null, '{"id":"x\u0000y\ud800\u0007'),
      reject('MALFORMED_RECORD', 'parse', 'bigint', null, { n: 10n }),
      reject('MALFORMED_RECORD', 'parse', 'cycle', null, cyclic),
    ].map((r) => whileReading(r));

    const result = await store.recordRejections(tenantId, runId, rejections);

    expect(result).toEqual({ inserted: 6, repeated: 0, failed: 0 });
    expect(lines.filter((l) => Number(l.level) >= 40)).toEqual([]);
    const rows = await kept(tenantId);
    expect(rows).toHaveLength(6);
    const byCode = (reason: string) => rows.find((r) => r.reason.includes(reason));
    const nul = byCode('no timestamp');
    expect(nul).toMatchObject({
      scope: 'agent:agt-1',
      occurrences: 1,
      runId,
      lastRunId: runId,
      destinationId: null,
    });
    expect(escapeControlCharacters(nul?.raw ?? '')).toBe(nul?.raw);
    expect(JSON.parse(nul?.raw ?? 'null')).toEqual(withNul);
    expect(nul?.actionId).toBe('act\\u0000nul');
    expect(nul?.reason).toBe('no timestamp in act\\u0000nul');
    const deep = byCode('nested too deep');
    expect(deep).toMatchObject({ raw: null, rawBytes: null });
    expect(deep?.rawUnstoredReason).toMatch(/RangeError/);
    const large = byCode('too large');
    expect(Buffer.byteLength(large?.raw ?? '', 'utf8')).toBeLessThanOrEqual(8192);
    expect(large?.rawBytes).toBe(Buffer.byteLength(JSON.stringify(huge), 'utf8'));
    expect(JSON.stringify(huge).startsWith(large?.raw ?? 'nothing')).toBe(true);
    expect(byCode('not an object')?.raw).toBe('{"id":"x\\u0000y\\ud800\\u0007');
    expect(byCode('bigint')?.rawUnstoredReason).toMatch(/TypeError/);
    expect(byCode('cycle')?.rawUnstoredReason).toMatch(/TypeError/);
    expect(new Set(rows.map((r) => r.fingerprint)).size).toBe(6);
  });

  it('keeps the same record once per stream over three runs, counting each run, and uses the reader fingerprint', async () => {
    const tenantId = await newTenant();
    const destinationId = await newDestination(tenantId);
    const store = createDbTenantStore({ db: test.db, secrets, logger: pino({ level: 'silent' }) });
    const bad = { id: 'act-1', timestamp: 'yesterday-ish' };
    const read = reject('INVALID_TIMESTAMP', 'parse', 'timestamp is not a date', 'act-1', bad);
    const readerFingerprint = createHash('sha256').update('the bytes as received').digest('base64url');
    const fingerprinted = {
      ...reject('RECORD_TOO_LARGE', 'parse', 'too large', null, 'preview'),
      fingerprint: readerFingerprint,
    };
    const mapped = reject('INVALID_FINDING', 'map', 'title too long', 'act-2', { id: 'act-2' });
    const batch: RecordedRejection[] = [
      whileReading(read),
      whileReading(fingerprinted),
      // The same record in two regions of one destination is one record of that destination.
      { rejection: mapped, destinationId, agentId: 'agt-1' },
      { rejection: mapped, destinationId, agentId: 'agt-1' },
    ];
    const runIds = [await newRun(tenantId), await newRun(tenantId), await newRun(tenantId)];

    const results = [];
    for (const runId of runIds) results.push(await store.recordRejections(tenantId, runId, batch));

    expect(results).toEqual([
      { inserted: 3, repeated: 0, failed: 0 },
      { inserted: 0, repeated: 3, failed: 0 },
      { inserted: 0, repeated: 3, failed: 0 },
    ]);
    const rows = await kept(tenantId);
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      expect(row).toMatchObject({ occurrences: 3, runId: runIds[0], lastRunId: runIds[2] });
      expect(row.lastSeenAt.getTime()).toBeGreaterThanOrEqual(row.createdAt.getTime());
    }
    expect(rows.find((r) => r.code === 'RECORD_TOO_LARGE')).toMatchObject({
      fingerprint: readerFingerprint,
      scope: 'agent:agt-1',
    });
    expect(rows.find((r) => r.code === 'INVALID_FINDING')).toMatchObject({
      scope: destinationId,
      destinationId,
      stage: 'validate',
    });
  });

  it('keeps a minimal row, without the raw text, when the database refuses the full one', async () => {
    const tenantId = await newTenant();
    const runId = await newRun(tenantId);
    const { logger, lines } = capturingLogger();
    const store = createDbTenantStore({ db: test.db, secrets, logger });
    // A destination deleted while the run was going: its foreign key refuses the full row.
    const gone = newId('dst');
    const rejection = reject('INVALID_FINDING', 'validate', 'bad', 'act-9', { secret: 'raw-marker-9' });

    const result = await store.recordRejections(tenantId, runId, [
      { rejection, destinationId: gone, agentId: 'agt-1' },
    ]);

    expect(result).toEqual({ inserted: 1, repeated: 0, failed: 0 });
    const [row] = await kept(tenantId);
    expect(row).toMatchObject({
      scope: gone,
      destinationId: null,
      raw: null,
      rawUnstoredReason: 'raw not stored: 23503',
      reason: 'bad',
    });
    const warn = lines.find((l) => l.level === 40);
    expect(warn).toMatchObject({ tenantId, runId, cause: { code: '23503' } });
    expect(JSON.stringify(lines)).not.toMatch(/insert into|raw-marker-9|params/i);
  });

  it('resolves, logs the database cause without SQL or records, and counts failures when the table is gone', async () => {
    const own = await createTestDatabase();
    try {
      const [tenant] = await own.db.insert(tenants).values({ name: 'Gone' }).returning({ id: tenants.id });
      const tenantId = tenant?.id ?? '';
      await own.db.execute(sql`alter table rejected_records rename to rejected_records_moved`);
      const { logger, lines } = capturingLogger();
      const store = createDbTenantStore({ db: own.db, secrets, logger });
      const rejections = [
        whileReading(reject('MISSING_ID', 'parse', 'no id', null, { secret: 'raw-marker-1' })),
        whileReading(reject('MISSING_ID', 'parse', 'no id', null, { secret: 'raw-marker-2' })),
      ];

      const result = await store.recordRejections(tenantId, newId('run'), rejections);

      expect(result).toEqual({ inserted: 0, repeated: 0, failed: 2 });
      const warn = lines.find((l) => l.level === 40);
      expect(warn).toMatchObject({
        cause: { code: '42P01', message: expect.stringContaining('rejected_records') },
      });
      const error = lines.find((l) => l.level === 50);
      expect(error).toMatchObject({ cause: { code: '42P01' } });
      expect(error?.dropped).toEqual([
        expect.objectContaining({ fingerprint: expect.any(String), code: 'MISSING_ID' }),
        expect.objectContaining({ fingerprint: expect.any(String), code: 'MISSING_ID' }),
      ]);
      expect(JSON.stringify(lines)).not.toMatch(/insert into|raw-marker|params|Failed query/i);
    } finally {
      await own.drop();
    }
  });

  it('resolves and counts failures on a closed pool', async () => {
    const handle = await createDb({ kind: 'postgres', url: test.url });
    await handle.close();
    const { logger, lines } = capturingLogger();
    const store = createDbTenantStore({ db: handle.db, secrets, logger });

    const result = await store.recordRejections(newId('ten'), newId('run'), [
      whileReading(reject('MISSING_ID', 'parse', 'no id', null, { secret: 'raw-marker-3' })),
    ]);

    expect(result).toEqual({ inserted: 0, repeated: 0, failed: 1 });
    expect(lines.filter((l) => l.level === 50)).toHaveLength(1);
    expect(JSON.stringify(lines)).not.toMatch(/insert into|raw-marker|params|Failed query/i);
  });

  it('keeps a backfill re-reading a record the run kept as the same record, counted again', async () => {
    const tenantId = await newTenant();
    const destinationId = await newDestination(tenantId);
    const runId = await newRun(tenantId);
    const logger = pino({ level: 'silent' });
    const store = createDbTenantStore({ db: test.db, secrets, logger });
    const backfills = createDbBackfillStore(test.db, logger);
    const mapped = reject('INVALID_FINDING', 'map', 'title \u0000 too long', 'act-3', { id: 'act-3\u0000' });
    const recorded: RecordedRejection = { rejection: mapped, destinationId, agentId: 'agt-1' };

    const first = await store.recordRejections(tenantId, runId, [recorded]);
    const again = await backfills.recordRejections(tenantId, newId('bkf'), [recorded, recorded]);

    expect(first).toEqual({ inserted: 1, repeated: 0, failed: 0 });
    expect(again).toEqual({ inserted: 0, repeated: 1, failed: 0 });
    const [row] = await kept(tenantId);
    expect(row).toMatchObject({ occurrences: 2, runId, lastRunId: runId, scope: destinationId });
  });
});

describe('the worker’s runs and schedule (PostgreSQL)', () => {
  let test: TestDatabase;

  beforeAll(async () => {
    test = await createTestDatabase();
  });
  afterAll(async () => {
    await test?.drop();
  });

  const store = () => createDbTenantStore({ db: test.db, secrets, logger: pino({ level: 'silent' }) });

  async function newTenant(
    name: string,
    schedule: { nextRunAt: Date; runRequestedAt?: Date },
  ): Promise<string> {
    const [row] = await test.db.insert(tenants).values({ name }).returning({ id: tenants.id });
    if (row === undefined) throw new Error('no tenant inserted');
    await test.db.insert(tenantSchedules).values({ tenantId: row.id, ...schedule });
    return row.id;
  }

  it('closes a run its dead worker left running when the next run of the tenant starts', async () => {
    const tenantId = await newTenant('crashed', { nextRunAt: new Date() });
    const stale = await store().startRun(tenantId, 'killed-worker', new Date(Date.now() - 60_000));

    const next = await store().startRun(tenantId, 'next-worker', new Date());
    const rows = await test.db.select().from(runs).where(eq(runs.tenantId, tenantId));

    expect(rows.find((r) => r.id === stale)).toMatchObject({
      status: 'failed',
      errorCode: 'RUN_INTERRUPTED',
    });
    expect(rows.find((r) => r.id === stale)?.finishedAt).not.toBeNull();
    expect(rows.find((r) => r.id === next)).toMatchObject({ status: 'running' });
  });

  it('keeps the outcome of a run recorded after the next run of the tenant started (its last write released the lease, ADR 0140)', async () => {
    const tenantId = await newTenant('released early', { nextRunAt: new Date() });
    const start = Date.now() - 2_000;
    const first = await store().startRun(tenantId, 'worker-1', new Date(start));
    // The next run takes the lease the first released with its last cursor write, and starts while the
    // first is still recording its end: it closes the first as interrupted...
    const second = await store().startRun(tenantId, 'worker-2', new Date(start + 1_000));
    // ...and the first's record then says how it ended.
    await store().finishRun(
      first,
      {
        status: 'ok',
        actionsRead: 12,
        findingsMapped: 12,
        findingsImported: 12,
        actionsSkipped: 0,
        recordsRejected: 0,
        throttles: 0,
        lagSeconds: 3,
        errorCode: null,
        errorMessage: null,
        recentFindings: [],
        destinationStats: {},
      },
      new Date(start + 1_500),
      { tenantId, nextRunAt: new Date(start + 300_000), runStartedAt: new Date(start), quiet: false },
    );
    const rows = await test.db.select().from(runs).where(eq(runs.tenantId, tenantId));

    expect(rows.find((r) => r.id === first)).toMatchObject({
      status: 'ok',
      errorCode: null,
      findingsImported: 12,
      finishedAt: new Date(start + 1_500),
    });
    expect(rows.find((r) => r.id === second)).toMatchObject({ status: 'running' });
  });

  it('records every field of a finished run and the next due time, keeping a "run now" asked during the run', async () => {
    const start = Date.now() - 5_000;
    const served = await newTenant('served', {
      nextRunAt: new Date(start),
      runRequestedAt: new Date(start - 1_000),
    });
    const kept = await newTenant('asked during the run', {
      nextRunAt: new Date(start),
      runRequestedAt: new Date(start + 1_000),
    });
    const summary = {
      status: 'partial' as const,
      actionsRead: 41,
      findingsMapped: 12,
      findingsImported: 11,
      actionsSkipped: 29,
      recordsRejected: 1,
      throttles: 3,
      lagSeconds: 7,
      errorCode: 'IMPORT_INCOMPLETE',
      errorMessage: 'Security Hub did not take some findings yet: it\u0027s "quoted" \u2014 and ünïcode',
      recentFindings: [
        {
          id: 'f-1',
          title: 'Agent "a" ran rm -rf',
          severity: 'HIGH',
          time: '2026-12-04T21:00:00.000Z',
          region: 'us-east-1',
        },
      ],
      destinationStats: {
        dst_1: {
          imported: 11,
          rejected: 1,
          skipped: 29,
          read: 41,
          alreadySent: 0,
          otherAgent: 0,
          notSent: 0,
        },
      },
    };
    const nextRunAt = new Date(start + 300_000);
    const finishedAt = new Date(start + 2_000);
    for (const tenantId of [served, kept]) {
      const runId = await store().startRun(tenantId, 'worker-1', new Date(start));
      await store().finishRun(runId, summary, finishedAt, {
        tenantId,
        nextRunAt,
        runStartedAt: new Date(start),
        quiet: false,
      });
      const [row] = await test.db.select().from(runs).where(eq(runs.id, runId));
      expect(row).toEqual({
        id: runId,
        tenantId,
        workerId: 'worker-1',
        startedAt: new Date(start),
        finishedAt,
        quiet: false,
        ...summary,
      });
    }
    const schedules = await test.db.select().from(tenantSchedules);
    const servedSchedule = schedules.find((s) => s.tenantId === served);
    expect(servedSchedule).toMatchObject({
      nextRunAt,
      runRequestedAt: null,
      lastRunStartedAt: new Date(start),
    });
    expect(servedSchedule?.lastRunFinishedAt?.getTime()).toBeGreaterThanOrEqual(start);
    const keptSchedule = schedules.find((s) => s.tenantId === kept);
    // Due at once (the database's now), the request still there.
    expect(keptSchedule?.runRequestedAt).toEqual(new Date(start + 1_000));
    expect(keptSchedule?.nextRunAt.getTime()).toBeLessThanOrEqual(Date.now() + 1_000);
  });

  it('records a quiet run in one statement, hands the tenant out saying so, and closes only a run no worker can still be running (ADR 0136)', async () => {
    const start = Date.now() - 5_000;
    const tenantId = await newTenant('quiet', { nextRunAt: new Date(start) });
    /** Makes the tenant due and claims it: what the dispatch hands out. */
    const claim = async () => {
      await test.db
        .update(tenantSchedules)
        .set({ nextRunAt: new Date(Date.now() - 1_000) })
        .where(eq(tenantSchedules.tenantId, tenantId));
      const due = await store().claimDueTenants(new Date(), 100, 30_000);
      return due.find((d) => d.tenantId === tenantId);
    };
    const before = await claim();
    // A run left running long ago (its worker died), and one started a moment ago (it may be alive).
    const dead = await store().startRun(tenantId, 'killed-worker', new Date(start - 3_600_000));
    const alive = await store().startRun(tenantId, 'other-worker', new Date(start - 1_000));
    const summary = {
      status: 'ok' as const,
      actionsRead: 20,
      findingsMapped: 0,
      findingsImported: 0,
      actionsSkipped: 0,
      recordsRejected: 0,
      throttles: 0,
      lagSeconds: 42,
      errorCode: null,
      errorMessage: null,
      recentFindings: [],
      destinationStats: {},
    };
    const finishedAt = new Date(start + 80);
    const nextRunAt = new Date(start + 300_000);
    const runId = await store().recordQuietRun(tenantId, 'worker-q', summary, new Date(start), finishedAt, {
      tenantId,
      nextRunAt,
      runStartedAt: new Date(start),
      quiet: true,
      leaseRunsStarted: (await store().loadTenant(tenantId))?.leaseRunsStarted,
      interruptedBefore: new Date(start - 600_000),
    });
    const rows = await test.db.select().from(runs).where(eq(runs.tenantId, tenantId));
    const [schedule] = await test.db
      .select()
      .from(tenantSchedules)
      .where(eq(tenantSchedules.tenantId, tenantId));
    const afterQuiet = await claim();
    // A run under the lease that wrote something: the next is not quiet.
    const busy = await store().startRun(tenantId, 'worker-b', new Date());
    await store().finishRun(busy, { ...summary, findingsImported: 3 }, new Date(), {
      tenantId,
      nextRunAt,
      runStartedAt: new Date(),
      quiet: false,
    });

    expect(before).toEqual({ tenantId, lastRunQuiet: false });
    expect(rows.find((r) => r.id === runId)).toEqual({
      id: runId,
      tenantId,
      workerId: 'worker-q',
      startedAt: new Date(start),
      finishedAt,
      quiet: true,
      ...summary,
    });
    expect(rows.find((r) => r.id === dead)).toMatchObject({ status: 'failed', errorCode: 'RUN_INTERRUPTED' });
    expect(rows.find((r) => r.id === alive)).toMatchObject({ status: 'running', finishedAt: null });
    expect(schedule).toMatchObject({
      nextRunAt,
      lastRunStartedAt: new Date(start),
      lastRunFinishedAt: finishedAt,
      lastRunQuiet: true,
    });
    expect(afterQuiet).toEqual({ tenantId, lastRunQuiet: true });
    expect(await claim()).toEqual({ tenantId, lastRunQuiet: false });
    // A quiet run that started before the run just recorded (it overlapped it) adds its row only.
    const [recorded] = await test.db
      .select()
      .from(tenantSchedules)
      .where(eq(tenantSchedules.tenantId, tenantId));
    const late = await store().recordQuietRun(
      tenantId,
      'worker-q',
      summary,
      new Date(start + 1),
      finishedAt,
      {
        tenantId,
        nextRunAt: new Date(start + 1 + 300_000),
        runStartedAt: new Date(start + 1),
        quiet: true,
        // No run under the lease started since it loaded: only the recorded run's later start holds it back.
        leaseRunsStarted: (await store().loadTenant(tenantId))?.leaseRunsStarted,
        interruptedBefore: new Date(start - 600_000),
      },
    );
    const [unmoved] = await test.db
      .select()
      .from(tenantSchedules)
      .where(eq(tenantSchedules.tenantId, tenantId));
    expect((await test.db.select().from(runs).where(eq(runs.id, late))).length).toBe(1);
    expect(unmoved).toEqual(recorded);
    // A quiet row that imported something, or did not end ok, is refused by the table.
    await expect(
      test.db.insert(runs).values({ tenantId, status: 'ok', finishedAt, quiet: true, findingsImported: 1 }),
    ).rejects.toThrow();
  });

  it('keeps the state a quiet run found with the schedule: loaded with the tenant, cleared by a run under the lease as it starts, not kept by a quiet run that started before one (ADR 0137)', async () => {
    const start = Date.now() - 60_000;
    const tenantId = await newTenant('kept state', { nextRunAt: new Date(start) });
    const summary = {
      status: 'ok' as const,
      actionsRead: 3,
      findingsMapped: 0,
      findingsImported: 0,
      actionsSkipped: 0,
      recordsRejected: 0,
      throttles: 0,
      lagSeconds: null,
      errorCode: null,
      errorMessage: null,
      recentFindings: [],
      destinationStats: {},
    };
    const snapshot = {
      readAtMs: start,
      cursors: {
        str_1: { positionMs: start - 10_000, updatedAtMs: start - 5_000, windowDigest: 'd1' },
        str_2: null,
      },
    };
    const schedule = (at: number) => ({
      tenantId,
      nextRunAt: new Date(at + 300_000),
      runStartedAt: new Date(at),
      interruptedBefore: new Date(at - 3_600_000),
    });
    const loaded = async () => (await store().loadTenant(tenantId))?.stateSnapshot;
    const count = async () => (await store().loadTenant(tenantId))?.leaseRunsStarted;

    const initially = await count();
    // A run under the lease that ended quiet keeps what it read.
    const first = await store().startRun(tenantId, 'w', new Date(start));
    await store().finishRun(first, summary, new Date(start + 100), {
      ...schedule(start),
      quiet: true,
      snapshot,
    });
    const afterLeaseRun = await loaded();
    // A quiet run keeps what it started from.
    const moved = { ...snapshot, readAtMs: start + 1_000 };
    const seen = await count();
    await store().recordQuietRun(tenantId, 'w', summary, new Date(start + 1_000), new Date(start + 1_100), {
      ...schedule(start + 1_000),
      quiet: true,
      snapshot: moved,
      leaseRunsStarted: seen,
    });
    const afterQuiet = await loaded();
    // A quiet run loads the tenant; a run under the lease starts (its clock behind the quiet run's):
    // cleared before it writes anything, and counted.
    const beforeIt = await count();
    await store().startRun(tenantId, 'w', new Date(start - 30_000));
    const whileRunning = await loaded();
    // The quiet run ends now: it keeps nothing, whatever the clocks say.
    await store().recordQuietRun(tenantId, 'w', summary, new Date(start + 2_000), new Date(start + 3_500), {
      ...schedule(start + 2_000),
      quiet: true,
      snapshot: moved,
      leaseRunsStarted: beforeIt,
    });
    const afterOverlap = await loaded();
    // A quiet run that does not say what it loaded keeps nothing either.
    await store().recordQuietRun(tenantId, 'w', summary, new Date(start + 2_500), new Date(start + 3_600), {
      ...schedule(start + 2_500),
      quiet: true,
      snapshot: moved,
    });
    const unknownCount = await loaded();
    // A run under the lease that wrote: nothing kept.
    const busy = await store().startRun(tenantId, 'w', new Date(start + 4_000));
    await store().finishRun(busy, { ...summary, findingsImported: 2 }, new Date(start + 4_100), {
      ...schedule(start + 4_000),
      quiet: false,
      snapshot,
    });
    const afterBusy = await loaded();
    // A row that does not parse (written around the worker, or by a later release) is not used.
    await test.db
      .update(tenantSchedules)
      .set({ quietState: { readAtMs: 'soon', cursors: [] } })
      .where(eq(tenantSchedules.tenantId, tenantId));
    const unparsable = await loaded();

    expect(initially).toBe(0);
    expect(afterLeaseRun).toEqual(snapshot);
    expect(afterQuiet).toEqual(moved);
    expect(whileRunning).toBeUndefined();
    expect(afterOverlap).toBeUndefined();
    expect(unknownCount).toBeUndefined();
    expect(afterBusy).toBeUndefined();
    expect(unparsable).toBeUndefined();
    expect(await count()).toBe(3);
  });

  it('hands out "run now" requests before tenants that are merely overdue', async () => {
    const now = Date.now();
    const overdue = await newTenant('overdue', { nextRunAt: new Date(now - 3_600_000) });
    const requested = await newTenant('run now', {
      nextRunAt: new Date(now - 1000),
      runRequestedAt: new Date(now - 1000),
    });

    const claimed = await store().claimDueTenants(new Date(now), 1, 30_000);

    expect(claimed).toEqual([{ tenantId: requested, lastRunQuiet: false }]);
    expect((await store().claimDueTenants(new Date(now), 5, 30_000)).map((d) => d.tenantId)).toContain(
      overdue,
    );
  });

  it('refuses to call a stored Vaikora URL outside the policy, as the API would have', async () => {
    const tenantId = await newTenant('stale url', { nextRunAt: new Date() });
    const sealed = await secrets.seal('vk_test_key', { tenantId });
    await test.db.insert(vaikoraSettings).values({
      tenantId,
      baseUrl: 'http://169.254.169.254/latest',
      agentIds: ['agt-1'],
      apiKeyCiphertext: sealed,
      apiKeyKeyId: sealedKeyId(sealed),
    });

    const production = await store().loadTenant(tenantId);
    const local = await createDbTenantStore({
      db: test.db,
      secrets,
      logger: pino({ level: 'silent' }),
      baseUrlPolicy: { mode: 'local', allowedHosts: [] },
    }).loadTenant(tenantId);

    expect(production?.vaikora).toBeNull();
    expect(production?.vaikoraProblem?.code).toBe('VAIKORA_URL_NOT_ALLOWED');
    // Local mode allows http to loopback only: this address is neither.
    expect(local?.vaikoraProblem?.code).toBe('VAIKORA_URL_NOT_ALLOWED');
  });
});
