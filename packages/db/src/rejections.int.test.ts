import { eq } from 'drizzle-orm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Database } from './client.ts';
import { newId } from './ids.ts';
import { migrate } from './migrate.ts';
import { storableRaw } from './raw.ts';
import { keepRejectedRecords, type RejectionLogger, type RejectionToKeep } from './rejections.ts';
import { rejectedRecords, runs, tenants } from './schema/index.ts';
import { createTestDatabase } from './testing.ts';

interface Backend {
  name: string;
  open(): Promise<{ db: Database; close(): Promise<void> }>;
}

// What PostgreSQL refuses (NUL in text, \u0000 and lone surrogates in jsonb) PGlite refuses too.
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

const anyRecord = fc.anything({
  stringUnit: 'binary',
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withSparseArray: true,
  withTypedArray: true,
});
const anyUnits = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((u) => String.fromCharCode(u)) });
const anyText = fc.oneof(fc.string({ unit: 'binary' }), anyUnits);
const deep = fc.integer({ min: 1, max: 20_000 }).map((depth) => {
  let value: unknown = '\u0000\ud800';
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { k: value };
  return value;
});
const huge = fc
  .tuple(anyText, fc.integer({ min: 9_000, max: 60_000 }))
  .map(([text, n]) => ({ blob: `${text}\u0000`.repeat(Math.ceil(n / (text.length + 1))) }));
const anyRejection: fc.Arbitrary<RejectionToKeep> = fc.record({
  scope: fc.oneof(
    fc.constant('tenant'),
    anyText.map((t) => `agent:${t}`),
  ),
  destinationId: fc.constant(null),
  actionId: fc.option(anyText),
  stage: fc.constantFrom('parse' as const, 'validate' as const, 'import' as const),
  code: anyText,
  reason: anyText,
  raw: fc.oneof(anyRecord, anyText, deep, huge),
  fingerprint: fc.option(anyText, { nil: undefined }),
});

/** A logger that keeps what it was told, for asserting nothing was refused. */
function recordingLogger(): RejectionLogger & { lines: Array<{ level: string; fields: object }> } {
  const lines: Array<{ level: string; fields: object }> = [];
  return {
    lines,
    warn: (fields) => lines.push({ level: 'warn', fields }),
    error: (fields) => lines.push({ level: 'error', fields }),
  };
}

describe.each(backends)('keeping rejected records on $name', (backend) => {
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

  it('stores what storableRaw makes of any value, as it is, in the real column', async () => {
    const tenantId = await newTenant();
    await fc.assert(
      fc.asyncProperty(fc.oneof(anyRecord, anyText, deep, huge), async (value) => {
        const kept = storableRaw(value);

        await db.insert(rejectedRecords).values({
          tenantId,
          scope: 'tenant',
          fingerprint: newId('rej'),
          stage: 'parse',
          code: 'MALFORMED_RECORD',
          reason: kept.unstoredReason ?? 'generated',
          raw: kept.text,
          rawBytes: kept.bytes,
          rawUnstoredReason: kept.unstoredReason,
        });
      }),
      { numRuns: 300 },
    );
  });

  it('keeps batches of any rejections without a refusal, each once per scope and fingerprint', async () => {
    const tenantId = await newTenant();
    const log = recordingLogger();
    await fc.assert(
      fc.asyncProperty(fc.array(anyRejection, { maxLength: 12 }), async (batch) => {
        const kept = await keepRejectedRecords(db, { tenantId, runId: null, rejections: batch }, log);

        expect(log.lines).toEqual([]);
        expect(kept.failed).toBe(0);
        expect(kept.inserted + kept.repeated).toBeLessThanOrEqual(batch.length);
        if (batch.length > 0) expect(kept.inserted + kept.repeated).toBeGreaterThan(0);
      }),
      { numRuns: 150 },
    );
  });

  it('keeps a record seen by three runs once, counted three times, and remembers the first and last run', async () => {
    const tenantId = await newTenant();
    const runIds = [newId('run'), newId('run'), newId('run')];
    await db.insert(runs).values(runIds.map((id) => ({ id, tenantId })));
    const rejection: RejectionToKeep = {
      scope: 'agent:a',
      destinationId: null,
      actionId: null,
      stage: 'parse',
      code: 'MISSING_ID',
      reason: 'no id',
      raw: { note: 'nul \u0000 here' },
    };
    const log = recordingLogger();

    const results = [];
    for (const runId of runIds) {
      results.push(
        await keepRejectedRecords(db, { tenantId, runId, rejections: [rejection, rejection] }, log),
      );
    }

    expect(results).toEqual([
      { inserted: 1, repeated: 0, failed: 0 },
      { inserted: 0, repeated: 1, failed: 0 },
      { inserted: 0, repeated: 1, failed: 0 },
    ]);
    const rows = await db.select().from(rejectedRecords).where(eq(rejectedRecords.tenantId, tenantId));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      occurrences: 3,
      runId: runIds[0],
      lastRunId: runIds[2],
      raw: '{"note":"nul \\u0000 here"}',
      rawBytes: 26,
    });
    expect(log.lines).toEqual([]);
  });
});
