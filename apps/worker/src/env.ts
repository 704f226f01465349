import { hostname } from 'node:os';
import { PARTNER_PRODUCT_NAME } from '@vsh/core';
import { type MasterKeyConfig, masterKeyFromEnv } from '@vsh/secrets';
import type { BaseUrlPolicy } from '@vsh/vaikora';
import { z } from 'zod';

const optionalUrl = z.url().optional();
const ms = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** The worker's configuration: parsed once at start; a bad value stops the process naming the variable. */
export const workerEnvSchema = z
  .object({
    /** in-process: claim due tenants from the database and run them here (the embedded default);
     *  sqs-consumer: run tenants named by messages on WORK_QUEUE_URL; dispatcher: enqueue due tenants. */
    WORKER_MODE: z.enum(['in-process', 'sqs-consumer', 'dispatcher']).default('in-process'),
    DATABASE_URL: optionalUrl,
    /** Production: a Secrets Manager secret {host, port, username, password, dbname} (the CDK stack's). */
    DATABASE_SECRET_ARN: z.string().min(20).optional(),
    /** PGlite data folder when DATABASE_URL is unset. */
    DATA_DIR: z.string().default('.data/pglite'),
    /** production (the default): https to VAIKORA_ALLOWED_HOSTS only; local (pnpm start): http to loopback too. */
    APP_ENV: z.enum(['production', 'local']).default('production'),
    /** Hosts a tenant's Vaikora base URL may point at, as the API's variable of the same name. */
    VAIKORA_ALLOWED_HOSTS: z.string().default('api.vaikora.com'),
    MASTER_KEY: z.string().optional(),
    /** Master keys rotated out, comma-separated: still opened, never used to seal (ADR 0031). */
    MASTER_KEY_PREVIOUS: z.string().optional(),
    KMS_KEY_ID: z.string().optional(),
    STATE_TABLE_NAME: z.string().min(3).default('vsh-state'),
    /** Creates the state table when missing (local use; production creates it with the CDK stack). */
    STATE_TABLE_CREATE: z.stringbool().default(false),
    /**
     * Cursors in the lease item (ADR 0126). Set false for the first phase of the upgrade from a version
     * before it: reads both homes, writes cursor items only; turn on once no older worker runs.
     */
    STATE_INLINE_CURSORS: z.stringbool().default(true),
    DYNAMODB_ENDPOINT: optionalUrl,
    /** AWS endpoint override for STS, Security Hub and SQS (moto locally). */
    AWS_ENDPOINT_URL: optionalUrl,
    AWS_REGION: z.string().default('us-east-1'),
    WORK_QUEUE_URL: optionalUrl,
    // At most 80 bytes (not characters): the lease item that holds inline cursors stays under 1 KB (ADR 0126, 0128).
    WORKER_ID: z
      .string()
      .min(1)
      .refine((id) => Buffer.byteLength(id) <= 80, 'WORKER_ID must be at most 80 bytes')
      .default(`${hostname()}:${process.pid}`.slice(0, 80)),
    WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(8),
    SCHEDULER_TICK_MS: ms(2000),
    DISPATCH_INTERVAL_MS: ms(60_000),
    /** A dead worker's tenants are free this long after its last renewal (renewed every third of it). */
    LEASE_TTL_MS: ms(20_000),
    /** Longest one tenant run may take before it stops, keeps what it did and yields its slot. */
    RUN_BUDGET_MS: ms(5 * 60_000),
    /** A run older than this stops holding a concurrency slot (a slow upstream; see RunSlots). */
    SLOW_RUN_MS: ms(5000),
    /** Hard bound on runs at once in one process, slow ones included (default 4 x WORKER_CONCURRENCY). */
    WORKER_MAX_IN_FLIGHT: z.coerce.number().int().min(1).max(1024).optional(),
    OVERLAP_MS: ms(10 * 60_000),
    INITIAL_LOOKBACK_MS: ms(24 * 3600_000),
    RETENTION_MS: ms(7 * 24 * 3600_000),
    /**
     * Data443's allow-listed account for partner-product mode (ADR 0121); unset: the mode is not offered
     * and partner destinations are not run. The worker's own credentials must be that account's.
     */
    PARTNER_PRODUCT_ACCOUNT_ID: z
      .string()
      .regex(/^[0-9]{12}$/, 'must be a 12-digit AWS account id')
      .optional(),
    /** The product's `company/product` name as AWS assigned it. */
    PARTNER_PRODUCT_NAME: z
      .string()
      .regex(PARTNER_PRODUCT_NAME, 'must be company/product in lower-case words and dashes')
      .default('data443/vaikora'),
    /**
     * Role destinations import OCSF with BatchImportFindingsV2 (a partner preview, ADR 0120) instead of
     * BatchImportFindings; health findings stay on BatchImportFindings. Off unless the account is allow-listed.
     */
    FINDINGS_V2_PREVIEW: z.stringbool().default(false),
    IMPORT_RATE_PER_SECOND: z.coerce.number().positive().default(10),
    IMPORT_BURST: z.coerce.number().int().positive().default(30),
    METRICS_PORT: z.coerce.number().int().min(0).max(65_535).optional(),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .superRefine((e, ctx) => {
    const key = masterKeyFromEnv(e);
    if (!key.ok)
      for (const message of key.problems) ctx.addIssue({ code: 'custom', message, path: ['MASTER_KEY'] });
  })
  .refine((e) => e.WORKER_MODE === 'in-process' || e.WORK_QUEUE_URL !== undefined, {
    message: 'WORK_QUEUE_URL is required in the sqs-consumer and dispatcher modes',
    path: ['WORK_QUEUE_URL'],
  });
export type WorkerEnv = z.infer<typeof workerEnvSchema>;

/** Parses the environment, or returns the message that names every bad variable. */
export function parseWorkerEnv(
  env: Record<string, string | undefined>,
): { ok: true; env: WorkerEnv } | { ok: false; message: string } {
  const result = workerEnvSchema.safeParse(env);
  if (result.success) return { ok: true, env: result.data };
  const message = result.error.issues
    .map((i) => `${i.path.join('.') || 'environment'}: ${i.message}`)
    .join('\n');
  return { ok: false, message };
}

/**
 * How long a claimed tenant is held before any worker may claim it again: a little more than the
 * lease, so that a dead worker's tenant is due again soon after its lease runs out (within a minute
 * with the defaults), while a live run's renewals keep it from running twice.
 */
export function claimHoldMs(env: Pick<WorkerEnv, 'LEASE_TTL_MS'>): number {
  return env.LEASE_TTL_MS + 10_000;
}

/** The tuning every entry point hands the runtime, from one place (process and Lambda alike). */
export function runtimeTuningOf(env: WorkerEnv) {
  return {
    baseUrlPolicy: baseUrlPolicyOf(env),
    inlineCursors: env.STATE_INLINE_CURSORS,
    partnerProduct:
      env.PARTNER_PRODUCT_ACCOUNT_ID === undefined
        ? undefined
        : { accountId: env.PARTNER_PRODUCT_ACCOUNT_ID, name: env.PARTNER_PRODUCT_NAME },
    importRatePerSecond: env.IMPORT_RATE_PER_SECOND,
    importBurst: env.IMPORT_BURST,
    findingsV2Preview: env.FINDINGS_V2_PREVIEW,
    run: {
      leaseTtlMs: env.LEASE_TTL_MS,
      overlapMs: env.OVERLAP_MS,
      initialLookbackMs: env.INITIAL_LOOKBACK_MS,
      retentionMs: env.RETENTION_MS,
      runBudgetMs: env.RUN_BUDGET_MS,
    },
  };
}

/** The master key configuration (already validated by the schema). */
export function masterKeyOf(env: WorkerEnv): MasterKeyConfig {
  const key = masterKeyFromEnv(env);
  if (!key.ok) throw new Error(key.problems.join('; '));
  return key.config;
}

/** The Vaikora base-URL policy the worker enforces before every run (the API's, from the same variables). */
export function baseUrlPolicyOf(env: Pick<WorkerEnv, 'APP_ENV' | 'VAIKORA_ALLOWED_HOSTS'>): BaseUrlPolicy {
  return {
    mode: env.APP_ENV,
    allowedHosts: env.VAIKORA_ALLOWED_HOSTS.split(',')
      .map((h) => h.trim().toLowerCase())
      .filter((h) => h !== ''),
  };
}
