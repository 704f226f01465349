import { probeHttp, startLocalServer } from './ports.ts';

/** The account moto serves for credentials it did not issue itself (e.g. TEST_CREDENTIALS). */
export const MOTO_DEFAULT_ACCOUNT_ID = '123456789012';

export interface MotoServer {
  endpoint: string;
  port: number;
  /** Drops every resource in every account and region (POST /moto-api/reset). */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export interface MotoOptions {
  /** The executable; default `moto_server` from PATH. */
  command?: string;
  readyTimeoutMs?: number;
  /** Try this port first (e.g. the one used last time); another free one if it is taken. */
  port?: number;
  /** Aborting while it is starting stops it (start rejects with `aborted`); once ready, stop() does. */
  signal?: AbortSignal;
}

/** Starts moto_server (Python, on PATH: `moto_server -H 127.0.0.1 -p PORT`) on a loopback port (the preferred one if free), waits until ready, kills the whole process tree on stop(). */
export async function startMoto(options: MotoOptions = {}): Promise<MotoServer> {
  // moto logs one line per request to stderr; it is captured (for the error tail), never printed.
  const server = await startLocalServer({
    name: 'moto_server',
    command: options.command ?? 'moto_server',
    args: (port) => ['-H', '127.0.0.1', '-p', String(port)],
    readyTimeoutMs: options.readyTimeoutMs ?? 20_000,
    // /moto-api/config is cheap and proves the answer comes from moto, not whatever else holds the port.
    probe: (port) =>
      probeHttp(port, {
        path: '/moto-api/config',
        accept: (status, _headers, body) => status < 300 && body.includes('"batch"'),
      }),
    portTaken: (output) => /address already in use/i.test(output),
    ...(options.port === undefined ? {} : { preferredPort: options.port }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  const endpoint = `http://127.0.0.1:${server.port}`;
  return {
    endpoint,
    port: server.port,
    async reset() {
      const response = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`moto reset failed with HTTP ${response.status}`);
    },
    stop: server.stop,
  };
}
