import { z } from '@hono/zod-openapi';
import { thresholdsSchema } from '@vsh/core';
import type { VaikoraSettings } from '@vsh/db';
import { VaikoraError, type VaikoraErrorCode, type VerifyOptions } from '@vsh/vaikora';
import type { ApiDeps } from '../../deps.ts';
import { ApiError } from '../../errors.ts';
import { iso, timestamp } from '../../openapi.ts';

export const DEFAULT_VAIKORA_BASE_URL = 'https://api.vaikora.com/api/v1';

/** What a Vaikora agent id may be, wherever the API accepts one (settings, destination routing). */
export const AGENT_ID_PATTERN = /^[\x21-\x7e]{1,256}$/;

/** A list of Vaikora agent ids: 1 to 100 unique ids of 1 to 256 visible ASCII characters. */
export const agentIdsSchema = z
  .array(z.string().regex(AGENT_ID_PATTERN, 'must be 1 to 256 visible ASCII characters'))
  .min(1, 'must name at least one Vaikora agent')
  .max(100, 'must name at most 100 agents')
  .refine((ids) => new Set(ids).size === ids.length, 'must not repeat an agent id')
  .openapi({ example: ['agt-support-bot', 'agt-sql'] });

export const vaikoraSettingsSchema = z
  .object({
    tenantId: z.string(),
    baseUrl: z.string(),
    agentIds: z.array(z.string()),
    thresholds: thresholdsSchema,
    pollIntervalSeconds: z.number().int(),
    timeFilterParam: z.string().nullable(),
    apiKeySet: z
      .literal(true)
      .openapi({ description: 'A key is stored (encrypted). The key is never returned.' }),
    verifiedAt: timestamp.nullable(),
    lastError: z.string().nullable(),
    updatedAt: timestamp,
  })
  .openapi('VaikoraSettings');

/** Vaikora settings as the API shows them: no part of the key. */
export function toVaikoraSettings(row: VaikoraSettings): z.infer<typeof vaikoraSettingsSchema> {
  return {
    tenantId: row.tenantId,
    baseUrl: row.baseUrl,
    agentIds: row.agentIds,
    thresholds: thresholdsSchema.parse(row.thresholds),
    pollIntervalSeconds: row.pollIntervalSeconds,
    timeFilterParam: row.timeFilterParam,
    apiKeySet: true,
    verifiedAt: iso(row.verifiedAt),
    lastError: row.lastError,
    updatedAt: iso(row.updatedAt),
  };
}

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
export function verifyFailureMessage(code: VaikoraErrorCode): string {
  return `${code}: ${VERIFY_MESSAGES[code]}`;
}

export type KeyCheck = { ok: true } | { ok: false; code: VaikoraErrorCode; message: string };

/**
 * How the API's Vaikora check retries (ADR 0022): a transient failure (429, 408, 5xx, network error,
 * timeout) is tried again twice, honouring a Retry-After of up to 5 s, and the whole check gives up
 * after 15 s so the HTTP request that waits on it never hangs long. A refused key is never retried.
 */
export const VAIKORA_CHECK_RETRIES = 2;
export const VAIKORA_CHECK_MAX_RETRY_AFTER_MS = 5_000;
export const VAIKORA_CHECK_BUDGET_MS = 15_000;

/**
 * Checks a key with one Vaikora request, retried on transient failures within a short budget. Anything
 * thrown (a bad option, a bug in a client) is a failed check, never a 500: the caller's input decided it.
 */
export async function checkVaikoraKey(
  deps: ApiDeps,
  requestId: string,
  input: { baseUrl: string; apiKey: string; timeFilterParam: string | null },
): Promise<KeyCheck> {
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
    const client = deps.vaikoraClient({
      baseUrl: input.baseUrl,
      apiKey: input.apiKey,
      ...(input.timeFilterParam === null ? {} : { timeFilterParam: input.timeFilterParam }),
    });
    const result = await client.verify(options);
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
 * deployment no longer has, or damaged) is the tenant's to set again: 409 VAIKORA_KEY_UNREADABLE,
 * never a 500, and never the cause's text (it can name key ids).
 */
export async function openStoredKey(deps: ApiDeps, ciphertext: string, tenantId: string): Promise<string> {
  try {
    return await deps.secretBox.open(ciphertext, { tenantId });
  } catch {
    throw new ApiError(
      'VAIKORA_KEY_UNREADABLE',
      'the stored Vaikora key cannot be opened (it was sealed under a master key this deployment does not have); send apiKey to set it again',
    );
  }
}
