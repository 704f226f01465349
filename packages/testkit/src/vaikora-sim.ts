import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseTimestamp } from '@vsh/core';
import { createRng, generateActions, type Rng, WireRecord } from '@vsh/fixtures';
import { z } from 'zod';

const rate = z.number().min(0).max(1);

/** Page `page` of a key is answered with `bytes` bytes of `{"actions":[{},{},...],"total":...}`. */
const tinyRecordsPageSchema = z.strictObject({
  bytes: z
    .number()
    .int()
    .min(64)
    .max(2 ** 32),
  page: z.number().int().min(1).default(1),
  /** false: no Content-Length (chunked transfer encoding), so a client cannot refuse the size up front. */
  contentLength: z.boolean().default(true),
});
export type TinyRecordsPage = z.output<typeof tinyRecordsPageSchema>;

/** Knobs that can be set for one tenant key (`perKey`), overriding the global ones for its requests. */
const perKeySchema = z.strictObject({
  slowPageMs: z.number().min(0).optional(),
  tinyRecordsPage: tinyRecordsPageSchema.nullable().optional(),
});

/** Behaviour knobs of the Vaikora simulator; all can change while it runs (`setOptions`). */
export const vaikoraSimKnobsSchema = z.strictObject({
  /**
   * Listing order; the real API does not document one. `arrival`: newest arrival first, whatever the
   * records' times, so that a late upload heads the list ahead of what arrived before it (ADR 0131).
   */
  order: z.enum(['desc', 'asc', 'arrival']).default('desc'),
  /**
   * Share of list requests in `arrival` order that first move one of the agent's 50 newest records (by
   * time) to the head, at its own time: a list ordered by last update, or a hostile one (ADR 0144).
   */
  relistRate: rate.default(0),
  /** `per_page` when the query has none. */
  defaultPerPage: z.number().int().min(1).default(100),
  /** Largest `per_page` served. */
  maxPerPage: z.number().int().min(1).default(100),
  /** What a larger `per_page` gets: clamped to `maxPerPage` (reported in the body) or a 400. */
  perPageOverflow: z.enum(['clamp', 'reject']).default('clamp'),
  /** Name of a time filter parameter (`since`: timestamp >= value); null = no filter, as documented. */
  timeFilterParam: z.string().min(1).nullable().default(null),
  /** New actions per agent per minute of the clock, generated lazily on each request. */
  actionsPerMinute: z.number().min(0).max(1_000_000).default(0),
  /** New actions inserted at the head of the queried list on every list request (pagination drift). */
  insertsPerPageRequest: z.number().int().min(0).max(10_000).default(0),
  /** Share of generated actions sharing the previous one's timestamp. */
  burstRate: rate.default(0),
  /** Share of generated records that cannot become findings (no id, bad timestamp, not an object). */
  badRate: rate.default(0),
  /** Share of generated records carrying `severity` instead of `risk_level`. */
  aliasRate: rate.default(0),
  /** Share of generated records with hostile strings (control characters, huge, injection text). */
  hostileRate: rate.default(0),
  /** Share of generated records with wrong-typed optional fields. */
  wrongTypeRate: rate.default(0),
  /** Share of generated (valid) records with every C0 control, NUL, lone surrogates, astral and huge strings. */
  extremeRate: rate.default(0),
  /** Size of the huge string of `extremeRate` records (one shared string); 0 = none. */
  hugeStringBytes: z
    .number()
    .int()
    .min(0)
    .max(64 * 1024 * 1024)
    .default(1024 * 1024),
  /** Share of generated records that cannot become findings (no id, garbage timestamp) AND carry U+0000. */
  badNulRate: rate.default(0),
  /** Share of generated records holding arrays nested `deepDepth` deep (written as text, never built). */
  deepRate: rate.default(0),
  deepDepth: z.number().int().min(1).max(100_000_000).default(10_000),
  /** Share of generated records whose bytes on the wire are not valid UTF-8. */
  invalidUtf8Rate: rate.default(0),
  /** Share of generated records stamped `lateByMs` before the time they appear (late arrivals). */
  lateRate: rate.default(0),
  lateByMs: z.number().int().min(0).default(60_000),
  /** Pages (1-based) whose list requests are answered 400, which a client does not retry: a sweep cut off there. */
  refusePages: z.array(z.number().int().min(1)).max(100).default([]),
  /** Share of authenticated list requests answered 429. */
  rate429: rate.default(0),
  /** `Retry-After` sent with a 429. */
  retryAfterSeconds: z.number().int().min(0).default(1),
  retryAfterFormat: z.enum(['seconds', 'http-date']).default('seconds'),
  /** Share of authenticated list requests answered 500/502/503/504. */
  rate5xx: rate.default(0),
  /** Added to every request: fixed plus uniform jitter, in real milliseconds. */
  latencyMs: z.number().min(0).default(0),
  latencyJitterMs: z.number().min(0).default(0),
  /** Share of requests held for `hangMs` real milliseconds before being answered (client timeouts). */
  hangRate: rate.default(0),
  hangMs: z.number().min(0).default(30_000),
  /** Every list answer of a key (after its key is checked) waits this long, in real milliseconds. */
  slowPageMs: z.number().min(0).default(0),
  /** One page answered with a huge body of tiny records, streamed in chunks; null = none. */
  tinyRecordsPage: tinyRecordsPageSchema.nullable().default(null),
  /** Per tenant key: `slowPageMs` and `tinyRecordsPage` for that key's requests only. */
  perKey: z.record(z.string().min(1), perKeySchema).default({}),
  /** Actions older than this, relative to the clock, disappear; null = kept for ever. */
  retentionMs: z.number().positive().nullable().default(null),
  /** When false, any key (or none) reads the first tenant. */
  checkKeys: z.boolean().default(true),
});
export type VaikoraSimKnobs = z.output<typeof vaikoraSimKnobsSchema>;

/** Key of the tenant a simulator serves when no tenants are given. */
export const DEFAULT_SIM_API_KEY = 'vk_test_simulator';
const DEFAULT_AGENTS = ['agt-support-bot', 'agt-sql-copilot'];

const tenantSchema = z.strictObject({
  apiKey: z.string().min(1),
  agents: z.array(z.string().min(1)).min(1).default(DEFAULT_AGENTS),
});

/** Start-up options of the simulator: the knobs plus data seeding, tenants, address and clock. */
export const vaikoraSimulatorOptionsSchema = vaikoraSimKnobsSchema.extend({
  seed: z.number().int().default(1),
  tenants: z
    .array(tenantSchema)
    .min(1)
    .default([{ apiKey: DEFAULT_SIM_API_KEY, agents: DEFAULT_AGENTS }]),
  /** History generated per agent at start, spread over the `historyMs` before the clock. */
  initialActionsPerAgent: z.number().int().min(0).max(1_000_000).default(250),
  historyMs: z
    .number()
    .positive()
    .default(6 * 3_600_000),
  host: z.string().default('127.0.0.1'),
  /** 0 = a free port chosen by the kernel. */
  port: z.number().int().min(0).max(65_535).default(0),
  /** Epoch-ms clock driving generation and retention; real time when omitted. */
  clock: z.custom<() => number>((value) => typeof value === 'function').optional(),
});
export type VaikoraSimulatorOptions = z.input<typeof vaikoraSimulatorOptionsSchema>;

/** One stored record: the raw JSON served, and where it sits in the list. */
export interface SimAction {
  /** Insertion sequence, unique per simulator; breaks timestamp ties. */
  readonly seq: number;
  readonly agentId: string;
  /** Sort key: the record's own timestamp when parseable, else its predecessor's. */
  readonly timestampMs: number;
  /**
   * The record as a client sees it once parsed. For a `wire` record: what a lenient reader makes of its
   * bytes (U+FFFD for bad bytes), with a nested value too deep to build replaced by `[nested N deep]`.
   */
  readonly raw: unknown;
  /** Served instead of `JSON.stringify(raw)`: nesting too deep to build, or bytes that are not UTF-8. */
  readonly wire?: WireRecord;
}

/** One page of a list, as served. */
export interface SimPage {
  /** Records after retention and the time filter (the envelope's `total`). */
  readonly total: number;
  readonly actions: SimAction[];
}

/** The simulator's data: tenants (by API key), their agents, and each agent's actions. */
export interface VaikoraSimStore {
  tenantKeys(): string[];
  agents(apiKey: string): string[];
  /** Adds a tenant with its agents and seeded history (no-op for a known key). */
  addTenant(apiKey: string, agents: readonly string[], initialActionsPerAgent?: number): void;
  /** Appends `n` generated actions at the head (newest end) of one agent's list; returns them. */
  append(apiKey: string, agentId: string, n: number): SimAction[];
  /**
   * `n` generated actions stamped from `fromMs` to about `toMs`, arriving now: an agent's buffered upload.
   * In `arrival` order they head the list; in time order they take their places by time.
   */
  upload(apiKey: string, agentId: string, n: number, fromMs: number, toMs: number): SimAction[];
  /** Moves the agent's action `id` to the head of the `arrival` order (listed again, at its own time); false when unknown. */
  relist(apiKey: string, agentId: string, id: string): boolean;
  /** Actions visible now (retention applied), oldest first; every agent when `agentId` is omitted. */
  list(apiKey: string, agentId?: string): SimAction[];
  /**
   * One page of what `list` gives, in `order`, from `offset`, only records at or after `sinceMs`. For one
   * agent it costs O(log n + limit) (no copy of the list), so 100 actions/s per agent stay cheap to serve.
   */
  page(
    apiKey: string,
    agentId: string | undefined,
    query: { order: VaikoraSimKnobs['order']; offset: number; limit: number; sinceMs: number },
  ): SimPage;
  /** Generates what `actionsPerMinute` makes due up to the clock and drops expired actions. */
  advance(): void;
}

export interface VaikoraSimStats {
  requests: number;
  byStatus: Record<number, number>;
  /** Requests held by `hangRate`. */
  hangs: number;
  /** Requests whose client went away before the answer. */
  aborted: number;
  /** Actions inserted by `insertsPerPageRequest`. */
  driftInserts: number;
  /** Actions listed again at the head by `relistRate`. */
  relists: number;
  /** Requests held by `slowPageMs`. */
  slowPages: number;
  /** Answers streamed in chunks (tiny-records pages, pages holding wire records). */
  streamed: number;
  /** Bytes of those streamed answers written to sockets. */
  streamedBytes: number;
}

export interface VaikoraSimulator {
  /** `http://127.0.0.1:PORT/api/v1` */
  readonly baseUrl: string;
  readonly port: number;
  readonly store: VaikoraSimStore;
  /** Validates and applies knob changes; returns the knobs now in force. */
  setOptions(partial: Partial<VaikoraSimKnobs>): VaikoraSimKnobs;
  stats(): VaikoraSimStats;
  resetStats(): void;
  stop(): Promise<void>;
}

interface AgentState {
  readonly tenantIndex: number;
  readonly agentIndex: number;
  readonly agentId: string;
  readonly actions: SimAction[];
  /** The same actions in the order they arrived (or were listed again), oldest arrival first. */
  arrivals: SimAction[];
  batches: number;
  lastGeneratedMs: number;
  carry: number;
}

/** Most actions one `advance` generates per agent, so a large clock jump cannot exhaust memory. */
const MAX_GENERATED_PER_ADVANCE = 100_000;

/** FNV-1a: a stable seed per tenant, agent and batch, so data never depends on request timing. */
function deriveSeed(...parts: readonly (string | number)[]): number {
  let hash = 0x811c9dc5;
  for (const ch of parts.join('|')) {
    hash ^= ch.codePointAt(0) ?? 0;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

function recordTimestamp(raw: unknown): number | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const ts = parseTimestamp((raw as Record<string, unknown>).timestamp);
  return typeof ts === 'number' ? ts : undefined;
}

function insertSorted(list: SimAction[], action: SimAction): void {
  let i = list.length;
  while (i > 0) {
    const prev = list[i - 1];
    if (prev === undefined || prev.timestampMs <= action.timestampMs) break;
    i--;
  }
  list.splice(i, 0, action);
}

const byTimeThenSeq = (a: SimAction, b: SimAction): number => a.timestampMs - b.timestampMs || a.seq - b.seq;

/** First index whose timestamp is at or after `ms` (the list is sorted by timestamp). */
function lowerBound(list: readonly SimAction[], ms: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((list[mid]?.timestampMs ?? Number.POSITIVE_INFINITY) < ms) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Creates the in-memory, seeded, deterministic store behind the simulator (usable without HTTP). */
export function createVaikoraSimStore(
  seed: number,
  clock: () => number,
  knobs: () => VaikoraSimKnobs,
  historyMs: number,
): VaikoraSimStore {
  const tenants = new Map<string, { index: number; agents: Map<string, AgentState> }>();
  let seq = 0;
  // When each action last arrived (or was listed again): the `arrival` order, across agents too.
  const arrivedAt = new WeakMap<SimAction, number>();
  let arrival = 0;
  const byArrival = (a: SimAction, b: SimAction): number => (arrivedAt.get(a) ?? 0) - (arrivedAt.get(b) ?? 0);

  const generate = (agent: AgentState, n: number, fromMs: number, toMs: number): SimAction[] => {
    if (n <= 0) return [];
    const k = knobs();
    const batch = agent.batches++;
    // generateActions advances time by uniform(1, 2*step) per record: a step of 0.9*span/n keeps the
    // batch inside [fromMs, toMs] on average while staying a realistic irregular stream.
    const stepMs = Math.max(1, Math.floor((0.9 * Math.max(0, toMs - fromMs)) / n));
    const records = generateActions({
      seed: deriveSeed(seed, agent.tenantIndex, agent.agentIndex, batch),
      count: n,
      startMs: fromMs,
      stepMs,
      burstRate: k.burstRate,
      agents: [agent.agentId],
      hostileRate: k.hostileRate,
      badRate: k.badRate,
      aliasRate: k.aliasRate,
      wrongTypeRate: k.wrongTypeRate,
      extremeRate: k.extremeRate,
      hugeStringBytes: k.hugeStringBytes,
      badNulRate: k.badNulRate,
      deepRate: k.deepRate,
      deepDepth: k.deepDepth,
      invalidUtf8Rate: k.invalidUtf8Rate,
      lateRate: k.lateRate,
      lateByMs: k.lateByMs,
      idPrefix: `act-t${agent.tenantIndex}a${agent.agentIndex}b${batch}`,
    });
    let previousMs = fromMs;
    const added: SimAction[] = [];
    for (const record of records) {
      const wire = record instanceof WireRecord ? record : undefined;
      const raw = wire === undefined ? record : wire.value;
      const timestampMs = recordTimestamp(raw) ?? previousMs;
      previousMs = timestampMs;
      const action: SimAction =
        wire === undefined
          ? { seq: seq++, agentId: agent.agentId, timestampMs, raw }
          : { seq: seq++, agentId: agent.agentId, timestampMs, raw, wire };
      insertSorted(agent.actions, action);
      agent.arrivals.push(action);
      arrivedAt.set(action, arrival++);
      added.push(action);
    }
    return added;
  };

  const agentState = (apiKey: string, agentId: string): AgentState => {
    const agent = tenants.get(apiKey)?.agents.get(agentId);
    if (agent === undefined) throw new RangeError(`unknown tenant or agent ${JSON.stringify(agentId)}`);
    return agent;
  };

  const newestMs = (agent: AgentState): number =>
    agent.actions[agent.actions.length - 1]?.timestampMs ?? Number.NEGATIVE_INFINITY;

  const store: VaikoraSimStore = {
    tenantKeys: () => [...tenants.keys()],
    agents: (apiKey) => [...(tenants.get(apiKey)?.agents.keys() ?? [])],
    addTenant(apiKey, agents, initialActionsPerAgent = 0) {
      if (tenants.has(apiKey)) return;
      const index = tenants.size;
      const states = new Map<string, AgentState>();
      const now = clock();
      agents.forEach((agentId, agentIndex) => {
        if (states.has(agentId)) return;
        const agent: AgentState = {
          tenantIndex: index,
          agentIndex,
          agentId,
          actions: [],
          arrivals: [],
          batches: 0,
          lastGeneratedMs: now,
          carry: 0,
        };
        generate(agent, initialActionsPerAgent, now - historyMs, now);
        states.set(agentId, agent);
      });
      tenants.set(apiKey, { index, agents: states });
    },
    append(apiKey, agentId, n) {
      const agent = agentState(apiKey, agentId);
      const fromMs = Math.max(newestMs(agent), agent.lastGeneratedMs);
      return generate(agent, n, fromMs, Math.max(clock(), fromMs));
    },
    upload(apiKey, agentId, n, fromMs, toMs) {
      return generate(agentState(apiKey, agentId), n, fromMs, toMs);
    },
    relist(apiKey, agentId, id) {
      const agent = agentState(apiKey, agentId);
      const at = agent.arrivals.findIndex((a) => (a.raw as { id?: unknown } | null)?.id === id);
      const action = agent.arrivals[at];
      if (action === undefined) return false;
      agent.arrivals.splice(at, 1);
      agent.arrivals.push(action);
      arrivedAt.set(action, arrival++);
      return true;
    },
    list(apiKey, agentId) {
      const tenant = tenants.get(apiKey);
      if (tenant === undefined) return [];
      const retention = knobs().retentionMs;
      const cutoff = retention === null ? Number.NEGATIVE_INFINITY : clock() - retention;
      const pick = (agent: AgentState) => agent.actions.filter((a) => a.timestampMs >= cutoff);
      if (agentId !== undefined) {
        const agent = tenant.agents.get(agentId);
        return agent === undefined ? [] : pick(agent);
      }
      return [...tenant.agents.values()].flatMap(pick).sort(byTimeThenSeq);
    },
    page(apiKey, agentId, { order, offset, limit, sinceMs }) {
      if (agentId === undefined) {
        const all = store.list(apiKey).filter((a) => a.timestampMs >= sinceMs);
        if (order === 'arrival') all.sort(byArrival);
        const ordered = order === 'asc' ? all : all.reverse();
        return { total: ordered.length, actions: ordered.slice(offset, offset + limit) };
      }
      const agent = tenants.get(apiKey)?.agents.get(agentId);
      if (agent === undefined) return { total: 0, actions: [] };
      const retention = knobs().retentionMs;
      const cutoff = retention === null ? Number.NEGATIVE_INFINITY : clock() - retention;
      if (order === 'arrival') {
        // O(n) a page: the arrival order is for tests of late uploads, not for 100 actions/s.
        const from = Math.max(cutoff, sinceMs);
        const listed = agent.arrivals.filter((a) => a.timestampMs >= from);
        const end = Math.max(0, listed.length - offset);
        return { total: listed.length, actions: listed.slice(Math.max(0, end - limit), end).reverse() };
      }
      const list = agent.actions;
      const first = lowerBound(list, Math.max(cutoff, sinceMs));
      const total = list.length - first;
      if (order === 'asc') {
        const from = first + offset;
        return { total, actions: list.slice(from, Math.min(from + limit, list.length)) };
      }
      const end = list.length - offset;
      return { total, actions: list.slice(Math.max(first, end - limit), Math.max(first, end)).reverse() };
    },
    advance() {
      const now = clock();
      const k = knobs();
      for (const tenant of tenants.values()) {
        for (const agent of tenant.agents.values()) {
          if (now > agent.lastGeneratedMs) {
            const due = agent.carry + ((now - agent.lastGeneratedMs) * k.actionsPerMinute) / 60_000;
            const n = Math.min(Math.floor(due), MAX_GENERATED_PER_ADVANCE);
            agent.carry = due - Math.floor(due);
            generate(agent, n, Math.max(agent.lastGeneratedMs, newestMs(agent)), now);
            agent.lastGeneratedMs = now;
          }
          if (k.retentionMs !== null) {
            const cutoff = now - k.retentionMs;
            const keepFrom = agent.actions.findIndex((a) => a.timestampMs >= cutoff);
            const dropped = keepFrom === -1 ? agent.actions.length : keepFrom;
            agent.actions.splice(0, dropped);
            if (dropped > 0) agent.arrivals = agent.arrivals.filter((a) => a.timestampMs >= cutoff);
          }
        }
      }
    },
  };
  return store;
}

const STATUS_5XX = [500, 502, 503, 504] as const;
const JSON_TYPE = 'application/json; charset=utf-8';
/** Largest chunk a streamed answer writes at once. */
const STREAM_CHUNK_BYTES = 64 * 1024;
/** `,{}` repeated to just under STREAM_CHUNK_BYTES: every tiny-records chunk is a view of it. */
const TINY_RECORDS_BLOCK = Buffer.from(',{}'.repeat(Math.floor(STREAM_CHUNK_BYTES / 3)));
const TINY_RECORDS_PER_BLOCK = TINY_RECORDS_BLOCK.byteLength / 3;

/** How many `{}` records a tiny-records body of exactly `bytes` holds, and its closing text. */
export function tinyRecordsLayout(
  bytes: number,
  page: number,
  perPage: number,
): { records: number; head: string; padding: number; tail: string } {
  const head = '{"actions":[';
  const tailFor = (n: number) => `],"total":${n},"page":${page},"per_page":${perPage}}`;
  // n records take 3n-1 bytes; the tail's length depends on n's digits, so settle n in a few rounds.
  let records = 0;
  for (let round = 0; round < 4; round++) {
    const room = bytes - head.length - tailFor(records).length;
    records = Math.max(0, Math.floor((room + 1) / 3));
  }
  while (records > 0 && head.length + 3 * records - 1 + tailFor(records).length > bytes) records--;
  const tail = tailFor(records);
  const used = head.length + (records === 0 ? 0 : 3 * records - 1) + tail.length;
  return { records, head, padding: Math.max(0, bytes - used), tail };
}

/** The chunks of a tiny-records body (`{"actions":[{},{},...],"total":n,...}`), never built whole. */
function* tinyRecordsBody(bytes: number, page: number, perPage: number): Generator<Buffer> {
  const { records, head, padding, tail } = tinyRecordsLayout(bytes, page, perPage);
  yield Buffer.from(records > 0 ? `${head}{}` : head);
  for (let left = records - 1; left > 0; left -= TINY_RECORDS_PER_BLOCK) {
    yield TINY_RECORDS_BLOCK.subarray(0, 3 * Math.min(left, TINY_RECORDS_PER_BLOCK));
  }
  // JSON allows whitespace before `]`: it makes the body exactly the size asked for.
  if (padding > 0) yield Buffer.alloc(padding, 0x20);
  yield Buffer.from(tail);
}

/** The chunks of a page envelope holding wire records (written as they are, never concatenated). */
function* envelopeBody(
  actions: readonly SimAction[],
  meta: { total: number; page: number; perPage: number },
): Generator<Uint8Array> {
  let pending = '{"actions":[';
  for (const [i, a] of actions.entries()) {
    if (i > 0) pending += ',';
    if (a.wire === undefined) {
      pending += JSON.stringify(a.raw);
      if (pending.length >= STREAM_CHUNK_BYTES) {
        yield Buffer.from(pending);
        pending = '';
      }
      continue;
    }
    if (pending !== '') yield Buffer.from(pending);
    pending = '';
    yield* a.wire.chunks(STREAM_CHUNK_BYTES);
  }
  yield Buffer.from(`${pending}],"total":${meta.total},"page":${meta.page},"per_page":${meta.perPage}}`);
}

/**
 * Starts a simulator of the Vaikora management API (`GET /api/v1/actions`, see
 * docs/vaikora-api.md) on 127.0.0.1 with seeded data and injectable faults.
 * Also: `GET /__sim/stats` and `POST /__sim/options` (JSON knobs) for manual runs.
 */
export async function startVaikoraSimulator(
  options: VaikoraSimulatorOptions = {},
): Promise<VaikoraSimulator> {
  const { seed, tenants, initialActionsPerAgent, historyMs, host, port, clock, ...initialKnobs } =
    vaikoraSimulatorOptionsSchema.parse(options);
  let knobs: VaikoraSimKnobs = initialKnobs;
  const now = clock ?? Date.now;
  const store = createVaikoraSimStore(seed, now, () => knobs, historyMs);
  for (const tenant of tenants) store.addTenant(tenant.apiKey, tenant.agents, initialActionsPerAgent);
  const faults: Rng = createRng(deriveSeed(seed, 'faults'));
  const timers = new Set<NodeJS.Timeout>();
  const emptyStats = (): VaikoraSimStats => ({
    requests: 0,
    byStatus: {},
    hangs: 0,
    aborted: 0,
    driftInserts: 0,
    relists: 0,
    slowPages: 0,
    streamed: 0,
    streamedBytes: 0,
  });
  let counters = emptyStats();

  const wait = (ms: number): Promise<void> =>
    ms <= 0
      ? Promise.resolve()
      : new Promise((resolve) => {
          const timer = setTimeout(() => {
            timers.delete(timer);
            resolve();
          }, ms);
          timers.add(timer);
        });

  const send = (
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
    contentType = JSON_TYPE,
  ): void => {
    if (res.destroyed || res.writableEnded) {
      counters.aborted++;
      return;
    }
    if (res.headersSent) {
      // A streamed answer failed half-way: the client must see a cut body, not a second answer.
      res.destroy();
      return;
    }
    counters.byStatus[status] = (counters.byStatus[status] ?? 0) + 1;
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': contentType, ...headers });
    res.end(text);
  };

  /** Writes `chunks` one at a time, waiting for 'drain' when the socket is full (never buffers the body). */
  const stream = async (
    res: ServerResponse,
    chunks: Iterable<Uint8Array>,
    contentLength: number | undefined,
  ): Promise<void> => {
    if (res.destroyed || res.writableEnded) {
      counters.aborted++;
      return;
    }
    counters.byStatus[200] = (counters.byStatus[200] ?? 0) + 1;
    counters.streamed++;
    res.writeHead(200, {
      'content-type': JSON_TYPE,
      ...(contentLength === undefined ? {} : { 'content-length': String(contentLength) }),
    });
    for (const chunk of chunks) {
      if (res.destroyed) {
        counters.aborted++;
        return;
      }
      counters.streamedBytes += chunk.byteLength;
      if (!res.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      }
    }
    res.end();
  };

  const setOptions = (partial: Partial<VaikoraSimKnobs>): VaikoraSimKnobs => {
    knobs = vaikoraSimKnobsSchema.parse({ ...knobs, ...partial });
    return knobs;
  };

  const listActions = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const k = knobs;
    const key = req.headers['x-api-key'];
    const presented = typeof key === 'string' ? key : undefined;
    const known = presented !== undefined && store.tenantKeys().includes(presented);
    const tenantKey = known ? presented : k.checkKeys ? undefined : store.tenantKeys()[0];
    if (tenantKey === undefined) {
      send(res, 401, { error: 'unauthorized', message: 'missing or invalid API key' });
      return;
    }
    const own = k.perKey[tenantKey];
    const slowPageMs = own?.slowPageMs ?? k.slowPageMs;
    const tinyRecordsPage = own?.tinyRecordsPage === undefined ? k.tinyRecordsPage : own.tinyRecordsPage;
    if (slowPageMs > 0) {
      counters.slowPages++;
      await wait(slowPageMs);
    }
    if (faults.chance(k.rate429)) {
      const retryAfter =
        k.retryAfterFormat === 'seconds'
          ? String(k.retryAfterSeconds)
          : new Date(now() + k.retryAfterSeconds * 1000).toUTCString();
      send(res, 429, { error: 'rate_limited', message: 'too many requests' }, { 'retry-after': retryAfter });
      return;
    }
    if (faults.chance(k.rate5xx)) {
      const status = faults.pick(STATUS_5XX);
      if (faults.chance(0.5)) {
        send(res, status, `<html><body><h1>${status}</h1>upstream error</body></html>`, {}, 'text/html');
      } else {
        send(res, status, { error: 'unavailable', message: 'temporarily unavailable' });
      }
      return;
    }

    const params = url.searchParams;
    const pageText = params.get('page') ?? '1';
    const perPageText = params.get('per_page') ?? String(k.defaultPerPage);
    if (!/^\d{1,9}$/.test(pageText) || Number(pageText) < 1) {
      send(res, 400, { error: 'bad_request', message: 'page must be a positive integer' });
      return;
    }
    if (!/^\d{1,9}$/.test(perPageText) || Number(perPageText) < 1) {
      send(res, 400, { error: 'bad_request', message: 'per_page must be a positive integer' });
      return;
    }
    let perPage = Number(perPageText);
    if (perPage > k.maxPerPage) {
      if (k.perPageOverflow === 'reject') {
        send(res, 400, { error: 'bad_request', message: `per_page must be at most ${k.maxPerPage}` });
        return;
      }
      perPage = k.maxPerPage;
    }
    let sinceMs = Number.NEGATIVE_INFINITY;
    const sinceText = k.timeFilterParam === null ? null : params.get(k.timeFilterParam);
    if (sinceText !== null) {
      sinceMs = Date.parse(sinceText);
      if (Number.isNaN(sinceMs)) {
        send(res, 400, {
          error: 'bad_request',
          message: `${k.timeFilterParam} must be an ISO 8601 date-time`,
        });
        return;
      }
    }

    const page = Number(pageText);
    if (k.refusePages.includes(page)) {
      send(res, 400, { error: 'bad_request', message: `page ${page} refused (simulator refusePages)` });
      return;
    }
    if (tinyRecordsPage !== null && tinyRecordsPage.page === page) {
      const { bytes, contentLength } = tinyRecordsPage;
      await stream(res, tinyRecordsBody(bytes, page, perPage), contentLength ? bytes : undefined);
      return;
    }
    const agentId = params.get('agent_id') ?? undefined;
    const agents = store.agents(tenantKey);
    store.advance();
    if (
      k.order === 'arrival' &&
      agentId !== undefined &&
      agents.includes(agentId) &&
      faults.chance(k.relistRate)
    ) {
      const recent = store.list(tenantKey, agentId).slice(-50);
      const id = recent.length === 0 ? undefined : (faults.pick(recent).raw as { id?: unknown } | null)?.id;
      if (typeof id === 'string' && store.relist(tenantKey, agentId, id)) counters.relists++;
    }
    if (k.insertsPerPageRequest > 0 && agents.length > 0) {
      const target = agentId ?? faults.pick(agents);
      if (agents.includes(target)) {
        store.append(tenantKey, target, k.insertsPerPageRequest);
        counters.driftInserts += k.insertsPerPageRequest;
      }
    }
    const { total, actions } = store.page(tenantKey, agentId, {
      order: k.order,
      offset: (page - 1) * perPage,
      limit: perPage,
      sinceMs,
    });
    if (actions.some((a) => a.wire !== undefined)) {
      await stream(res, envelopeBody(actions, { total, page, perPage }), undefined);
      return;
    }
    send(res, 200, { actions: actions.map((a) => a.raw), total, page, per_page: perPage });
  };

  const readJson = async (req: IncomingMessage): Promise<unknown> => {
    let text = '';
    for await (const chunk of req) text += String(chunk);
    return JSON.parse(text);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://simulator.invalid');
    if (url.pathname === '/__sim/stats' && req.method === 'GET') {
      send(res, 200, counters);
      return;
    }
    if (url.pathname === '/__sim/options' && req.method === 'POST') {
      try {
        send(res, 200, setOptions((await readJson(req)) as Partial<VaikoraSimKnobs>));
      } catch (error) {
        send(res, 400, { error: 'bad_request', message: error instanceof Error ? error.message : 'invalid' });
      }
      return;
    }
    counters.requests++;
    const k = knobs;
    await wait(k.latencyMs + (k.latencyJitterMs > 0 ? faults.next() * k.latencyJitterMs : 0));
    if (faults.chance(k.hangRate)) {
      counters.hangs++;
      await wait(k.hangMs);
    }
    if (url.pathname.replace(/\/+$/, '') !== '/api/v1/actions') {
      send(res, 404, { error: 'not_found', message: 'no such endpoint' });
      return;
    }
    if (req.method !== 'GET') {
      send(res, 405, { error: 'method_not_allowed', message: 'use GET' }, { allow: 'GET' });
      return;
    }
    await listActions(req, res, url);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => send(res, 500, { error: 'internal', message: 'simulator error' }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const boundPort = (server.address() as AddressInfo).port;
  let stopped: Promise<void> | undefined;

  return {
    baseUrl: `http://${host}:${boundPort}/api/v1`,
    port: boundPort,
    store,
    setOptions,
    stats: () => structuredClone(counters),
    resetStats: () => {
      counters = emptyStats();
    },
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}
