import { performance } from 'node:perf_hooks';
import type { DynamoDBClient, ServiceInputTypes, ServiceOutputTypes } from '@aws-sdk/client-dynamodb';
import type { DeserializeMiddleware, HttpResponse } from '@smithy/types';

/**
 * AWS's clock as this process reads it (ADR 0135): the local clock corrected by the offset the `Date`
 * headers of the service's answers show. Lease expiry is written and judged by each worker's clock;
 * two workers minutes apart would both hold a tenant (both importing the same actions) without it.
 *
 * The SDK keeps an offset of its own (`systemClockOffset`), but moves it only past 5 minutes of skew
 * (to keep requests signable): far above a 20-second lease. The `Date` header is whole seconds, so an
 * answer only bounds the offset: the service wrote it between the request leaving and the answer
 * coming back, so the offset is at least `date - received` and below `date + 1 s - sent`. The bounds of
 * the last answers are intersected (answers at different fractions of a second narrow it to about a
 * round trip). While the interval holds 0 the local clock is right and is used as it is: no worker's
 * times move by the header's rounding. Answers that contradict each other (the local clock was set)
 * start the interval again.
 */
export interface ServerClock {
  /** Epoch milliseconds by the service's clock (the local clock until an answer was read). */
  readonly now: () => number;
  /** The local clock it corrects: what the times given to `observe` are read from. */
  readonly local: () => number;
  /** The current offset (service minus local), ms; 0 before the first answer and while 0 is possible. */
  offsetMs(): number;
  /** Whether an answer with a `Date` header has been read. */
  readonly sampled: () => boolean;
  /** Reads one answer: its `Date` header, the local times the request left and the answer came. */
  observe(dateHeader: string | undefined, sentAtMs: number, receivedAtMs: number): void;
}

/** How many answers' bounds are intersected. */
const ANSWERS = 16;

/**
 * The local clock it corrects by default: the wall clock at the process's start plus the monotonic
 * clock since, which no step of the wall clock (NTP, a resumed VM) moves between two answers.
 */
const monotonic = () => performance.timeOrigin + performance.now();

type Bounds = { readonly low: number; readonly high: number };
const overlap = (a: Bounds, b: Bounds) => a.low <= b.high && b.low <= a.high;

export function createServerClock(local: () => number = monotonic): ServerClock {
  let bounds: Bounds[] = [];
  // Answers that contradict the interval: it starts again from them once two of them agree (one answer
  // with a wrong Date, a proxy's, does not move a well-measured clock).
  let contrary: Bounds[] = [];
  let offset = 0;
  const settle = () => {
    const low = Math.max(...bounds.map((b) => b.low));
    const high = Math.min(...bounds.map((b) => b.high));
    offset = low <= 0 && high >= 0 ? 0 : Math.round((low + high) / 2);
  };
  return {
    now: () => local() + offset,
    local,
    offsetMs: () => offset,
    sampled: () => bounds.length > 0,
    observe(dateHeader, sentAtMs, receivedAtMs) {
      const date = dateHeader === undefined ? Number.NaN : Date.parse(dateHeader);
      if (!Number.isFinite(date) || receivedAtMs < sentAtMs) return;
      const answer = { low: date - receivedAtMs, high: date + 1000 - sentAtMs };
      const interval =
        bounds.length === 0
          ? undefined
          : {
              low: Math.max(...bounds.map((b) => b.low)),
              high: Math.min(...bounds.map((b) => b.high)),
            };
      if (interval === undefined || overlap(interval, answer)) {
        bounds.push(answer);
        if (bounds.length > ANSWERS) bounds.shift();
        contrary = [];
      } else {
        const agreeing = contrary.filter((b) => overlap(b, answer));
        contrary.push(answer);
        if (contrary.length > ANSWERS) contrary.shift();
        if (agreeing.length === 0) return;
        bounds = [...agreeing, answer];
        contrary = [];
      }
      settle();
    },
  };
}

/** The `date` header of a raw answer, as the SDK hands it to a deserialize middleware or on its errors. */
function dateOf(response: unknown): string | undefined {
  const headers = (response as Partial<HttpResponse> | undefined)?.headers;
  const date = headers?.date ?? headers?.Date;
  return typeof date === 'string' ? date : undefined;
}

/** Whether a raw answer is the service's own: AWS names every answer it sends; a proxy's error page does not. */
function fromService(response: unknown): boolean {
  const headers = (response as Partial<HttpResponse> | undefined)?.headers;
  return (
    typeof headers?.['x-amzn-requestid'] === 'string' || typeof headers?.['x-amz-request-id'] === 'string'
  );
}

/**
 * The clocks each client's answers go to. A client resolves its middleware once per command when it
 * caches its stack (`cacheMiddleware`), so a middleware added after its first call would never run: one
 * middleware per client, added before its first call, hands every answer to the clocks registered now.
 */
const observers = new WeakMap<DynamoDBClient, Set<ServerClock>>();

/** Makes every answer of the service to `client` (a success or a service error) an observation of `clock`. */
export function observeServerClock(client: DynamoDBClient, clock: ServerClock): void {
  const known = observers.get(client);
  if (known !== undefined) {
    known.add(clock);
    return;
  }
  const clocks = new Set([clock]);
  observers.set(client, clocks);
  const observe = (response: unknown, sentAt: ReadonlyMap<ServerClock, number>) => {
    if (!fromService(response)) return;
    for (const c of clocks) c.observe(dateOf(response), sentAt.get(c) ?? c.local(), c.local());
  };
  const middleware: DeserializeMiddleware<ServiceInputTypes, ServiceOutputTypes> = (next) => async (args) => {
    const sentAt = new Map([...clocks].map((c) => [c, c.local()]));
    try {
      const out = await next(args);
      observe(out.response, sentAt);
      return out;
    } catch (err) {
      observe((err as { $response?: unknown } | null)?.$response, sentAt);
      throw err;
    }
  };
  client.middlewareStack.add(middleware, { step: 'deserialize', name: 'vshServerClock' });
}
