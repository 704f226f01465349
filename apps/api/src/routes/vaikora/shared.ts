import { z } from '@hono/zod-openapi';
import { thresholdsSchema } from '@vsh/core';
import type { VaikoraSettings } from '@vsh/db';
import { VaikoraError, type VaikoraErrorCode } from '@vsh/vaikora';
import type { ApiDeps } from '../../deps.ts';
import { iso, timestamp } from '../../openapi.ts';

export const DEFAULT_VAIKORA_BASE_URL = 'https://api.vaikora.com/api/v1';

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
  BAD_RESPONSE: 'the base URL did not answer like the Vaikora management API',
  NETWORK: 'Vaikora could not be reached at the base URL',
  INVALID_CONFIG: 'the API key or the base URL cannot be used',
};

/** The message shown for a failed Vaikora verification: code and fixed text, never the key. */
export function verifyFailureMessage(code: VaikoraErrorCode): string {
  return `${code}: ${VERIFY_MESSAGES[code]}`;
}

export type KeyCheck = { ok: true } | { ok: false; code: VaikoraErrorCode; message: string };

/**
 * Checks a key with exactly one Vaikora request. Anything thrown (a bad option, a bug in a client) is a
 * failed check, never a 500: the caller's input decided it.
 */
export async function checkVaikoraKey(
  deps: ApiDeps,
  requestId: string,
  input: { baseUrl: string; apiKey: string; timeFilterParam: string | null },
): Promise<KeyCheck> {
  let code: VaikoraErrorCode;
  try {
    const client = deps.vaikoraClient({
      baseUrl: input.baseUrl,
      apiKey: input.apiKey,
      ...(input.timeFilterParam === null ? {} : { timeFilterParam: input.timeFilterParam }),
    });
    const result = await client.verify();
    if (result.ok) return { ok: true };
    code = result.code;
  } catch (err) {
    code = err instanceof VaikoraError ? err.code : 'INVALID_CONFIG';
  }
  deps.logger.warn({ requestId, code }, 'vaikora key verification failed');
  return { ok: false, code, message: verifyFailureMessage(code) };
}
