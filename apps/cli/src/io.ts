import type { Readable, Writable } from 'node:stream';

/** The process streams a command uses; tests pass their own. */
export interface CommandIo {
  readonly stdin: Readable;
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly now: () => Date;
  /** The environment the operator commands read (`VSH_API_URL`, `VSH_OPERATOR_KEY`); default none. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** HTTP for the operator commands; default the global fetch. */
  readonly fetch?: typeof fetch;
  /** Waits between progress polls; tests pass one that does not wait. */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Whether a stream is a terminal (progress is then redrawn in place). */
export function isTerminal(stream: Writable): boolean {
  return (stream as { isTTY?: boolean }).isTTY === true;
}

export { UsageError } from './dispatch.ts';

/** Reads a whole stream as UTF-8. */
export async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** Writes a line, waiting for the stream to drain when its buffer is full (large outputs, slow pipes). */
export async function writeLine(stream: Writable, line: string): Promise<void> {
  if (!stream.write(`${line}\n`)) {
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        stream.off('drain', done);
        stream.off('error', done);
        if (err) reject(err);
        else resolve();
      };
      stream.once('drain', done);
      stream.once('error', done);
    });
  }
}
