import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { readLines, vmHwmKb } from '../test/processes.ts';

const API_MAIN = fileURLToPath(new URL('../../api/src/main.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** An API process (`apps/api/src/main.ts`) started by a benchmark. */
export interface ApiProcess {
  readonly pid: number;
  /** Resolves with `http://127.0.0.1:PORT` once the API logged "api listening"; rejects if it exits first. */
  readonly url: Promise<string>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly alive: boolean;
  kill(signal: NodeJS.Signals): void;
  /** Highest resident set size so far (VmHWM, KiB), read from /proc while it runs; null once gone. */
  peakRssKb(): number | null;
  tail(): string;
}

const started = new Set<ApiProcess>();

/**
 * Starts the API as its own process, `node --import tsx apps/api/src/main.ts` (not the tsx CLI, whose
 * child would outlive a SIGKILL), configured only by `env` as in production.
 */
export function spawnApi(env: Record<string, string>, options: { readonly entry?: string } = {}): ApiProcess {
  // `entry`: a bundled main (as deployed: see bundle.ts) instead of the sources under tsx.
  const args = options.entry === undefined ? ['--import', 'tsx', API_MAIN] : [options.entry];
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start the API');
  const lines: string[] = [];
  let alive = true;
  let listening: (url: string) => void = () => undefined;
  let failed: (err: Error) => void = () => undefined;
  const url = new Promise<string>((resolve, reject) => {
    listening = resolve;
    failed = reject;
  });
  url.catch(() => undefined);
  const onLine = (line: string) => {
    if (!line.includes('"api listening"')) return;
    try {
      const entry = JSON.parse(line) as { msg?: unknown; url?: unknown };
      if (entry.msg === 'api listening' && typeof entry.url === 'string') listening(entry.url);
    } catch {
      // not a log line
    }
  };
  readLines(child.stdout, lines, onLine);
  readLines(child.stderr, lines, onLine);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      alive = false;
      failed(new Error(`the API exited (${code ?? signal}) before it listened:\n${lines.join('\n')}`));
      resolve({ code, signal });
    });
  });
  const api: ApiProcess = {
    pid,
    url,
    exited,
    get alive() {
      return alive;
    },
    kill(signal) {
      if (alive) child.kill(signal);
    },
    peakRssKb: () => (alive ? vmHwmKb(pid) : null),
    tail: () => lines.join('\n'),
  };
  started.add(api);
  void exited.then(() => started.delete(api));
  return api;
}

/** SIGKILLs every API process this module started that is still running, and waits for them. */
export async function killAllApis(): Promise<void> {
  const running = [...started];
  for (const api of running) api.kill('SIGKILL');
  await Promise.all(running.map((api) => api.exited));
}
