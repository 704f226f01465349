import type { Writable } from 'node:stream';

/** The process streams a command of the local stack uses; tests pass their own. */
export interface LocalIo {
  readonly stdout: Writable;
  readonly stderr: Writable;
  /** HTTP to the local API; default the global fetch. */
  readonly fetch?: typeof fetch;
}

/** Whether a stream is a terminal (logs are then pretty-printed). */
export function isTerminal(stream: Writable): boolean {
  return (stream as { isTTY?: boolean }).isTTY === true;
}
