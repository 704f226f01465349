import { resolve } from 'node:path';
import type { CommandIo } from './io.ts';
import { UsageError } from './io.ts';
import { readLocalState } from './local/state.ts';

/** Why talking to the API failed (closed set). */
export type ApiClientErrorCode = 'UNREACHABLE' | 'REFUSED' | 'BAD_RESPONSE';

/** A failed call to the control-plane API: printed as its message, exit code 1. Never carries the key. */
export class ApiClientError extends Error {
  override name = 'ApiClientError';
  constructor(
    readonly code: ApiClientErrorCode,
    message: string,
    /** The API's error code (`VALIDATION_FAILED`, `NOT_FOUND`, ...) when it answered with one. */
    readonly apiCode: string | null = null,
    readonly status: number | null = null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
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
 * `connector start` keeps in the local data folder.
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
    const local = readLocalState(resolve(values['data-dir'] ?? '.data'));
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
    throw new UsageError('no API to talk to: pass --api <url> or set VSH_API_URL (or run "connector start")');
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

/** A small client of the control plane for the operator commands (fetch is injected for tests). */
export class ApiClient {
  private readonly fetchFn: typeof fetch;

  constructor(
    private readonly connection: Connection,
    fetchFn: typeof fetch | undefined,
  ) {
    this.fetchFn = fetchFn ?? globalThis.fetch;
  }

  /** Calls `/v1<path>` and returns the parsed JSON body; an error answer becomes an ApiClientError. */
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = `${this.connection.apiUrl}/v1${path}`;
    let response: Response;
    try {
      response = await this.fetchFn(url, {
        method,
        headers: {
          authorization: `Bearer ${this.connection.key}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      const reason = err instanceof Error ? (causeMessage(err) ?? err.message) : String(err);
      const hint = this.connection.source === 'local-state' ? ' (is "connector start" running?)' : '';
      throw new ApiClientError(
        'UNREACHABLE',
        `cannot reach the API at ${this.connection.apiUrl}: ${reason}${hint}`,
        null,
        null,
        {
          cause: err,
        },
      );
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new ApiClientError(
        'BAD_RESPONSE',
        `the API answered ${response.status} with a body that is not JSON`,
        null,
        response.status,
      );
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
      const code = typeof error?.code === 'string' ? error.code : null;
      const message = typeof error?.message === 'string' ? error.message : `HTTP ${response.status}`;
      throw new ApiClientError(
        'REFUSED',
        `${code ?? `HTTP ${response.status}`}: ${message}`,
        code,
        response.status,
      );
    }
    return parsed as T;
  }
}

function causeMessage(err: Error): string | undefined {
  const cause = err.cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === 'string' ? `${code} ${cause.message}`.trim() : cause.message;
  }
  return undefined;
}

/** `1234567` → `1,234,567`. */
export function formatCount(n: number): string {
  return new Intl.NumberFormat('en-US').format(n);
}
