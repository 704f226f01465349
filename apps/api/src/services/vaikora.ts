import { thresholdsSchema } from '@vsh/core';
import { type Tenant, tenantSchedules, type VaikoraSettings, vaikoraSettings } from '@vsh/db';
import { sealedKeyId } from '@vsh/secrets';
import { checkBaseUrl, VaikoraError, type VaikoraErrorCode, type VerifyOptions } from '@vsh/vaikora';
import { eq } from 'drizzle-orm';
import { z } from 'zod';
import { type ApiDeps, baseUrlPolicyOf } from '../deps.ts';
import { type Actor, audit } from '../lib/audit.ts';
import { requireActive } from './common.ts';
import { ServiceError } from './errors.ts';
import { AGENT_ID_PATTERN, agentIdsSchema } from './schemas.ts';
import { syncStreams } from './streams.ts';
import { findVaikoraSettings } from './vaikora-settings.ts';

export const DEFAULT_VAIKORA_BASE_URL = 'https://api.vaikora.com/api/v1';

/** A Vaikora API key as given: write-only, never shown again. */
const vaikoraApiKeySchema = z
  .string()
  .min(1, 'must not be empty')
  .max(1024, 'must be at most 1024 characters')
  .regex(/^[\x21-\x7e]+$/, 'must be visible ASCII without spaces');

/** A Vaikora base URL as given (its host is checked against the policy when used). */
export const vaikoraBaseUrlSchema = z
  .string()
  .max(2048, 'must be at most 2048 characters')
  .default(DEFAULT_VAIKORA_BASE_URL);

/** The query parameter Vaikora filters actions by time with, if it needs one. */
export const timeFilterParamSchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/, 'must be a plain query parameter name')
  .nullable()
  .default(null);

/** What sets a tenant's Vaikora connection (the body of PUT .../vaikora, and the web page's form). */
export const vaikoraSettingsInputSchema = z.strictObject({
  apiKey: vaikoraApiKeySchema
    .optional()
    .meta({ description: 'Write-only. Required the first time; omit to keep the stored key.' }),
  baseUrl: vaikoraBaseUrlSchema,
  agentIds: agentIdsSchema,
  thresholds: thresholdsSchema.default(thresholdsSchema.parse({})),
  pollIntervalSeconds: z
    .number()
    .int('must be a whole number of seconds')
    .min(60, 'must be at least 60 seconds')
    .max(86_400, 'must be at most 86400 seconds (a day)')
    .default(300),
  timeFilterParam: timeFilterParamSchema,
});

export type VaikoraSettingsInput = z.infer<typeof vaikoraSettingsInputSchema>;

// Fixed texts per code: the client's own message can name the host and port it tried, which would make
// this endpoint a probe of what the server can reach.
const VERIFY_MESSAGES: Record<VaikoraErrorCode, string> = {
  UNAUTHORIZED: 'Vaikora refused the API key (401): check the key',
  FORBIDDEN: 'Vaikora refused the API key for the actions list (403): check the key and its permissions',
  RATE_LIMITED: 'Vaikora rate-limited the check: try again in a minute',
  UNAVAILABLE: 'Vaikora answered with a server error: try again later',
  TIMEOUT: 'Vaikora did not answer in time: try again later',
  BAD_RESPONSE:
    'the base URL did not answer like the Vaikora management API (a JSON page { actions: [...] } within the connector bounds)',
  NETWORK: 'Vaikora could not be reached at the base URL',
  INVALID_CONFIG: 'the API key or the base URL cannot be used',
};

/** The message shown for a failed Vaikora verification: code and fixed text, never the key. */
function verifyFailureMessage(code: VaikoraErrorCode): string {
  return `${code}: ${VERIFY_MESSAGES[code]}`;
}

type KeyCheck = { ok: true } | { ok: false; code: VaikoraErrorCode; message: string };

/**
 * How the API's Vaikora check retries (ADR 0022): a transient failure (429, 408, 5xx, network error,
 * timeout) is tried again twice, honouring a Retry-After of up to 5 s, and the whole check gives up
 * after 15 s so the HTTP request that waits on it never hangs long. A refused key is never retried.
 */
const VAIKORA_CHECK_RETRIES = 2;
const VAIKORA_CHECK_MAX_RETRY_AFTER_MS = 5_000;
const VAIKORA_CHECK_BUDGET_MS = 15_000;

/** Pages and agents the connection test reads at most: enough to fill a form, cheap for Vaikora. */
const DISCOVERY_BOUNDS = { maxPages: 3, maxAgents: 100 } as const;

type VaikoraDeps = Pick<ApiDeps, 'vaikoraClient' | 'logger'>;

/** A key, a base URL and the time filter: what a Vaikora client is built from. */
interface Connection {
  baseUrl: string;
  apiKey: string;
  timeFilterParam: string | null;
}

function clientOf(deps: VaikoraDeps, input: Connection) {
  return deps.vaikoraClient({
    baseUrl: input.baseUrl,
    apiKey: input.apiKey,
    ...(input.timeFilterParam === null ? {} : { timeFilterParam: input.timeFilterParam }),
  });
}

/**
 * Checks a key with one Vaikora request, retried on transient failures within a short budget. Anything
 * thrown (a bad option, a bug in a client) is a failed check, never a 500: the caller's input decided it.
 */
async function checkVaikoraKey(deps: VaikoraDeps, requestId: string, input: Connection): Promise<KeyCheck> {
  const budget = AbortSignal.timeout(VAIKORA_CHECK_BUDGET_MS);
  // Typed as the client's own options: the API's VaikoraVerifier port names only agentId and signal, and
  // a verifier without retries (a test stub) makes its one attempt.
  const options: VerifyOptions = {
    retries: VAIKORA_CHECK_RETRIES,
    maxRetryAfterMs: VAIKORA_CHECK_MAX_RETRY_AFTER_MS,
    signal: budget,
  };
  let code: VaikoraErrorCode;
  try {
    const result = await clientOf(deps, input).verify(options);
    if (result.ok) return { ok: true };
    code = result.code;
  } catch (err) {
    if (err instanceof VaikoraError) code = err.code;
    else code = budget.aborted ? 'TIMEOUT' : 'INVALID_CONFIG';
  }
  deps.logger.warn({ requestId, code }, 'vaikora key verification failed');
  return { ok: false, code, message: verifyFailureMessage(code) };
}

/**
 * Opens the tenant's stored Vaikora key. A key that cannot be opened (sealed under a master key this
 * deployment no longer has, or damaged) is the tenant's to set again: `vaikora_key_unreadable`, never a
 * 500, and never the cause's text (it can name key ids).
 */
async function openStoredKey(
  deps: Pick<ApiDeps, 'secretBox'>,
  ciphertext: string,
  tenantId: string,
): Promise<string> {
  try {
    return await deps.secretBox.open(ciphertext, { tenantId });
  } catch {
    throw new ServiceError(
      'vaikora_key_unreadable',
      'the stored Vaikora key cannot be opened (it was sealed under a master key this deployment does not have); send apiKey to set it again',
    );
  }
}

/** The base URL as the policy allows it, or `base_url_not_allowed`. */
function allowedBaseUrl(deps: Pick<ApiDeps, 'config'>, baseUrl: string): string {
  const checked = checkBaseUrl(baseUrl, baseUrlPolicyOf(deps.config));
  if (!checked.ok) throw new ServiceError('base_url_not_allowed', `body.baseUrl: ${checked.reason}`);
  return checked.url;
}

/** A tenant's Vaikora settings, or `not_found` before they are set. */
export async function getVaikoraSettings(
  deps: Pick<ApiDeps, 'db'>,
  tenantId: string,
): Promise<VaikoraSettings> {
  const row = await findVaikoraSettings(deps.db, tenantId);
  if (row === undefined) throw new ServiceError('not_found', 'no Vaikora settings yet: PUT them first');
  return row;
}

/**
 * Verifies and stores a tenant's Vaikora settings, then re-syncs its streams. The key is checked with
 * Vaikora before anything is written; it is never logged.
 */
export async function saveVaikoraSettings(
  deps: Pick<ApiDeps, 'db' | 'clock' | 'config' | 'secretBox' | 'vaikoraClient' | 'logger'>,
  actor: Actor,
  tenant: Tenant,
  input: VaikoraSettingsInput,
): Promise<VaikoraSettings> {
  requireActive(tenant);
  const baseUrl = allowedBaseUrl(deps, input.baseUrl);
  const existing = await findVaikoraSettings(deps.db, tenant.id);
  let apiKey = input.apiKey;
  if (apiKey === undefined) {
    if (existing === undefined) {
      throw new ServiceError('invalid_input', 'body.apiKey: is required when no key is stored');
    }
    apiKey = await openStoredKey(deps, existing.apiKeyCiphertext, tenant.id);
  }
  const check = await checkVaikoraKey(deps, actor.requestId, {
    baseUrl,
    apiKey,
    timeFilterParam: input.timeFilterParam,
  });
  if (!check.ok) throw new ServiceError('vaikora_verification_failed', check.message);

  const sealed =
    input.apiKey === undefined && existing !== undefined
      ? existing.apiKeyCiphertext
      : await deps.secretBox.seal(apiKey, { tenantId: tenant.id });
  const now = deps.clock();
  const values = {
    baseUrl,
    agentIds: input.agentIds,
    thresholds: input.thresholds,
    pollIntervalSeconds: input.pollIntervalSeconds,
    timeFilterParam: input.timeFilterParam,
    apiKeyCiphertext: sealed,
    apiKeyKeyId: sealedKeyId(sealed),
    verifiedAt: now,
    lastError: null,
  };
  const row = await deps.db.transaction(async (tx) => {
    const [saved] = await tx
      .insert(vaikoraSettings)
      .values({ tenantId: tenant.id, ...values })
      .onConflictDoUpdate({ target: vaikoraSettings.tenantId, set: values })
      .returning();
    await tx.insert(tenantSchedules).values({ tenantId: tenant.id, nextRunAt: now }).onConflictDoNothing();
    const streams = await syncStreams(tx, tenant.id);
    await audit(tx, actor, {
      tenantId: tenant.id,
      action: existing === undefined ? 'vaikora.settings_created' : 'vaikora.settings_updated',
      target: tenant.id,
      details: {
        apiKeyChanged: input.apiKey !== undefined,
        baseUrlHost: new URL(baseUrl).host,
        agents: input.agentIds.length,
        pollIntervalSeconds: input.pollIntervalSeconds,
        streams,
      },
    });
    return saved;
  });
  if (row === undefined) throw new Error('upsert of vaikora_settings returned no row');
  return row;
}

/** The outcome of verifying the stored key again, and the settings after it. */
export interface StoredKeyVerification {
  check: KeyCheck;
  settings: VaikoraSettings;
}

/** Verifies the stored key again and records the outcome (a refused key is an outcome, not an error). */
export async function verifyStoredVaikoraKey(
  deps: Pick<ApiDeps, 'db' | 'clock' | 'secretBox' | 'vaikoraClient' | 'logger'>,
  actor: Actor,
  tenant: Tenant,
): Promise<StoredKeyVerification> {
  requireActive(tenant);
  const existing = await findVaikoraSettings(deps.db, tenant.id);
  if (existing === undefined)
    throw new ServiceError('not_configured', 'no Vaikora settings yet: PUT them first');
  const apiKey = await openStoredKey(deps, existing.apiKeyCiphertext, tenant.id);
  const check = await checkVaikoraKey(deps, actor.requestId, {
    baseUrl: existing.baseUrl,
    apiKey,
    timeFilterParam: existing.timeFilterParam,
  });
  const now = deps.clock();
  const row = await deps.db.transaction(async (tx) => {
    const [saved] = await tx
      .update(vaikoraSettings)
      .set(check.ok ? { verifiedAt: now, lastError: null } : { lastError: check.message })
      .where(eq(vaikoraSettings.tenantId, tenant.id))
      .returning();
    await audit(tx, actor, {
      tenantId: tenant.id,
      action: 'vaikora.verified',
      target: tenant.id,
      details: { ok: check.ok, ...(check.ok ? {} : { code: check.code }) },
    });
    return saved;
  });
  if (row === undefined)
    throw new ServiceError('not_configured', 'the Vaikora settings were removed meanwhile');
  return { check, settings: row };
}

/** The input of `testVaikoraConnection`: without `apiKey`, the tenant's stored key is used. */
export interface VaikoraTestInput {
  apiKey?: string | undefined;
  baseUrl: string;
  timeFilterParam?: string | null | undefined;
  /** For the log line of a failed check; default `app`. */
  requestId?: string | undefined;
}

/** What a connection test found (the API's `VaikoraTestResult`). */
export interface VaikoraTestResult {
  ok: boolean;
  code: VaikoraErrorCode | null;
  message: string;
  /** Distinct agent ids on the newest actions; null when Vaikora does not list actions without an agent id. */
  agents: string[] | null;
  /** False when the scan stopped at its page or agent bound. */
  agentsComplete: boolean;
}

/**
 * Tests a Vaikora key and base URL without storing anything, and lists the agents the key can see
 * (bounded). A refused key is an outcome (`ok: false`), not an error; the key never appears in the
 * answer or a log line.
 */
export async function testVaikoraConnection(
  deps: Pick<ApiDeps, 'db' | 'config' | 'secretBox' | 'vaikoraClient' | 'logger'>,
  tenant: Tenant,
  input: VaikoraTestInput,
): Promise<VaikoraTestResult> {
  requireActive(tenant);
  const baseUrl = allowedBaseUrl(deps, input.baseUrl);
  let apiKey = input.apiKey;
  if (apiKey === undefined) {
    const stored = await findVaikoraSettings(deps.db, tenant.id);
    if (stored === undefined) {
      throw new ServiceError('not_configured', 'body.apiKey: is required when no key is stored');
    }
    apiKey = await openStoredKey(deps, stored.apiKeyCiphertext, tenant.id);
  }
  const connection = { baseUrl, apiKey, timeFilterParam: input.timeFilterParam ?? null };
  const requestId = input.requestId ?? 'app';
  const check = await checkVaikoraKey(deps, requestId, connection);
  if (!check.ok) {
    return { ok: false, code: check.code, message: check.message, agents: null, agentsComplete: false };
  }
  const client = clientOf(deps, connection);
  if (client.discoverAgents === undefined) {
    return { ok: true, code: null, message: 'Vaikora accepted the key', agents: null, agentsComplete: false };
  }
  let code: VaikoraErrorCode;
  try {
    const found = await client.discoverAgents({
      ...DISCOVERY_BOUNDS,
      signal: AbortSignal.timeout(VAIKORA_CHECK_BUDGET_MS),
    });
    // Only ids the settings would accept: the list feeds a form that is saved as is.
    const agents = found.agents.filter((id) => AGENT_ID_PATTERN.test(id));
    return {
      ok: true,
      code: null,
      message: `Vaikora accepted the key; ${agents.length} agent${agents.length === 1 ? '' : 's'} found`,
      agents,
      agentsComplete: found.complete,
    };
  } catch (err) {
    code = err instanceof VaikoraError ? err.code : 'TIMEOUT';
  }
  deps.logger.warn({ requestId, code }, 'vaikora agent discovery failed');
  return {
    ok: true,
    code: null,
    message: `Vaikora accepted the key, but listing actions without an agent id failed (${code}): type the agent ids`,
    agents: null,
    agentsComplete: false,
  };
}
