import { createHash } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { parseAction, type Rejection, type VaikoraAction } from '@vsh/core';
import { z } from 'zod';
import { sanitizeCause, VaikoraError, type VaikoraErrorCode } from './errors.ts';
import {
  type FetchLike,
  parseClientOptions,
  type SleepLike,
  type VaikoraClientOptions,
  type VaikoraRequestEvent,
} from './options.ts';
import { backoffDelay, classifyStatus, parseRetryAfter } from './retry.ts';
import {
  NO_ORDER_EVIDENCE,
  observeOrder,
  orderOf,
  type SweepOrder,
  type SweepStopReason,
  stopAfter,
} from './sweep.ts';

/** One page of a sweep, parsed: new actions, rejected records, and what the sweep knows so far. */
export interface VaikoraPage {
  /** 1-based page number requested. */
  readonly page: number;
  /** Actions not yet yielded earlier in this sweep, in server order. */
  readonly actions: VaikoraAction[];
  /** Records on this page that cannot become findings, each with its reason and raw input. */
  readonly rejections: Rejection[];
  /** Oldest and newest parseable timestamps on the page, repeats included; null if none parsed. */
  readonly oldestMs: number | null;
  readonly newestMs: number | null;
  /** `total` as the server reported it on this page. */
  readonly total: number | null;
  /** Records the server returned on this page, repeats and bad records included. */
  readonly received: number;
  /** Parseable actions on this page that an earlier page of this sweep already yielded. */
  readonly repeats: number;
  /** List order inferred so far (see ADR 0020). */
  readonly order: SweepOrder;
  /** Set on the last page only: why the sweep ended. */
  readonly stop: SweepStopReason | null;
}

export interface SweepOptions {
  /** Agent whose actions to list (`agent_id`); omit to list every agent the key can see. */
  readonly agentId?: string;
  /** The sweep may stop at a page whose every action is older than this (cursor minus overlap). */
  readonly stopBeforeMs: number;
  /** Overrides the client's `maxPages`. */
  readonly maxPages?: number;
  readonly signal?: AbortSignal;
}

export type VerifyResult =
  | { readonly ok: true; readonly total: number | null }
  | { readonly ok: false; readonly code: VaikoraErrorCode; readonly message: string };

/** A client of the Vaikora management API for one key. The key is held in a closure only. */
export interface VaikoraClient {
  /** Checks the key and base URL with exactly one request (`per_page=1`, no retry). */
  verify(options?: { readonly agentId?: string; readonly signal?: AbortSignal }): Promise<VerifyResult>;
  /** Pages through `GET /actions` from page 1, yielding each page as it arrives (ADR 0020). */
  sweep(options: SweepOptions): AsyncIterable<VaikoraPage>;
  toString(): string;
  toJSON(): { readonly baseUrl: string; readonly perPage: number; readonly timeFilterParam: string | null };
}

const count = z.number().int().nonnegative().nullable().optional().catch(undefined);
/** The response envelope; the records inside are parsed one by one by @vsh/core. */
const envelopeSchema = z.object({
  actions: z.array(z.unknown()),
  total: count,
  page: count,
  per_page: count,
});
type Envelope = z.output<typeof envelopeSchema>;

interface PageRequest {
  readonly page: number;
  readonly perPage: number;
  readonly agentId: string | undefined;
  readonly sinceMs: number | undefined;
}

const defaultSleep: SleepLike = (ms, signal) =>
  delay(ms, undefined, signal === undefined ? undefined : { signal });

/** Creates a Vaikora client; throws VaikoraError INVALID_CONFIG (naming fields, never values) on bad options. */
export function createVaikoraClient(options: VaikoraClientOptions): VaikoraClient {
  const config = parseClientOptions(options);
  const { apiKey } = config;
  const doFetch: FetchLike = config.fetch ?? ((input, init) => fetch(input, init));
  const sleep = config.sleep ?? defaultSleep;
  const random = config.random ?? Math.random;
  const now = config.now ?? Date.now;
  const endpoint = `${config.baseUrl}/actions`;

  const notify = (event: VaikoraRequestEvent): void => {
    try {
      config.onRequest?.(event);
    } catch {
      // An observer's failure must not fail the sweep it observes.
    }
  };

  async function attemptOnce(
    request: PageRequest,
    signal: AbortSignal | undefined,
  ): Promise<{ envelope: Envelope; status: number }> {
    const url = new URL(endpoint);
    if (request.agentId !== undefined) url.searchParams.set('agent_id', request.agentId);
    url.searchParams.set('page', String(request.page));
    url.searchParams.set('per_page', String(request.perPage));
    if (config.timeFilterParam !== undefined && request.sinceMs !== undefined) {
      url.searchParams.set(config.timeFilterParam, new Date(request.sinceMs).toISOString());
    }
    const timeout = AbortSignal.timeout(config.timeoutMs);
    const combined = signal === undefined ? timeout : AbortSignal.any([timeout, signal]);
    const failure = (error: unknown, stage: string): VaikoraError => {
      // The caller's own abort is not a Vaikora failure: it propagates unchanged and is never retried.
      if (signal?.aborted) throw signal.reason;
      if (timeout.aborted) {
        return new VaikoraError('TIMEOUT', `Vaikora did not answer within ${config.timeoutMs} ms`, true);
      }
      const cause = sanitizeCause(error, apiKey);
      const code = errorCode(cause.cause) ?? errorCode(cause);
      return new VaikoraError('NETWORK', `network error ${stage} Vaikora${code ? ` (${code})` : ''}`, true, {
        cause,
      });
    };

    let response: Response;
    try {
      response = await doFetch(url.toString(), {
        method: 'GET',
        headers: { 'X-API-Key': apiKey, Accept: 'application/json', 'User-Agent': config.userAgent },
        // A redirect would carry X-API-Key to wherever it points; fetch only strips Authorization.
        redirect: 'manual',
        signal: combined,
      });
    } catch (error) {
      throw failure(error, 'calling');
    }

    if (response.status < 200 || response.status > 299) {
      await discard(response);
      const { code, retryable } = classifyStatus(response.status);
      const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), now());
      throw new VaikoraError(code, describeStatus(code, response.status), retryable, {
        status: response.status,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      });
    }

    let text: string;
    try {
      text = await readBody(response, config.maxResponseBytes);
    } catch (error) {
      if (error instanceof VaikoraError) throw error;
      throw failure(error, 'reading the response from');
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new VaikoraError('BAD_RESPONSE', 'Vaikora answered with a body that is not JSON', false, {
        status: response.status,
      });
    }
    const envelope = envelopeSchema.safeParse(json);
    if (!envelope.success) {
      throw new VaikoraError(
        'BAD_RESPONSE',
        'Vaikora answered without the expected envelope { actions: [...] }',
        false,
        { status: response.status },
      );
    }
    return { envelope: envelope.data, status: response.status };
  }

  // Hand-written rather than p-retry: p-retry (v9) cannot take a per-failure delay, so it cannot
  // honour Retry-After, its jitter only scales delays up (1-2x, not full jitter), and it offers no
  // injectable sleep for deterministic tests.
  async function requestPage(
    request: PageRequest,
    signal: AbortSignal | undefined,
    maxRetries: number,
  ): Promise<Envelope> {
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      let error: VaikoraError;
      try {
        const { envelope, status } = await attemptOnce(request, signal);
        notify({ page: request.page, status, attempt, durationMs: performance.now() - started });
        return envelope;
      } catch (thrown) {
        if (!(thrown instanceof VaikoraError)) throw thrown;
        error = thrown;
      }
      notify({
        page: request.page,
        status: error.status ?? null,
        attempt,
        durationMs: performance.now() - started,
        code: error.code,
      });
      const details = {
        ...(error.status === undefined ? {} : { status: error.status }),
        ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
        ...(error.cause instanceof Error ? { cause: error.cause } : {}),
        attempts: attempt,
      };
      if (!error.retryable || attempt > maxRetries) {
        const suffix = error.retryable && attempt > 1 ? ` (gave up after ${attempt} attempts)` : '';
        throw new VaikoraError(error.code, `${error.message}${suffix}`, error.retryable, details);
      }
      if (error.retryAfterMs !== undefined && error.retryAfterMs > config.maxRetryAfterMs) {
        throw new VaikoraError(
          error.code,
          `${error.message}; it asked to wait ${error.retryAfterMs} ms, more than the ${config.maxRetryAfterMs} ms allowed`,
          true,
          details,
        );
      }
      const jitter = backoffDelay(attempt - 1, config.baseDelayMs, config.maxDelayMs, random);
      await sleep(Math.max(jitter, error.retryAfterMs ?? 0), signal);
    }
  }

  async function verify(
    options: { readonly agentId?: string; readonly signal?: AbortSignal } = {},
  ): Promise<VerifyResult> {
    try {
      const envelope = await requestPage(
        { page: 1, perPage: 1, agentId: options.agentId, sinceMs: undefined },
        options.signal,
        0,
      );
      return { ok: true, total: envelope.total ?? null };
    } catch (error) {
      if (error instanceof VaikoraError) return { ok: false, code: error.code, message: error.message };
      throw error;
    }
  }

  async function* sweep(options: SweepOptions): AsyncGenerator<VaikoraPage, void, undefined> {
    const maxPages = options.maxPages ?? config.maxPages;
    if (!Number.isInteger(maxPages) || maxPages < 1) {
      throw new VaikoraError('INVALID_CONFIG', 'maxPages must be a positive integer', false);
    }
    if (Number.isNaN(options.stopBeforeMs)) {
      throw new VaikoraError('INVALID_CONFIG', 'stopBeforeMs must be a number', false);
    }
    const sinceMs = Number.isFinite(options.stopBeforeMs) ? options.stopBeforeMs : undefined;
    // Ids yielded so far: memory grows with the actions this sweep yields (its new actions plus at most
    // the overlap and one page past the cursor), never with the whole history; see ADR 0020.
    const seenIds = new Set<string>();
    const seenRejections = new Set<string>();
    let evidence = NO_ORDER_EVIDENCE;

    for (let page = 1; ; page++) {
      const envelope = await requestPage(
        { page, perPage: config.perPage, agentId: options.agentId, sinceMs },
        options.signal,
        config.maxRetries,
      );
      const actions: VaikoraAction[] = [];
      const rejections: Rejection[] = [];
      const timestamps: number[] = [];
      let repeats = 0;
      for (const raw of envelope.actions) {
        const parsed = parseAction(raw);
        if (parsed.ok) {
          timestamps.push(parsed.action.timestampMs);
          if (seenIds.has(parsed.action.id)) {
            repeats++;
          } else {
            seenIds.add(parsed.action.id);
            actions.push(parsed.action);
          }
        } else {
          const key = fingerprint(raw);
          if (!seenRejections.has(key)) {
            seenRejections.add(key);
            rejections.push(parsed.rejection);
          }
        }
      }
      evidence = observeOrder(evidence, timestamps);
      const order = orderOf(evidence);
      const oldestMs = timestamps.length === 0 ? null : Math.min(...timestamps);
      const newestMs = timestamps.length === 0 ? null : Math.max(...timestamps);
      const stop = stopAfter({
        page,
        received: envelope.actions.length,
        pageSize: envelope.per_page ?? config.perPage,
        maxPages,
        order,
        newestMs,
        stopBeforeMs: options.stopBeforeMs,
      });
      yield {
        page,
        actions,
        rejections,
        oldestMs,
        newestMs,
        total: envelope.total ?? null,
        received: envelope.actions.length,
        repeats,
        order,
        stop,
      };
      if (stop !== null) return;
    }
  }

  const summary = `VaikoraClient(${config.baseUrl})`;
  return {
    verify,
    sweep,
    toString: () => summary,
    toJSON: () => ({
      baseUrl: config.baseUrl,
      perPage: config.perPage,
      timeFilterParam: config.timeFilterParam ?? null,
    }),
    [Symbol.for('nodejs.util.inspect.custom')]: () => summary,
  } as VaikoraClient;
}

function describeStatus(code: VaikoraErrorCode, status: number): string {
  switch (code) {
    case 'UNAUTHORIZED':
      return 'Vaikora rejected the API key (HTTP 401)';
    case 'FORBIDDEN':
      return 'the API key may not list these actions (HTTP 403)';
    case 'RATE_LIMITED':
      return 'Vaikora is rate limiting this key (HTTP 429)';
    case 'UNAVAILABLE':
      return `Vaikora is unavailable (HTTP ${status})`;
    case 'TIMEOUT':
      return `Vaikora timed out the request (HTTP ${status})`;
    case 'INVALID_CONFIG':
      return `Vaikora refused the request (HTTP ${status}): check baseUrl, perPage and timeFilterParam`;
    default:
      return `unexpected HTTP ${status} from Vaikora (redirects are not followed)`;
  }
}

async function discard(response: Response): Promise<void> {
  try {
    await response.body?.cancel();
  } catch {
    // Nothing to free if the stream already failed.
  }
}

async function readBody(response: Response, limit: number): Promise<string> {
  const tooLarge = () =>
    new VaikoraError('BAD_RESPONSE', `Vaikora answered with a body larger than ${limit} bytes`, false, {
      status: response.status,
    });
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    await discard(response);
    throw tooLarge();
  }
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let size = 0;
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    text += decoder.decode(value, { stream: true });
  }
  return text + decoder.decode();
}

/** A system error code such as ECONNREFUSED, when the error carries a plain one. */
function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]{1,39}$/.test(code) ? code : undefined;
}

/** A repeat of an unparseable record has no id to recognise it by; its content is the identity. */
function fingerprint(raw: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(raw) ?? String(raw))
    .digest('base64url');
}
