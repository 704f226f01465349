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
 * undici's handler, whose timeout errors say which limit was reached: undici's own messages ("Headers
 * Timeout Error") do not, and a run's error is what an operator reads (ADR 0125).
 */
class TimedHandler extends UndiciHttpHandler {
  constructor(
    options: UndiciHttpHandlerOptions,
    private readonly limits: { readonly requestMs: number; readonly connectionMs: number },
  ) {
    super(options);
  }

  override async handle(request: HttpRequest, options?: HttpHandlerOptions) {
    try {
      return await super.handle(request, options);
    } catch (err) {
      if (err instanceof Error && err.name === 'TimeoutError') {
        const connecting = (err as { code?: unknown }).code === 'UND_ERR_CONNECT_TIMEOUT';
        err.message = connecting
          ? `no connection to ${request.hostname} within ${this.limits.connectionMs} ms (${err.message})`
          : `no answer from ${request.hostname} within ${this.limits.requestMs} ms (${err.message})`;
      }
      throw err;
    }
  }
}

/**
 * A connection pool whose requests fail when not answered in `requestTimeoutMs`, for several clients to
 * share (`timedRequestHandler`'s `dispatcher`). Its owner closes it (`destroy()`): a client's destroy()
 * would close it under the others.
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
  );
}
