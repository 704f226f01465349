import { and, asc, eq, inArray, lte, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Database } from './client.ts';
import { pgErrorCodes, pgErrorOf } from './errors.ts';
import { newId } from './ids.ts';
import { migrate } from './migrate.ts';
import {
  auditLog,
  awsDestinations,
  type NewAwsDestination,
  type NewVaikoraSettings,
  rejectedRecords,
  runs,
  streams,
  tenantSchedules,
  tenants,
  vaikoraSettings,
} from './schema/index.ts';
import { createTestDatabase } from './testing.ts';

interface Backend {
  name: string;
  open(): Promise<{ db: Database; close(): Promise<void> }>;
}

// The same rules must hold on the production database and on the embedded default.
const backends: Backend[] = [
  {
    name: 'PostgreSQL',
    open: async () => {
      const test = await createTestDatabase();
      return { db: test.db, close: test.drop };
    },
  },
  {
    name: 'PGlite',
    open: async () => {
      const handle = await createDb({ kind: 'pglite', dataDir: 'memory' });
      await migrate(handle.db);
      return handle;
    },
  },
];

async function rejectionOf(promise: Promise<unknown>): Promise<ReturnType<typeof pgErrorOf>> {
  try {
    await promise;
  } catch (error) {
    return pgErrorOf(error);
  }
  throw new Error('expected the database to refuse the statement');
}

describe.each(backends)('constraints on $name', (backend) => {
  let db: Database;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ db, close } = await backend.open());
  });
  afterAll(async () => {
    await close();
  });

  async function newTenant(): Promise<string> {
    const [row] = await db.insert(tenants).values({ name: 'Acme' }).returning({ id: tenants.id });
    if (!row) throw new Error('no tenant inserted');
    return row.id;
  }

  function settings(tenantId: string, overrides: Partial<NewVaikoraSettings> = {}): NewVaikoraSettings {
    return {
      tenantId,
      baseUrl: 'https://api.vaikora.com/api/v1',
      apiKeyCiphertext: 'vsh.v1.sealed',
      apiKeyKeyId: 'local:0011aabb',
      ...overrides,
    };
  }

  function destination(tenantId: string, overrides: Partial<NewAwsDestination> = {}): NewAwsDestination {
    return {
      tenantId,
      accountId: '123456789012',
      regions: ['us-east-1'],
      externalId: newId('dst'),
      roleName: 'VaikoraSecurityHubImport',
      ...overrides,
    };
  }

  it('fills prefixed ids, defaults and timestamps on insert', async () => {
    const tenantId = await newTenant();

    const [row] = await db.insert(vaikoraSettings).values(settings(tenantId)).returning();

    expect(tenantId).toMatch(/^ten_/);
    expect(row).toMatchObject({
      pollIntervalSeconds: 300,
      agentIds: [],
      thresholds: { minRiskLevel: 'high', includeAnomalies: true, includeThreats: true },
      verifiedAt: null,
    });
    expect(row?.createdAt).toBeInstanceOf(Date);
  });

  it('refuses a poll interval under 60 seconds and accepts 60', async () => {
    const tenantId = await newTenant();

    const refused = await rejectionOf(
      db.insert(vaikoraSettings).values(settings(tenantId, { pollIntervalSeconds: 59 })),
    );
    await db.insert(vaikoraSettings).values(settings(tenantId, { pollIntervalSeconds: 60 }));

    expect(refused).toEqual({
      code: pgErrorCodes.checkViolation,
      constraint: 'vaikora_settings_poll_interval_check',
    });
  });

  it.each(['12345678901', '1234567890123', '12345678901a', ' 123456789012'])(
    'refuses the account id %j, which is not 12 digits',
    async (accountId) => {
      const tenantId = await newTenant();

      const refused = await rejectionOf(
        db.insert(awsDestinations).values(destination(tenantId, { accountId })),
      );

      expect(refused).toEqual({
        code: pgErrorCodes.checkViolation,
        constraint: 'aws_destinations_account_id_check',
      });
    },
  );

  it('refuses an ExternalId already used, even by another tenant', async () => {
    const [first, second] = [await newTenant(), await newTenant()];
    const externalId = newId('dst');
    await db.insert(awsDestinations).values(destination(first, { externalId }));

    const refused = await rejectionOf(
      db.insert(awsDestinations).values(destination(second, { externalId, accountId: '210987654321' })),
    );

    expect(refused).toEqual({
      code: pgErrorCodes.uniqueViolation,
      constraint: 'aws_destinations_external_id_unique',
    });
  });

  it.each(['has space', 'x', 'x'.repeat(1225)])(
    "refuses the ExternalId %j, outside IAM's limits",
    async (externalId) => {
      const tenantId = await newTenant();

      const refused = await rejectionOf(
        db.insert(awsDestinations).values(destination(tenantId, { externalId })),
      );

      expect(refused?.constraint).toBe('aws_destinations_external_id_check');
    },
  );

  it('refuses the same account twice for one tenant but allows it for another', async () => {
    const [first, second] = [await newTenant(), await newTenant()];
    await db.insert(awsDestinations).values(destination(first));

    const refused = await rejectionOf(db.insert(awsDestinations).values(destination(first)));
    await db.insert(awsDestinations).values(destination(second));

    expect(refused?.constraint).toBe('aws_destinations_tenant_account_unique');
  });

  it('refuses regions that are not a non-empty JSON array', async () => {
    const tenantId = await newTenant();

    const empty = await rejectionOf(
      db.insert(awsDestinations).values(destination(tenantId, { regions: [] })),
    );

    expect(empty?.constraint).toBe('aws_destinations_regions_check');
  });

  it('refuses a stream whose destination belongs to another tenant', async () => {
    const [owner, intruder] = [await newTenant(), await newTenant()];
    const [dst] = await db.insert(awsDestinations).values(destination(owner)).returning();
    if (!dst) throw new Error('no destination inserted');

    const refused = await rejectionOf(
      db
        .insert(streams)
        .values({ tenantId: intruder, destinationId: dst.id, agentId: 'agent-1', region: 'us-east-1' }),
    );

    expect(refused).toEqual({ code: pgErrorCodes.foreignKeyViolation, constraint: 'streams_destination_fk' });
  });

  it('removes streams with their destination and keeps its rejected records, unlinked and still distinct', async () => {
    const tenantId = await newTenant();
    const [dst] = await db.insert(awsDestinations).values(destination(tenantId)).returning();
    if (!dst) throw new Error('no destination inserted');
    await db
      .insert(streams)
      .values({ tenantId, destinationId: dst.id, agentId: 'agent-1', region: 'eu-west-1' });
    const rejected = (fingerprint: string) => ({
      tenantId,
      scope: dst.id,
      fingerprint,
      destinationId: dst.id,
      stage: 'import' as const,
      code: 'InvalidInput',
      reason: 'rejected by Security Hub',
    });
    await db.insert(rejectedRecords).values([rejected('fp-one'), rejected('fp-two')]);

    await db.delete(awsDestinations).where(eq(awsDestinations.id, dst.id));

    expect(await db.select().from(streams).where(eq(streams.tenantId, tenantId))).toEqual([]);
    const kept = await db.select().from(rejectedRecords).where(eq(rejectedRecords.tenantId, tenantId));
    expect(kept).toHaveLength(2);
    expect(kept.map((r) => [r.destinationId, r.scope])).toEqual([
      [null, dst.id],
      [null, dst.id],
    ]);
  });

  it('keeps a rejected record once per tenant, scope and fingerprint', async () => {
    const tenantId = await newTenant();
    const row = {
      tenantId,
      scope: 'agent:a',
      fingerprint: 'fp',
      stage: 'parse' as const,
      code: 'X',
      reason: 'r',
    };
    await db.insert(rejectedRecords).values(row);

    const refused = await rejectionOf(db.insert(rejectedRecords).values(row));
    await db.insert(rejectedRecords).values({ ...row, scope: 'agent:b' });

    expect(refused).toEqual({
      code: pgErrorCodes.uniqueViolation,
      constraint: 'rejected_records_scope_fingerprint_key',
    });
  });

  it('refuses a raw record past the size ceiling, or without its full size', async () => {
    const tenantId = await newTenant();
    const row = { tenantId, scope: 'tenant', stage: 'parse' as const, code: 'NOT_JSON', reason: 'too big' };

    const tooBig = await rejectionOf(
      db
        .insert(rejectedRecords)
        .values({ ...row, fingerprint: 'a', raw: 'x'.repeat(40_000), rawBytes: 40_000 }),
    );
    const sizeless = await rejectionOf(
      db.insert(rejectedRecords).values({ ...row, fingerprint: 'b', raw: 'x' }),
    );
    const understated = await rejectionOf(
      db.insert(rejectedRecords).values({ ...row, fingerprint: 'c', raw: 'xyz', rawBytes: 2 }),
    );

    expect(tooBig?.constraint).toBe('rejected_records_raw_size_check');
    expect(sizeless?.constraint).toBe('rejected_records_raw_bytes_check');
    expect(understated?.constraint).toBe('rejected_records_raw_bytes_check');
  });

  it('keeps a run finished exactly when its status is not running, with at most 50 recent findings', async () => {
    const tenantId = await newTenant();
    const finding = {
      id: 'vaikora-a1',
      title: 't',
      severity: 'HIGH',
      time: '2026-01-01T00:00:00Z',
      region: 'us-east-1',
    };

    const unfinished = await rejectionOf(db.insert(runs).values({ tenantId, status: 'ok' }));
    const tooMany = await rejectionOf(
      db.insert(runs).values({
        tenantId,
        status: 'ok',
        finishedAt: new Date(),
        recentFindings: Array.from({ length: 51 }, () => finding),
      }),
    );
    await db
      .insert(runs)
      .values({ tenantId, status: 'partial', finishedAt: new Date(), recentFindings: [finding] });

    expect(unfinished?.constraint).toBe('runs_finished_check');
    expect(tooMany?.constraint).toBe('runs_recent_findings_check');
  });

  it('requires offboarded_at exactly when a tenant is offboarded', async () => {
    const tenantId = await newTenant();

    const refused = await rejectionOf(
      db.update(tenants).set({ state: 'offboarded' }).where(eq(tenants.id, tenantId)),
    );
    await db
      .update(tenants)
      .set({ state: 'offboarded', offboardedAt: new Date() })
      .where(eq(tenants.id, tenantId));

    expect(refused?.constraint).toBe('tenants_offboarded_at_check');
  });

  it('keeps the audit log append-only', async () => {
    const [entry] = await db
      .insert(auditLog)
      .values({ actor: 'operator', action: 'tenant.create', target: 'ten_x', details: { name: 'Acme' } })
      .returning();
    if (!entry) throw new Error('no audit entry inserted');

    const update = await rejectionOf(
      db.update(auditLog).set({ action: 'edited' }).where(eq(auditLog.id, entry.id)),
    );
    const remove = await rejectionOf(db.delete(auditLog).where(eq(auditLog.id, entry.id)));
    const truncate = await rejectionOf(db.execute(sql`truncate audit_log`));

    expect([update?.code, remove?.code, truncate?.code]).toEqual(['42501', '42501', '42501']);
    expect(await db.select().from(auditLog).where(eq(auditLog.id, entry.id))).toHaveLength(1);
  });

  it('finds due tenants by next_run_at, soonest first, and rolls a transaction back whole', async () => {
    const [due, later] = [await newTenant(), await newTenant()];
    const now = new Date('2030-01-01T00:00:00Z');
    await db.insert(tenantSchedules).values([
      { tenantId: due, nextRunAt: new Date('2029-12-31T23:59:00Z') },
      { tenantId: later, nextRunAt: new Date('2030-01-01T00:05:00Z') },
    ]);

    const found = await db.transaction((tx) =>
      tx
        .select({ tenantId: tenantSchedules.tenantId })
        .from(tenantSchedules)
        .where(and(lte(tenantSchedules.nextRunAt, now), inArray(tenantSchedules.tenantId, [due, later])))
        .orderBy(asc(tenantSchedules.nextRunAt))
        .limit(10)
        .for('update', { skipLocked: true }),
    );
    await db
      .transaction(async (tx) => {
        await tx
          .update(tenantSchedules)
          .set({ runRequestedAt: now })
          .where(eq(tenantSchedules.tenantId, later));
        throw new Error('abort');
      })
      .catch(() => undefined);
    const laterRow = await db.query.tenantSchedules.findFirst({ where: eq(tenantSchedules.tenantId, later) });

    expect(found.map((row) => row.tenantId)).toEqual([due]);
    expect(laterRow?.runRequestedAt).toBeNull();
  });

  it('loads a tenant with its destinations and streams through relational queries', async () => {
    const tenantId = await newTenant();
    const [dst] = await db.insert(awsDestinations).values(destination(tenantId)).returning();
    if (!dst) throw new Error('no destination inserted');
    await db
      .insert(streams)
      .values({ tenantId, destinationId: dst.id, agentId: 'agent-7', region: 'us-west-2' });

    const tenant = await db.query.tenants.findFirst({
      where: eq(tenants.id, tenantId),
      with: { destinations: { with: { streams: true } } },
    });

    expect(tenant?.destinations.map((d) => d.streams.map((s) => s.agentId))).toEqual([['agent-7']]);
  });
});
