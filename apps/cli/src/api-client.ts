import { resolve } from 'node:path';
import { CodedError, errorMessage } from '@vsh/core';
import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './api-types.generated.ts';
import type { CommandIo } from './io.ts';
import { UsageError } from './io.ts';
import { readLocalConnection } from './local-state.ts';

/** The API's schemas, generated from its OpenAPI document (api-types.generated.ts). */
export type ApiSchemas = components['schemas'];

/** Why talking to the API failed (closed set). */
export type ApiClientErrorCode = 'UNREACHABLE' | 'REFUSED' | 'BAD_RESPONSE';

/** An error code the API answers with (`VALIDATION_FAILED`, `NOT_FOUND`, ...). */
export type ApiErrorCode = ApiSchemas['Error']['error']['code'];

/** A failed call to the control-plane API: printed as its message, exit code 1. Never carries the key. */
export class ApiClientError extends CodedError<ApiClientErrorCode> {
  override name = 'ApiClientError';
  constructor(
    code: ApiClientErrorCode,
    message: string,
    /** The API's error code when it answered with one. */
    readonly apiCode: ApiErrorCode | null = null,
    readonly status: number | null = null,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

export interface Connection {
  readonly apiUrl: string;
  readonly key: string;
  /** Where the values came from, for messages (never the key itself). */
  readonly source: 'flags' | 'environment' | 'local-state' | 'mixed';
}

/** The options every operator command takes. */
export const CONNECTION_OPTIONS = {
  api: { type: 'string' },
  key: { type: 'string' },
  'data-dir': { type: 'string' },
} as const;

export const CONNECTION_USAGE = `Connection (operator commands):
  --api <url>        the API (default $VSH_API_URL, else the local stack of --data-dir)
  --key <key>        the operator key (default $VSH_OPERATOR_KEY, else the local stack's)
  --data-dir <dir>   the local stack's data folder (default .data)
`;

/**
 * The API and operator key: flags, then the environment, then (for what is still missing) the state file
 * `pnpm start` keeps in the local data folder.
 */
export function resolveConnection(
  values: { api?: string | undefined; key?: string | undefined; 'data-dir'?: string | undefined },
  io: CommandIo,
): Connection {
  // An empty variable counts as unset.
  let apiUrl = values.api ?? (io.env?.VSH_API_URL || undefined);
  let key = values.key ?? (io.env?.VSH_OPERATOR_KEY || undefined);
  const fromFlags = values.api !== undefined || values.key !== undefined;
  let usedLocal = false;
  if (apiUrl === undefined || key === undefined) {
    const local = readLocalConnection(resolve(values['data-dir'] ?? '.data'));
    if (local !== undefined) {
      if (apiUrl === undefined && local.apiUrl !== undefined) {
        apiUrl = local.apiUrl;
        usedLocal = true;
      }
      if (key === undefined) {
        key = local.operatorKey;
        usedLocal = true;
      }
    }
  }
  if (apiUrl === undefined || apiUrl === '')
    throw new UsageError('no API to talk to: pass --api <url> or set VSH_API_URL (or run "pnpm start")');
  if (key === undefined || key === '')
    throw new UsageError('no operator key: pass --key or set VSH_OPERATOR_KEY');
  let url: URL;
  try {
    url = new URL(apiUrl);
  } catch {
    throw new UsageError('--api must be an http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError('--api must be an http(s) URL');
  const source = usedLocal ? (fromFlags ? 'mixed' : 'local-state') : fromFlags ? 'flags' : 'environment';
  return { apiUrl: url.origin + url.pathname.replace(/\/+$/, ''), key, source };
}

/** A typed client of the control plane: openapi-fetch over the API's generated paths. */
export type ApiClient = Client<paths>;

/** One call's answer as openapi-fetch gives it: data on 2xx, the parsed error body otherwise. */
type Answer<Data> = { data?: Data; error?: unknown; response: Response };

const CALL_TIMEOUT_MS = 30_000;

/**
 * The client for the operator commands (fetch is injected for tests). Transport failures become
 * ApiClientError here: an unreachable API is UNREACHABLE, a body that is not JSON is BAD_RESPONSE.
 */
export function createApiClient(connection: Connection, fetchFn: typeof fetch | undefined): ApiClient {
  const send = fetchFn ?? globalThis.fetch;
  return createClient<paths>({
    baseUrl: connection.apiUrl,
    headers: { authorization: `Bearer ${connection.key}`, accept: 'application/json' },
    fetch: async (request: Request) => {
      let response: Response;
      try {
        response = await send(new Request(request, { signal: AbortSignal.timeout(CALL_TIMEOUT_MS) }));
      } catch (err) {
        const hint = connection.source === 'local-state' ? ' (is "pnpm start" running?)' : '';
        throw new ApiClientError(
          'UNREACHABLE',
          `cannot reach the API at ${connection.apiUrl}: ${reasonOf(err)}${hint}`,
          null,
          null,
          { cause: err },
        );
      }
      const text = await response.text();
      if (text !== '' && !isJson(text))
        throw new ApiClientError(
          'BAD_RESPONSE',
          `the API answered ${response.status} with a body that is not JSON`,
          null,
          response.status,
        );
      return new Response(text === '' ? null : text, {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      });
    },
  });
}

/** The data of a successful call; an error answer becomes a REFUSED ApiClientError with the API's code. */
export async function unwrap<Data>(call: Promise<Answer<Data>>): Promise<Data> {
  const { data, error, response } = await call;
  if (response.ok) return data as Data;
  const body = (error as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const code = typeof body?.code === 'string' ? (body.code as ApiErrorCode) : null;
  const message = typeof body?.message === 'string' ? body.message : `HTTP ${response.status}`;
  throw new ApiClientError(
    'REFUSED',
    `${code ?? `HTTP ${response.status}`}: ${message}`,
    code,
    response.status,
  );
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function reasonOf(err: unknown): string {
  const cause = err instanceof Error ? err.cause : undefined;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === 'string' ? `${code} ${cause.message}`.trim() : cause.message;
  }
  return errorMessage(err);
}

/** `1234567` → `1,234,567`. */
export function formatCount(n: number): string {
  return new Intl.NumberFormat('en-US').format(n);
}
