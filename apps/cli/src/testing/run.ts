import { PassThrough, Writable } from 'node:stream';
import type { CommandIo } from '../io.ts';
import { runCli } from '../main.ts';

/** A writable stream that keeps what it is given, as text. */
export function textSink(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  return { stream, text: () => text };
}

/** An in-process API (a Hono app's `request`): the CLI's HTTP goes to it, with no port. */
export interface InProcessApi {
  request(input: Request | string | URL, init?: RequestInit): Response | Promise<Response>;
}

export interface ConnectorRun {
  code: number;
  stdout: string;
  stderr: string;
  /** `METHOD url` of every request the command sent, in order. */
  requests: string[];
}

/**
 * Runs `connector <argv>` as the binary does, its HTTP routed into `api` (the operator key `key` in
 * VSH_OPERATOR_KEY, a base URL no server listens on).
 */
export async function runConnector(api: InProcessApi, argv: string[], key: string): Promise<ConnectorRun> {
  const out = textSink();
  const err = textSink();
  const requests: string[] = [];
  const io: CommandIo = {
    stdin: new PassThrough(),
    stdout: out.stream,
    stderr: err.stream,
    now: () => new Date(),
    env: { VSH_API_URL: 'http://127.0.0.1:9', VSH_OPERATOR_KEY: key },
    fetch: async (input, init) => {
      const request = new Request(input, init);
      requests.push(`${request.method} ${request.url}`);
      return api.request(request);
    },
  };
  const code = await runCli(argv, io);
  return { code, stdout: out.text(), stderr: err.text(), requests };
}
