import type { HttpRequest } from '@smithy/protocol-http';
import type { HttpHandlerOptions } from '@smithy/types';
import { UndiciHttpHandler, type UndiciHttpHandlerOptions } from '@smithy/undici-http-handler';
import { Agent, type Dispatcher } from 'undici';

/** Connections per host of a pool made for one client (the SDK's node handler's default). */
const DEFAULT_CONNECTIONS = 50;
/**
 * How long an idle connection is kept for the next call: an AWS endpoint sends no keep-alive hint, and
 * undici's default (4 s) would open a new TLS connection for every run of a quiet worker. 60 s is the
 * AWS SDK for Java's default connection max idle time. A call that meets a connection the service has
 * just closed fails as `RequestTimeout`, which the SDK retries.
 */
const KEEP_ALIVE_MS = 60_000;

export interface TimedPoolOptions {
  /** Time to open a connection (TCP and TLS); default 3 s. */
  readonly connectionTimeoutMs?: number | undefined;
  /** Connections per host; default 50. */
  readonly connections?: number | undefined;
}

const DEFAULT_CONNECTION_TIMEOUT_MS = 3_000;

const agentOptions = (requestTimeoutMs: number, options: TimedPoolOptions): Agent.Options => ({
  connect: { timeout: options.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS },
  // A response whose headers, or whose next body chunk, do not come within the timeout fails: the
  // handler names the error TimeoutError, which the SDK retries as transient.
  headersTimeout: requestTimeoutMs,
  bodyTimeout: requestTimeoutMs,
  keepAliveTimeout: KEEP_ALIVE_MS,
  keepAliveMaxTimeout: KEEP_ALIVE_MS,
  connections: options.connections ?? DEFAULT_CONNECTIONS,
});

/**
 * undici's handler, with three changes (ADR 0129):
 * - its timeout errors say which limit was reached and where: undici's own messages ("Headers Timeout
 *   Error") do not, and a run's error is what an operator reads;
 * - an answer's body that stalls or whose connection closes while it is read fails as a transient error
 *   (`TimeoutError`, `RequestTimeout`) that the SDK retries, as the node handler's did: undici raises
 *   those after the headers, where the Smithy handler does not name them;
 * - on a shared pool, `destroy()` leaves the pool to its owner: the Smithy handler would close it under
 *   every other client (and fall back to undici's global pool, without these timeouts).
 */
class TimedHandler extends UndiciHttpHandler {
  constructor(
    options: UndiciHttpHandlerOptions,
    private readonly limits: { readonly requestMs: number; readonly connectionMs: number },
    private readonly sharedPool: boolean,
  ) {
    super(options);
  }

  override destroy(): void {
    if (!this.sharedPool) super.destroy();
  }

  override async handle(request: HttpRequest, options?: HttpHandlerOptions) {
    let output: Awaited<ReturnType<UndiciHttpHandler['handle']>>;
    try {
      output = await super.handle(request, options);
    } catch (err) {
      throw this.named(err, request.hostname);
    }
    const body = output.response.body as {
      on?: (event: 'error', listener: (err: unknown) => void) => unknown;
    };
    // Renames the error before the SDK's reader sees it: listeners run in the order they were added.
    body?.on?.('error', (err) => void this.named(err, request.hostname));
    return output;
  }

  /** `err`, named so that the SDK retries it when it is a timeout or a connection cut, and saying where. */
  private named(err: unknown, hostname: string): unknown {
    if (!(err instanceof Error)) return err;
    const code = (err as { code?: unknown }).code;
    if (err.name === 'TimeoutError' || code === 'UND_ERR_BODY_TIMEOUT') {
      err.name = 'TimeoutError';
      err.message =
        code === 'UND_ERR_CONNECT_TIMEOUT'
          ? `no connection to ${hostname} within ${this.limits.connectionMs} ms (${err.message})`
          : `no answer from ${hostname} within ${this.limits.requestMs} ms (${err.message})`;
    } else if (code === 'UND_ERR_SOCKET') {
      err.name = 'RequestTimeout';
      err.message = `the connection to ${hostname} closed during the answer (${err.message})`;
    }
    return err;
  }
}

/**
 * A connection pool whose requests fail when not answered in `requestTimeoutMs`, for several clients to
 * share (`timedRequestHandler`'s `dispatcher`). Its owner closes it (`destroy()`); a client's destroy()
 * leaves it open.
 */
export function timedPool(requestTimeoutMs: number, options: TimedPoolOptions = {}): Agent {
  return new Agent(agentOptions(requestTimeoutMs, options));
}

/**
 * The request handler of an AWS SDK client (ADR 0129): undici's, under which a call not answered in
 * `requestTimeoutMs` fails (and the SDK retries it, a timeout being transient) instead of waiting on a
 * hung connection for ever (ADR 0125). A new handler for each client, with a pool of its own made at its
 * first call and closed with the client; or on `dispatcher`, a pool shared with other clients
 * (`timedPool`), whose timeouts are the pool's.
 */
export function timedRequestHandler(
  requestTimeoutMs: number,
  options: TimedPoolOptions & { readonly dispatcher?: Dispatcher | undefined } = {},
): UndiciHttpHandler {
  // Agent options, not an Agent: the handler makes its pool at the first call, and again after destroy().
  return new TimedHandler(
    { dispatcher: options.dispatcher ?? agentOptions(requestTimeoutMs, options) },
    {
      requestMs: requestTimeoutMs,
      connectionMs: options.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS,
    },
    options.dispatcher !== undefined,
  );
}
