import { randomBytes } from 'node:crypto';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { auditLog, createDb, type Database, migrate, rejectedRecords, runs } from '@vsh/db';
import { createTestDatabase, type TestDatabase } from '@vsh/db/testing';
import { createSecretBox, LocalMasterKeyProvider } from '@vsh/secrets';
import { afterAll, beforeAll, expect } from 'vitest';
import { createApp } from '../app.ts';
import type { ApiConfig, ApiDeps, AppEnv, VaikoraClientFactory } from '../deps.ts';
import { createLogger } from '../logger.ts';
import { createApiKeyCache } from '../middleware/key-cache.ts';
import type { DestinationVerifier, VerificationResult } from '../verify/checks.ts';

export const TEST_OPERATOR_KEY = `op_${randomBytes(32).toString('base64url')}`;
export const TEST_DATA443_ACCOUNT = '444455556666';
export const TEST_TEMPLATE_URL = 'https://templates.example.com/vaikora/customer-role.yaml';

/** App config for tests: local mode, limits high enough that only the tests about them hit them. */
export function testConfig(overrides: Partial<ApiConfig> = {}): ApiConfig {
  return {
    mode: 'local',
    data443AccountId: TEST_DATA443_ACCOUNT,
    workerRoleName: 'vsh-connector-worker',
    customerTemplateUrl: TEST_TEMPLATE_URL,
    vaikoraAllowedHosts: ['api.vaikora.com'],
    maxBodyBytes: 64 * 1024,
    rateLimit: { perMinute: 1_000_000, burst: 1_000_000 },
    authFailuresPerMinute: 1_000_000,
    ...overrides,
  };
}

/** A verifier that passes every check, without AWS. */
export const passingVerifier: DestinationVerifier = {
  async verify(input): Promise<VerificationResult> {
    return {
      ok: true,
      checks: [
        { name: 'ASSUME_ROLE', ok: true, code: 'OK', message: 'assumed (stub)' },
        { name: 'EXTERNAL_ID_REQUIRED', ok: true, code: 'OK', message: 'enforced (stub)' },
        ...input.regions.map((region) => ({
          name: 'SECURITY_HUB' as const,
          ok: true,
          code: 'OK' as const,
          region,
          message: 'enabled (stub)',
        })),
      ],
    };
  },
};

/** A Vaikora client factory without Vaikora: keys containing `bad` are refused, every other key works. */
export const stubVaikora: VaikoraClientFactory = (input) => ({
  async verify() {
    return input.apiKey.includes('bad')
      ? { ok: false as const, code: 'UNAUTHORIZED' as const, message: 'HTTP 401 from Vaikora' }
      : { ok: true as const, total: 0 };
  },
});

/**
 * The API's dependencies for a test or a tool, with no database unless `overrides.db` gives one: enough
 * for what never queries (route registration, the OpenAPI document, static pages, refusals before a
 * handler). `overrides` replace any dependency (a database, a clock, a failing port, a stub client).
 */
export function testApiDeps(overrides: Partial<ApiDeps> = {}): ApiDeps {
  return {
    db: {} as Database,
    secretBox: createSecretBox(
      new LocalMasterKeyProvider({ primaryKey: randomBytes(32).toString('base64') }),
    ),
    clock: () => new Date(),
    logger: createLogger({ level: 'silent' }),
    config: testConfig(),
    operatorApiKey: TEST_OPERATOR_KEY,
    verifier: passingVerifier,
    vaikoraClient: stubVaikora,
    expectedMigrations: 0,
    ...overrides,
  };
}

export interface HarnessOptions {
  database?: 'postgres' | 'pglite';
  config?: Partial<ApiConfig>;
  verifier?: DestinationVerifier;
  vaikoraClient?: VaikoraClientFactory;
  clock?: () => Date;
  onRunNow?: ApiDeps['onRunNow'];
  /** PostgreSQL only: every statement the API sends is pushed here (tests that count them). */
  statements?: string[];
}

export interface TestResponse {
  status: number;
  headers: Headers;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are read field by field in assertions.
  body: any;
}

export interface RequestOptions {
  /** Bearer key; default the operator key; null sends no Authorization header. */
  key?: string | null;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as is (with `content-type: application/json` unless headers say otherwise). */
  rawBody?: string;
  headers?: Record<string, string>;
}

export interface Captured {
  what: string;
  text: string;
}

/**
 * A test API on a fresh database, with every log line and response body captured. When the file ends it
 * checks that no Vaikora key sent to the API and no tenant API key it issued appears in any log line, any
 * response other than the one that created it, or the audit log; then it drops the database.
 */
export interface Harness {
  readonly app: OpenAPIHono<AppEnv>;
  readonly db: Database;
  readonly deps: ApiDeps;
  readonly logs: string[];
  request(method: string, path: string, options?: RequestOptions): Promise<TestResponse>;
  /** Creates a tenant through the API; returns its id and its first key. */
  createTenant(name?: string): Promise<{ tenantId: string; key: string }>;
  /** Marks a value as secret for the end-of-file leak check. */
  trackSecret(value: string): void;
}

export interface LeakInputs {
  /** Each secret, with the index of the one captured response allowed to carry it (its creation). */
  secrets: ReadonlyMap<string, number | undefined>;
  captured: readonly Captured[];
  logs: readonly string[];
  audit: readonly string[];
}

/** Where any secret appears outside the one response allowed to show it. */
export function findLeaks(inputs: LeakInputs): string[] {
  const leaks: string[] = [];
  for (const [secret, allowedIn] of inputs.secrets) {
    for (const [index, item] of inputs.captured.entries()) {
      if (index !== allowedIn && item.text.includes(secret)) leaks.push(`${item.what} carries a secret`);
    }
    for (const line of inputs.logs)
      if (line.includes(secret)) leaks.push(`a log line carries a secret: ${line.slice(0, 120)}`);
    for (const row of inputs.audit) if (row.includes(secret)) leaks.push('an audit entry carries a secret');
  }
  return leaks;
}

/** Registers beforeAll/afterAll for a harness and returns it (usable inside tests and hooks). */
export function useHarness(options: HarnessOptions = {}): Harness {
  let state:
    | { app: OpenAPIHono<AppEnv>; db: Database; deps: ApiDeps; close: () => Promise<void> }
    | undefined;
  const logs: string[] = [];
  const captured: Captured[] = [];
  const secrets = new Map<string, number | undefined>();

  const live = () => {
    if (state === undefined) throw new Error('harness used before beforeAll');
    return state;
  };

  beforeAll(async () => {
    let db: Database;
    let close: () => Promise<void>;
    if ((options.database ?? 'postgres') === 'postgres') {
      const statements = options.statements;
      const test: TestDatabase = await createTestDatabase(
        statements === undefined ? {} : { logger: { logQuery: (query) => void statements.push(query) } },
      );
      db = test.db;
      close = test.drop;
    } else {
      const handle = await createDb({ kind: 'pglite', dataDir: 'memory' });
      await migrate(handle.db);
      db = handle.db;
      close = handle.close;
    }
    const logger = createLogger({
      level: 'trace',
      destination: {
        write(line: string) {
          logs.push(line);
        },
      },
    });
    const clock = options.clock ?? (() => new Date());
    const deps: ApiDeps = {
      db,
      secretBox: createSecretBox(
        new LocalMasterKeyProvider({ primaryKey: randomBytes(32).toString('base64') }),
      ),
      clock,
      logger,
      config: testConfig(options.config),
      operatorApiKey: TEST_OPERATOR_KEY,
      verifier: options.verifier ?? passingVerifier,
      vaikoraClient: options.vaikoraClient ?? stubVaikora,
      onRunNow: options.onRunNow,
      apiKeyCache: createApiKeyCache({ clock, logger }),
    };
    state = { app: createApp(deps), db, deps, close };
  });

  afterAll(async () => {
    if (state === undefined) return;
    try {
      const audit = await state.db.select().from(auditLog);
      expect(findLeaks({ secrets, captured, logs, audit: audit.map((row) => JSON.stringify(row)) })).toEqual(
        [],
      );
    } finally {
      await state.close();
    }
  });

  const harness: Harness = {
    get app() {
      return live().app;
    },
    get db() {
      return live().db;
    },
    get deps() {
      return live().deps;
    },
    logs,
    trackSecret(value) {
      if (!secrets.has(value)) secrets.set(value, undefined);
    },
    async request(method, path, requestOptions = {}) {
      const headers: Record<string, string> = { ...requestOptions.headers };
      const key = requestOptions.key === undefined ? TEST_OPERATOR_KEY : requestOptions.key;
      if (key !== null) headers.authorization ??= `Bearer ${key}`;
      let body: string | undefined;
      if (requestOptions.body !== undefined) body = JSON.stringify(requestOptions.body);
      if (requestOptions.rawBody !== undefined) body = requestOptions.rawBody;
      if (body !== undefined) headers['content-type'] ??= 'application/json';
      trackRequestSecrets(requestOptions.body);
      const response = await live().app.request(path, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
      });
      const text = await response.text();
      let parsed: unknown;
      try {
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      const index =
        captured.push({ what: `response ${method} ${path.slice(0, 80)} ${response.status}`, text }) - 1;
      trackIssuedKeys(parsed, index);
      return { status: response.status, headers: response.headers, text, body: parsed };
    },
    async createTenant(name = `tenant ${randomBytes(3).toString('hex')}`) {
      const response = await harness.request('POST', '/v1/tenants', { body: { name } });
      expect(response.status).toBe(201);
      return { tenantId: response.body.tenant.id as string, key: response.body.apiKey.key as string };
    },
  };

  function trackRequestSecrets(body: unknown): void {
    if (typeof body === 'object' && body !== null && 'apiKey' in body) {
      const apiKey = (body as { apiKey: unknown }).apiKey;
      // Vaikora keys look like vk_live_... / vk_test_...; other strings sent as a key (fuzz input) are not
      // secrets and could match ordinary text by chance.
      if (typeof apiKey === 'string' && /^vk_(live|test)_.{8,}$/.test(apiKey)) harness.trackSecret(apiKey);
    }
  }

  // The one response allowed to carry a tenant key is the one that issued it.
  function trackIssuedKeys(body: unknown, index: number): void {
    if (typeof body !== 'object' || body === null) return;
    const record = body as { key?: unknown; apiKey?: { key?: unknown } };
    for (const key of [record.key, record.apiKey?.key]) {
      if (typeof key === 'string' && key.startsWith('vsh_') && !secrets.has(key)) secrets.set(key, index);
    }
  }

  return harness;
}

/** Inserts a finished run as the worker would record it. */
export async function seedRun(
  db: Database,
  tenantId: string,
  values: Partial<typeof runs.$inferInsert> = {},
): Promise<string> {
  const [row] = await db
    .insert(runs)
    .values({
      tenantId,
      status: 'ok',
      finishedAt: new Date(),
      actionsRead: 10,
      findingsMapped: 4,
      findingsImported: 4,
      actionsSkipped: 6,
      lagSeconds: 42,
      ...values,
    })
    .returning({ id: runs.id });
  if (row === undefined) throw new Error('seedRun: no row');
  return row.id;
}

/** Inserts a rejected record as the worker would record it. */
export async function seedRejected(
  db: Database,
  tenantId: string,
  values: Partial<typeof rejectedRecords.$inferInsert> = {},
): Promise<string> {
  const [row] = await db
    .insert(rejectedRecords)
    .values({
      tenantId,
      scope: values.destinationId ?? 'tenant',
      fingerprint: randomBytes(32).toString('base64url'),
      stage: 'parse',
      code: 'MISSING_ID',
      reason: 'the record has no id',
      raw: '{"x":1}',
      rawBytes: 7,
      ...values,
    })
    .returning({ id: rejectedRecords.id });
  if (row === undefined) throw new Error('seedRejected: no row');
  return row.id;
}
