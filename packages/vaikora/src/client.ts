import { setTimeout as delay } from 'node:timers/promises';
import type { Rejection, VaikoraAction } from '@vsh/core';
import { sanitizeCause, VaikoraError, type VaikoraErrorCode } from './errors.ts';
import {
  parseClientOptions,
  type SleepLike,
  type VaikoraClientOptions,
  type VaikoraRequestEvent,
} from './options.ts';
import { type PageBounds, type PageScan, parseRecord, type RawRecord, readPage } from './page-reader.ts';
import { backoffDelay, classifyStatus, parseRetryAfter } from './retry.ts';
import {
  NO_ORDER_EVIDENCE,
  observeOrder,
  orderOf,
  type SweepOrder,
  type SweepStopReason,
  stopAfter,
} from './sweep.ts';
import { fetchTransport, type PageResponse, undiciTransport } from './transport.ts';

/** One page of a sweep, parsed: new actions, rejected records, and what the sweep knows so far. */
export interface VaikoraPage {
  /** 1-based page number requested. */
  readonly page: number;
  /**
   * Actions not yet yielded earlier in this sweep, in server order, and actions yielded before that the
   * page lists with a later time (an oldest-first list keeping a re-stamped action's old row first; the
   * old time may be outside every window, ADR 0134): a caller sends each id once.
   */
  readonly actions: VaikoraAction[];
  /**
   * Records on this page that cannot become findings, each with its reason, raw input and fingerprint;
   * for a page the reader could not read within its bounds, one PAGE_UNREADABLE rejection (ADR 0022).
   */
  readonly rejections: Rejection[];
  /** Oldest and newest parseable timestamps on the page, repeats included; null if none parsed. */
  readonly oldestMs: number | null;
  readonly newestMs: number | null;
  /** `total` as the server reported it on this page. */
  readonly total: number | null;
  /** Records the server returned on this page, repeats and bad records included (as far as read). */
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
  /**
   * Whether, with the actions of the pages read so far, the sweep has met what the caller's earlier
   * complete sweeps read (the worker: for every stream with a cursor, as many actions of its window as
   * its last complete sweep counted, each in its seen-set from that sweep's run or before; ADR 0144,
   * 0146). Whatever arrived since is listed ahead of that. A sweep that meets a page wholly older than
   * `stopBeforeMs` before then reads on, up to LATE_PAGES more pages (EXPECTED_LATE_PAGES while
   * `expectsHandled`), before it stops there (ADR 0131, 0145): late uploads listed by arrival, and new
   * actions, may come first. Given each page's actions once the caller has taken the page (and read
   * what it needed for it), until it says yes. Not judged by the actions' times alone: a late upload
   * holds actions stamped inside the handled range that no run has read, and one of them ended the
   * sweep at the upload's older pages (ADR 0142).
   */
  readonly metHandled?: ((actions: readonly VaikoraAction[]) => boolean) | undefined;
  /**
   * Whether the caller knows of actions that earlier sweeps read and this one has not met yet (the
   * worker: a stream whose window digest counted actions it has not met, ADR 0144, 0146). While it does, the
   * sweep reads past the cursor's stop up to EXPECTED_LATE_PAGES pages, not LATE_PAGES (ADR 0145).
   */
  readonly expectsHandled?: (() => boolean) | undefined;
  /** Overrides the client's `maxPages`. */
  readonly maxPages?: number;
  readonly signal?: AbortSignal;
}

/**
 * Pages a sweep reads past a page that would end it by the cursor rule, while it has not met an action
 * an earlier run handled (`metHandled`): a list ordered by arrival shows late uploads
 * (an agent's buffer, stamped in the past) at its head, and the actions of the last minutes behind them
 * (ADR 0131). Bounded: a stream whose last actions were deleted pays these pages, not the whole list.
 */
export const LATE_PAGES = 3;

/**
 * Pages a sweep reads past the cursor's stop while the caller expects handled actions it has not met
 * (`expectsHandled`, ADR 0145): a buffered upload of up to about 2,000 actions (an agent offline for
 * hours) then hides nothing behind it. An expectation that cannot be met (actions of the window deleted
 * or re-stamped) costs these pages once: that sweep's write counts what it found.
 */
export const EXPECTED_LATE_PAGES = 20;

/** The error of a server that does not page as asked (ADR 0022, 0130): its pages are not data. */
const notPaging = (message: string) => new VaikoraError('BAD_RESPONSE', message, false, { status: 200 });

export interface VerifyOptions {
  readonly agentId?: string;
  readonly signal?: AbortSignal;
  /** Retries of transient failures (429, 408, 5xx, network, timeout), 0 to 10; default 0. */
  readonly retries?: number;
  /** Longest Retry-After to wait before a retry; a longer one ends the check. Default: the client's. */
  readonly maxRetryAfterMs?: number;
}

export interface DiscoverAgentsOptions {
  /** Pages of `GET /actions` (without `agent_id`) to read at most, 1 to 20; default 3. */
  readonly maxPages?: number;
  /** Distinct agents to collect at most, 1 to 1000; default 100 (what a tenant's settings may name). */
  readonly maxAgents?: number;
  /** Retries of transient failures per page, 0 to 10; default 0. */
  readonly retries?: number;
  /** Longest Retry-After to wait before a retry. Default: the client's. */
  readonly maxRetryAfterMs?: number;
  readonly signal?: AbortSignal;
}

/** The agents seen on the newest actions the key can list, in order of first appearance. */
export interface DiscoverAgentsResult {
  readonly agents: string[];
  /** True when the whole list was read; false when a bound (pages or agents) stopped the scan. */
  readonly complete: boolean;
}

/** Default and largest bounds of `discoverAgents`. */
export const DISCOVER_AGENTS_DEFAULTS = { maxPages: 3, maxAgents: 100 } as const;
export const DISCOVER_AGENTS_LIMITS = { maxPages: 20, maxAgents: 1000 } as const;

export type VerifyResult =
  | { readonly ok: true; readonly total: number | null }
  | { readonly ok: false; readonly code: VaikoraErrorCode; readonly message: string };

/** A client of the Vaikora management API for one key. The key is held in a closure only. */
export interface VaikoraClient {
  /**
   * Checks the key and base URL with one request (`per_page=1`), retried on transient failures only
   * when `retries` says so. A page beyond the reader's bounds is `BAD_RESPONSE`.
   */
  verify(options?: VerifyOptions): Promise<VerifyResult>;
  /**
   * Lists `GET /actions` without `agent_id` for the first few pages and returns the distinct agent ids,
   * bounded by pages and agents (and the page reader's limits). Throws VaikoraError like `sweep`; a
   * server that requires `agent_id` answers that with an error code (e.g. INVALID_CONFIG for a 400).
   */
  discoverAgents(options?: DiscoverAgentsOptions): Promise<DiscoverAgentsResult>;
  /** Pages through `GET /actions` from page 1, yielding each page as it arrives (ADR 0020). */
  sweep(options: SweepOptions): AsyncIterable<VaikoraPage>;
  toString(): string;
  toJSON(): { readonly baseUrl: string; readonly perPage: number; readonly timeFilterParam: string | null };
}

interface PageRequest {
  readonly page: number;
  readonly perPage: number;
  readonly agentId: string | undefined;
  readonly sinceMs: number | undefined;
}

interface RetryPolicy {
  readonly maxRetries: number;
  readonly maxRetryAfterMs: number;
}

/** Upper bound of `verify({ retries })`, the same as that of the client's `maxRetries`. */
const MAX_VERIFY_RETRIES = 10;

const defaultSleep: SleepLike = (ms, signal) =>
  delay(ms, undefined, signal === undefined ? undefined : { signal });

/** Creates a Vaikora client; throws VaikoraError INVALID_CONFIG (naming fields, never values) on bad options. */
export function createVaikoraClient(options: VaikoraClientOptions): VaikoraClient {
  const config = parseClientOptions(options);
  const { apiKey } = config;
  const transport = config.fetch === undefined ? undiciTransport() : fetchTransport(config.fetch);
  const sleep = config.sleep ?? defaultSleep;
  const random = config.random ?? Math.random;
  const now = config.now ?? Date.now;
  const endpoint = `${config.baseUrl}/actions`;
  const bounds: PageBounds = {
    maxResponseBytes: config.maxResponseBytes,
    maxRecordsPerPage: config.maxRecordsPerPage,
    maxRecordDepth: config.maxRecordDepth,
    maxRecordBytes: config.maxRecordBytes,
  };

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
  ): Promise<{ scan: PageScan; status: number }> {
    const url = new URL(endpoint);
    if (request.agentId !== undefined) url.searchParams.set('agent_id', request.agentId);
    url.searchParams.set('page', String(request.page));
    url.searchParams.set('per_page', String(request.perPage));
    if (config.timeFilterParam !== undefined && request.sinceMs !== undefined) {
      url.searchParams.set(config.timeFilterParam, new Date(request.sinceMs).toISOString());
    }
    // One controller for the attempt, its timer cleared and the caller's signal let go when it ends: not
    // AbortSignal.timeout and AbortSignal.any, whose timer stays scheduled after the page was read and
    // then aborts the request's signal, building a TimeoutError for a request long done (issue 16).
    const attempt = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      attempt.abort(new DOMException(`Vaikora did not answer within ${config.timeoutMs} ms`, 'TimeoutError'));
    }, config.timeoutMs);
    const onAbort = () => attempt.abort(signal?.reason);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await attemptWith(url, attempt.signal, signal, () => timedOut);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** One request of a page and the read of its body, stopped by `combined` (the attempt's timeout or the caller). */
  async function attemptWith(
    url: URL,
    combined: AbortSignal,
    signal: AbortSignal | undefined,
    timedOut: () => boolean,
  ): Promise<{ scan: PageScan; status: number }> {
    const failure = (error: unknown, stage: string): VaikoraError => {
      // The caller's own abort is not a Vaikora failure: it propagates unchanged and is never retried.
      if (signal?.aborted) throw signal.reason;
      if (timedOut()) {
        return new VaikoraError('TIMEOUT', `Vaikora did not answer within ${config.timeoutMs} ms`, true);
      }
      const cause = sanitizeCause(error, apiKey);
      const code = errorCode(cause.cause) ?? errorCode(cause);
      return new VaikoraError('NETWORK', `network error ${stage} Vaikora${code ? ` (${code})` : ''}`, true, {
        cause,
      });
    };

    let response: PageResponse;
    try {
      response = await transport({
        url: url.toString(),
        headers: { 'X-API-Key': apiKey, Accept: 'application/json', 'User-Agent': config.userAgent },
        signal: combined,
      });
    } catch (error) {
      throw failure(error, 'calling');
    }

    if (response.status < 200 || response.status > 299) {
      await response.discard();
      const { code, retryable } = classifyStatus(response.status);
      const retryAfterMs = parseRetryAfter(response.header('retry-after'), now());
      throw new VaikoraError(code, describeStatus(code, response.status), retryable, {
        status: response.status,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      });
    }

    // Chunk by chunk into a bounded structural scan, never one string: a page of 22 million tiny
    // records once took a worker to 2 GB (ADR 0022). An unreadable page is data, not an error.
    try {
      return { scan: await readPage(response.body, bounds), status: response.status };
    } catch (error) {
      throw failure(error, 'reading the response from');
    }
  }

  // Hand-written rather than p-retry: p-retry (v9) cannot take a per-failure delay, so it cannot
  // honour Retry-After, its jitter only scales delays up (1-2x, not full jitter), and it offers no
  // injectable sleep for deterministic tests.
  async function requestPage(
    request: PageRequest,
    signal: AbortSignal | undefined,
    policy: RetryPolicy,
  ): Promise<PageScan> {
    const { maxRetries, maxRetryAfterMs } = policy;
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      let error: VaikoraError;
      try {
        const { scan, status } = await attemptOnce(request, signal);
        notify({ page: request.page, status, attempt, durationMs: performance.now() - started });
        return scan;
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
      if (error.retryAfterMs !== undefined && error.retryAfterMs > maxRetryAfterMs) {
        throw new VaikoraError(
          error.code,
          `${error.message}; it asked to wait ${error.retryAfterMs} ms, more than the ${maxRetryAfterMs} ms allowed`,
          true,
          details,
        );
      }
      const jitter = backoffDelay(attempt - 1, config.baseDelayMs, config.maxDelayMs, random);
      await sleep(Math.max(jitter, error.retryAfterMs ?? 0), signal);
    }
  }

  async function verify(options: VerifyOptions = {}): Promise<VerifyResult> {
    const retries = options.retries ?? 0;
    if (!Number.isInteger(retries) || retries < 0 || retries > MAX_VERIFY_RETRIES) {
      throw new VaikoraError(
        'INVALID_CONFIG',
        `retries must be an integer from 0 to ${MAX_VERIFY_RETRIES}`,
        false,
      );
    }
    const maxRetryAfterMs = options.maxRetryAfterMs ?? config.maxRetryAfterMs;
    if (!Number.isInteger(maxRetryAfterMs) || maxRetryAfterMs < 0) {
      throw new VaikoraError('INVALID_CONFIG', 'maxRetryAfterMs must be a non-negative integer', false);
    }
    try {
      const scan = await requestPage(
        { page: 1, perPage: 1, agentId: options.agentId, sinceMs: undefined },
        options.signal,
        { maxRetries: retries, maxRetryAfterMs },
      );
      if (!scan.ok) return { ok: false, code: 'BAD_RESPONSE', message: scan.reason };
      return { ok: true, total: scan.total };
    } catch (error) {
      if (error instanceof VaikoraError) return { ok: false, code: error.code, message: error.message };
      throw error;
    }
  }

  async function discoverAgents(options: DiscoverAgentsOptions = {}): Promise<DiscoverAgentsResult> {
    const maxPages = options.maxPages ?? DISCOVER_AGENTS_DEFAULTS.maxPages;
    const maxAgents = options.maxAgents ?? DISCOVER_AGENTS_DEFAULTS.maxAgents;
    const retries = options.retries ?? 0;
    const maxRetryAfterMs = options.maxRetryAfterMs ?? config.maxRetryAfterMs;
    const within = (value: number, max: number) => Number.isInteger(value) && value >= 1 && value <= max;
    if (!within(maxPages, DISCOVER_AGENTS_LIMITS.maxPages)) {
      throw new VaikoraError(
        'INVALID_CONFIG',
        `maxPages must be an integer from 1 to ${DISCOVER_AGENTS_LIMITS.maxPages}`,
        false,
      );
    }
    if (!within(maxAgents, DISCOVER_AGENTS_LIMITS.maxAgents)) {
      throw new VaikoraError(
        'INVALID_CONFIG',
        `maxAgents must be an integer from 1 to ${DISCOVER_AGENTS_LIMITS.maxAgents}`,
        false,
      );
    }
    if (!Number.isInteger(retries) || retries < 0 || retries > MAX_VERIFY_RETRIES) {
      throw new VaikoraError(
        'INVALID_CONFIG',
        `retries must be an integer from 0 to ${MAX_VERIFY_RETRIES}`,
        false,
      );
    }
    const agents = new Set<string>();
    for (let page = 1; page <= maxPages; page++) {
      const scan = await requestPage(
        { page, perPage: config.perPage, agentId: undefined, sinceMs: undefined },
        options.signal,
        { maxRetries: retries, maxRetryAfterMs },
      );
      // An unreadable page names no agent we could trust; the next page may still.
      if (!scan.ok) continue;
      for (const record of scan.records) {
        const parsed = parseRecord(record, bounds);
        if (!parsed.ok || parsed.action.agentId === undefined) continue;
        agents.add(parsed.action.agentId);
        if (agents.size >= maxAgents) return { agents: [...agents], complete: false };
      }
      if (scan.records.length < (scan.perPage ?? config.perPage))
        return { agents: [...agents], complete: true };
    }
    return { agents: [...agents], complete: false };
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
    // Each id yielded so far, with the latest time it was yielded at: memory grows with the actions this
    // sweep yields (its new actions plus at most the overlap and one page past the cursor), never with
    // the whole history; see ADR 0020.
    const seenIds = new Map<string, number>();
    // Fingerprints (sha256 of the raw bytes) of the rejections yielded so far; see ADR 0022.
    const seenRejections = new Set<string>();
    let evidence = NO_ORDER_EVIDENCE;
    let previousUnreadable: string | null = null;
    const policy = { maxRetries: config.maxRetries, maxRetryAfterMs: config.maxRetryAfterMs };
    const once = (rejection: Rejection, into: Rejection[]) => {
      const key = rejection.fingerprint;
      if (key !== undefined) {
        if (seenRejections.has(key)) return;
        seenRejections.add(key);
      }
      into.push(rejection);
    };

    // A look back (ADR 0134) that brought nothing: what slid onto that page may be unread, so the sweep
    // does not end complete (its last stop is null) and the next run reads the range again.
    let lookBackFailed = false;
    // A page's stop as yielded: none (the sweep not complete) once a look back failed, unless it is the
    // page limit's.
    const yieldedStop = (stop: SweepStopReason | null) =>
      lookBackFailed && stop !== 'max-pages' ? null : stop;
    // A time filter lists nothing older than the window, so nothing that expires: no look back is needed.
    const filtered = config.timeFilterParam !== undefined && sinceMs !== undefined;
    // Records received so far (repeats and unreadable ones included), against the envelope's `total`.
    let receivedSoFar = 0;
    // Whether the sweep has met what earlier complete sweeps read (`metHandled`; ADR 0131, 0142).
    let met = false;
    let latePages = 0;
    let previousIds: readonly string[] | null = null;
    // The last page read was full: an empty page after it may be a glitch, after a short one it is the end.
    let previousFull = false;
    // Error pages asked for again in this sweep, at most maxRetries in all: each request already has its
    // own retries of 5xx answers, and a hostile server must not multiply them by every page.
    let errorPageRetries = 0;
    const request = (page: number) =>
      requestPage(
        { page, perPage: config.perPage, agentId: options.agentId, sinceMs },
        options.signal,
        policy,
      );
    const pause = (retry: number) =>
      sleep(backoffDelay(retry - 1, config.baseDelayMs, config.maxDelayMs, random), options.signal);
    // A body that is not JSON, or JSON that is not the envelope, may be a passing error page (a proxy's or
    // a maintenance page answered with 200): asked again as a 5xx is, before it is taken as data and read
    // past (ADR 0130). A page over a bound is the same page again: not asked again.
    const readable = async (page: number): Promise<PageScan> => {
      let scan = await request(page);
      for (
        let retry = 1;
        !scan.ok &&
        (scan.problem === 'not-json' || scan.problem === 'not-envelope') &&
        errorPageRetries < policy.maxRetries;
        retry++
      ) {
        errorPageRetries++;
        await pause(retry);
        scan = await request(page);
      }
      return scan;
    };

    // Parses a page's records into `actions` (those not yielded before, and those listed again with a
    // later time) and `rejections` (those not yielded before).
    const take = (records: readonly RawRecord[], actions: VaikoraAction[], rejections: Rejection[]) => {
      const timestamps: number[] = [];
      const ids: string[] = [];
      let repeats = 0;
      for (const record of records) {
        const parsed = parseRecord(record, bounds);
        if (parsed.ok) {
          const { id, timestampMs } = parsed.action;
          timestamps.push(timestampMs);
          ids.push(id);
          const before = seenIds.get(id);
          if (before === undefined || timestampMs > before) {
            // An id listed again with a later time (an oldest-first list keeping a re-stamped action's
            // old row first): yielded again, since the old time may be outside every window (ADR 0134).
            seenIds.set(id, timestampMs);
            actions.push(parsed.action);
          } else {
            repeats++;
          }
        } else {
          once(parsed.rejection, rejections);
        }
      }
      return { timestamps, ids, repeats };
    };

    // The page before, read again (ADR 0134): what it holds that was not yielded, with the stop of the
    // page that asked for it. An answer that is not that page, or a failure, adds nothing and does not
    // fail the sweep, but keeps it from ending complete (`lookBackFailed`).
    const rereadPage = async (
      page: number,
      order: SweepOrder,
      stop: SweepStopReason | null,
    ): Promise<VaikoraPage> => {
      let scan: PageScan | null = null;
      try {
        scan = await readable(page);
      } catch (err) {
        if (options.signal?.aborted) throw err;
      }
      const actions: VaikoraAction[] = [];
      const rejections: Rejection[] = [];
      const taken =
        scan?.ok && (scan.page === null || scan.page === page)
          ? take(scan.records, actions, rejections)
          : null;
      if (taken === null) lookBackFailed = true;
      const times = taken?.timestamps ?? [];
      return {
        page,
        actions,
        rejections,
        oldestMs: times.length === 0 ? null : Math.min(...times),
        newestMs: times.length === 0 ? null : Math.max(...times),
        total: scan?.ok ? scan.total : null,
        received: scan === null ? 0 : scan.ok ? scan.records.length : scan.records,
        repeats: taken?.repeats ?? 0,
        order,
        stop: yieldedStop(stop),
      };
    };

    for (let page = 1; ; page++) {
      let scan = await readable(page);
      // An empty page after a full one, while `total` says records remain, may be a passing glitch:
      // asked again once (through the same error-page rule) before it is taken as the end (ADR 0130).
      if (
        scan.ok &&
        scan.records.length === 0 &&
        previousFull &&
        scan.total !== null &&
        receivedSoFar < scan.total
      ) {
        await pause(1);
        scan = await readable(page);
      }
      if (scan.ok && scan.page !== null && scan.page !== page) {
        // A server that ignores `page` answers every request with the first page: reading on would cost
        // maxPages requests a run and never reach the end (ADR 0130).
        throw notPaging(
          `Vaikora answered the request for page ${page} with page ${scan.page}: it does not page as asked`,
        );
      }
      receivedSoFar += scan.ok ? scan.records.length : scan.records;
      const actions: VaikoraAction[] = [];
      const rejections: Rejection[] = [];
      if (!scan.ok) {
        // The page held something, so it is not the end of the list: yield it as one rejection and read
        // on. The same body again on the next page means the server is not paging at all (ADR 0022).
        if (scan.fingerprint === previousUnreadable) {
          throw notPaging(`Vaikora answered page ${page} with the same unreadable body as page ${page - 1}`);
        }
        previousUnreadable = scan.fingerprint;
        once(
          {
            actionId: null,
            code: 'PAGE_UNREADABLE',
            stage: 'parse',
            reason: scan.reason,
            retryable: false,
            fingerprint: scan.fingerprint,
          },
          rejections,
        );
        const order = orderOf(evidence);
        const stop = stopAfter({
          page,
          received: scan.records,
          pageSize: config.perPage,
          maxPages,
          order,
          newestMs: null,
          stopBeforeMs: options.stopBeforeMs,
          unreadable: true,
        });
        yield {
          page,
          actions,
          rejections,
          oldestMs: null,
          newestMs: null,
          total: null,
          received: scan.records,
          repeats: 0,
          order,
          stop,
        };
        if (stop !== null) return;
        continue;
      }
      previousUnreadable = null;
      const { timestamps, ids, repeats } = take(scan.records, actions, rejections);
      const pageSize = scan.perPage ?? config.perPage;
      const totalSaysMore = scan.total !== null && receivedSoFar < scan.total;
      // The same actions in the same order as the page before: a server that ignores `page` and does not
      // say which page it sent (ADR 0130). A full page, or a short one read past because `total` says
      // more (the list shifting under a burst moves a full page, never repeats a short tail).
      if (
        previousIds !== null &&
        ids.length > 0 &&
        (scan.records.length >= pageSize || totalSaysMore) &&
        ids.length === previousIds.length &&
        ids.every((id, i) => id === previousIds?.[i])
      ) {
        throw notPaging(
          `Vaikora answered page ${page} with the same actions as page ${page - 1}: it does not page as asked`,
        );
      }
      previousIds = ids;
      evidence = observeOrder(evidence, timestamps);
      const order = orderOf(evidence);
      const oldestMs = timestamps.length === 0 ? null : Math.min(...timestamps);
      const newestMs = timestamps.length === 0 ? null : Math.max(...timestamps);
      let stop = stopAfter({
        page,
        received: scan.records.length,
        pageSize,
        maxPages,
        order,
        newestMs,
        stopBeforeMs: options.stopBeforeMs,
        totalSaysMore,
      });
      previousFull = scan.records.length >= pageSize;
      const askMet = options.metHandled;
      // This page's own actions do not count here: a page that would stop by the cursor rule has none
      // inside the window, where every action a stream handled is kept.
      if (
        stop === 'cursor' &&
        askMet !== undefined &&
        !met &&
        latePages < (options.expectsHandled?.() === true ? EXPECTED_LATE_PAGES : LATE_PAGES)
      ) {
        latePages++;
        stop = page >= maxPages ? 'max-pages' : null;
      }
      // In an oldest-first list, retention deleting its head while it is paged shifts every later page
      // towards the head: the first records of this page slid onto the one before, already read, and
      // would be read by no sweep once the position is past them. A page reaching the window is
      // followed by the page before it again, whose end then holds them (ADR 0134). Whether the list
      // moved cannot be told from `total` (one expiring and one arriving leave it the same).
      const reread =
        page > 1 && order === 'asc' && !filtered && newestMs !== null && newestMs >= options.stopBeforeMs;
      yield {
        page,
        actions,
        rejections,
        oldestMs,
        newestMs,
        total: scan.total,
        received: scan.records.length,
        repeats,
        order,
        stop: reread ? null : yieldedStop(stop),
      };
      // Asked once the caller has taken the page: it reads a stream's seen-set for a page inside its window.
      if (askMet !== undefined && !met) met = askMet(actions);
      if (reread) yield await rereadPage(page - 1, order, stop);
      if (stop !== null) return;
    }
  }

  const summary = `VaikoraClient(${config.baseUrl})`;
  return {
    verify,
    discoverAgents,
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

/** A system error code such as ECONNREFUSED, when the error carries a plain one. */
function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]{1,39}$/.test(code) ? code : undefined;
}
