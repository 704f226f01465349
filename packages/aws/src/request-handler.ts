import type { NodeHttpHandlerOptions } from '@smithy/node-http-handler';

/**
 * The options of an AWS SDK client's request handler under which a call that is not answered in
 * `requestTimeoutMs` fails (and the SDK retries it, a timeout being transient) instead of waiting on a
 * hung connection for ever (ADR 0125). In this SDK `requestTimeout` alone only logs a warning:
 * `throwOnRequestTimeout` is what makes it an error. `extra` adds to them (the shared agents).
 */
export function timedRequestHandler(
  requestTimeoutMs: number,
  extra: Omit<NodeHttpHandlerOptions, 'requestTimeout' | 'throwOnRequestTimeout'> = {},
): NodeHttpHandlerOptions {
  return {
    connectionTimeout: 3_000,
    ...extra,
    requestTimeout: requestTimeoutMs,
    throwOnRequestTimeout: true,
  };
}
