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

export function createServerClock(local: () => number = Date.now): ServerClock {
  let bounds: Array<{ low: number; high: number }> = [];
  let offset = 0;
  return {
    now: () => local() + offset,
    local,
    offsetMs: () => offset,
    sampled: () => bounds.length > 0,
    observe(dateHeader, sentAtMs, receivedAtMs) {
      const date = dateHeader === undefined ? Number.NaN : Date.parse(dateHeader);
      if (!Number.isFinite(date) || receivedAtMs < sentAtMs) return;
      const answer = { low: date - receivedAtMs, high: date + 1000 - sentAtMs };
      bounds.push(answer);
      if (bounds.length > ANSWERS) bounds.shift();
      let low = Math.max(...bounds.map((b) => b.low));
      let high = Math.min(...bounds.map((b) => b.high));
      if (low > high) {
        bounds = [answer];
        ({ low, high } = answer);
      }
      offset = low <= 0 && high >= 0 ? 0 : Math.round((low + high) / 2);
    },
  };
}

/** The `date` header of a raw answer, as the SDK hands it to a deserialize middleware or on its errors. */
function dateOf(response: unknown): string | undefined {
  const headers = (response as Partial<HttpResponse> | undefined)?.headers;
  const date = headers?.date ?? headers?.Date;
  return typeof date === 'string' ? date : undefined;
}

/** Makes every answer of `client` (a success or a service error) an observation of `clock`. */
export function observeServerClock(client: DynamoDBClient, clock: ServerClock): void {
  const { local } = clock;
  const middleware: DeserializeMiddleware<ServiceInputTypes, ServiceOutputTypes> = (next) => async (args) => {
    const sentAtMs = local();
    try {
      const out = await next(args);
      clock.observe(dateOf(out.response), sentAtMs, local());
      return out;
    } catch (err) {
      clock.observe(dateOf((err as { $response?: unknown } | null)?.$response), sentAtMs, local());
      throw err;
    }
  };
  client.middlewareStack.add(middleware, { step: 'deserialize', name: 'vshServerClock', override: true });
}
