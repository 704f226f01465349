import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Database } from './client.ts';
import { type DbErrorCause, dbErrorCause } from './errors.ts';
import { newId } from './ids.ts';
import { fingerprintOf, safeText, storableRaw } from './raw.ts';
import { type NewRejectedRecord, type RejectionStage, rejectedRecords } from './schema/rejected-records.ts';

/** One rejection to keep, as the worker hands it over (ADR 0033). */
export interface RejectionToKeep {
  /** Where it was rejected (see `rejectionScope`): it is kept once per scope and fingerprint. */
  readonly scope: string;
  readonly destinationId: string | null;
  readonly actionId: string | null;
  readonly stage: RejectionStage;
  readonly code: string;
  readonly reason: string;
  /** The record as received; absent when there is none (a finding Security Hub refused). */
  readonly raw?: unknown;
  /** The reader's identity of the record (sha256 of its bytes as received), when it has one. */
  readonly fingerprint?: string | undefined;
}

/** What keeping a batch did (the worker's `KeptRejections`). */
export interface KeptRejectionCounts {
  /** Records seen for the first time in their scope. */
  readonly inserted: number;
  /** Records already kept in their scope: their count, last-seen time and last run went up. */
  readonly repeated: number;
  /** Records the database refused even as a minimal row; logged at error level with their fingerprints. */
  readonly failed: number;
}

/** The two levels `keepRejectedRecords` logs at; a pino `Logger` is one. */
export interface RejectionLogger {
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface KeepRejectedRecordsInput {
  readonly tenantId: string;
  /** The run that saw them; null for a backfill (which then leaves `last_run_id` as it was). */
  readonly runId: string | null;
  readonly rejections: readonly RejectionToKeep[];
  /** Fields added to every log line (e.g. a backfill's id). */
  readonly logFields?: Record<string, string>;
}

const AGENT_ID = /^[\x21-\x7e]{1,256}$/;

/**
 * The scope a rejection is kept once under: the destination whose stream rejected it, `agent:<agentId>`
 * for a record rejected while reading (before any destination, so once for all the agent's streams), or
 * `tenant` when neither is known (a backfill over every agent). An agent id the API would not have
 * accepted is replaced by its hash, so the scope stays short and printable.
 */
export function rejectionScope(destinationId: string | null, agentId: string | null): string {
  if (destinationId !== null) return destinationId;
  if (agentId === null) return 'tenant';
  return AGENT_ID.test(agentId)
    ? `agent:${agentId}`
    : `agent#${createHash('sha256').update(agentId).digest('base64url')}`;
}

// drizzle sends one statement per chunk; 500 rows of 17 columns stay far below PostgreSQL's 65,535 parameters.
const CHUNK_ROWS = 500;
const MAX_REASON_BYTES = 2_000;
const MAX_ACTION_ID_BYTES = 512;
const MAX_CODE_BYTES = 100;
const FINGERPRINT = /^[A-Za-z0-9_-]{16,128}$/;

/**
 * Keeps rejected records once per (tenant, scope, fingerprint): a new record is inserted, a record already
 * kept has its `occurrences`, `last_seen_at` and `last_run_id` bumped, in one upsert per chunk. Never
 * throws: when the database refuses a chunk, it logs the database's code and message once (never the SQL,
 * its parameters or the records) and retries that chunk as minimal rows (no raw text, no links to the run
 * or the destination, `raw not stored: <code>` as the reason); when that fails too it logs the records'
 * fingerprints and reasons at error level and counts them as failed.
 */
export async function keepRejectedRecords(
  db: Database,
  input: KeepRejectedRecordsInput,
  log: RejectionLogger,
): Promise<KeptRejectionCounts> {
  const counts = { inserted: 0, repeated: 0, failed: 0 };
  const fields = { ...input.logFields, tenantId: input.tenantId, runId: input.runId };
  const { rows, unusable } = uniqueRows(input);
  if (unusable > 0) {
    counts.failed += unusable;
    log.error({ ...fields, records: unusable }, 'rejected records not kept: not rejections (a caller bug)');
  }
  for (let i = 0; i < rows.length; i += CHUNK_ROWS) {
    const chunk = rows.slice(i, i + CHUNK_ROWS);
    let cause: DbErrorCause;
    try {
      add(counts, await upsert(db, chunk));
      continue;
    } catch (error) {
      cause = dbErrorCause(error);
      log.warn(
        { ...fields, records: chunk.length, cause },
        'rejected records refused by the database; keeping them without their raw text',
      );
    }
    try {
      add(
        counts,
        await upsert(
          db,
          chunk.map((row) => minimal(row, cause.code)),
        ),
      );
    } catch (error) {
      counts.failed += chunk.length;
      log.error(
        {
          ...fields,
          cause: dbErrorCause(error),
          dropped: chunk.map((row) => ({
            scope: row.scope,
            fingerprint: row.fingerprint,
            code: row.code,
            reason: row.reason.slice(0, 200),
          })),
        },
        'rejected records not kept',
      );
    }
  }
  return counts;
}

function add(counts: { inserted: number; repeated: number }, inserted: readonly boolean[]): void {
  for (const isNew of inserted) {
    if (isNew) counts.inserted++;
    else counts.repeated++;
  }
}

/**
 * The rows of a batch, one per (scope, fingerprint) since PostgreSQL refuses an upsert that touches a row
 * twice, in key order so that two upserts of overlapping batches lock rows in the same order. An item that
 * is not a rejection at run time (a caller breaking the types) is counted as unusable instead of throwing.
 */
function uniqueRows(input: KeepRejectedRecordsInput): { rows: NewRejectedRecord[]; unusable: number } {
  const rows = new Map<string, NewRejectedRecord>();
  let unusable = 0;
  for (const rejection of input.rejections) {
    try {
      const row = rowOf(input, rejection);
      const key = `${row.scope}\n${row.fingerprint}`;
      if (!rows.has(key)) rows.set(key, row);
    } catch {
      unusable++;
    }
  }
  const sorted = [...rows.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { rows: sorted.map(([, row]) => row), unusable };
}

function rowOf(input: KeepRejectedRecordsInput, rejection: RejectionToKeep): NewRejectedRecord {
  const raw = storableRaw(rejection.raw);
  return {
    id: newId('rej'),
    tenantId: input.tenantId,
    scope: safeText(rejection.scope, 300),
    fingerprint: identityOf(rejection, raw.fingerprint),
    destinationId: rejection.destinationId,
    runId: input.runId,
    lastRunId: input.runId,
    actionId: rejection.actionId === null ? null : safeText(rejection.actionId, MAX_ACTION_ID_BYTES),
    stage: rejection.stage,
    code: safeText(rejection.code, MAX_CODE_BYTES),
    reason: safeText(rejection.reason, MAX_REASON_BYTES),
    raw: raw.text,
    rawBytes: raw.text === null ? null : raw.bytes,
    rawUnstoredReason: raw.unstoredReason,
  };
}

/**
 * The record's identity within its scope: the reader's fingerprint when it gave a well-formed one, else
 * the fingerprint of the raw value, else (no raw: a finding Security Hub refused) of what is known of it.
 */
function identityOf(rejection: RejectionToKeep, rawFingerprint: string): string {
  const given = rejection.fingerprint;
  if (given !== undefined && FINGERPRINT.test(given)) return given;
  if (given !== undefined) return fingerprintOf(['reader', String(given)]);
  if (rejection.raw !== undefined) return rawFingerprint;
  return fingerprintOf(['no raw', rejection.stage, rejection.code, rejection.actionId ?? rejection.reason]);
}

/** A row with nothing the database could object to but the tenant's key: no raw text, no run or destination link. */
function minimal(row: NewRejectedRecord, code: string): NewRejectedRecord {
  return {
    ...row,
    destinationId: null,
    runId: null,
    lastRunId: null,
    raw: null,
    rawBytes: null,
    rawUnstoredReason: `raw not stored: ${safeText(code, 40)}`,
  };
}

/** One upsert; for each row, whether it was inserted (`xmax = 0`: no earlier version) or updated. */
async function upsert(db: Database, rows: NewRejectedRecord[]): Promise<boolean[]> {
  const t = rejectedRecords;
  const result = await db
    .insert(t)
    .values(rows)
    .onConflictDoUpdate({
      target: [t.tenantId, t.scope, t.fingerprint],
      set: {
        occurrences: sql`${t.occurrences} + 1`,
        lastSeenAt: sql`greatest(${t.lastSeenAt}, now())`,
        lastRunId: sql`coalesce(excluded.last_run_id, ${t.lastRunId})`,
        // A row kept minimal earlier gets its raw text when a later recording can store it.
        raw: sql`coalesce(${t.raw}, excluded.raw)`,
        rawBytes: sql`case when ${t.raw} is null then excluded.raw_bytes else ${t.rawBytes} end`,
        rawUnstoredReason: sql`case when ${t.raw} is null then excluded.raw_unstored_reason else ${t.rawUnstoredReason} end`,
      },
    })
    .returning({ inserted: sql<boolean>`(xmax = 0)` });
  return result.map((row) => row.inserted === true);
}
