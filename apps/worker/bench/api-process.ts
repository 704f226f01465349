import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const API_MAIN = fileURLToPath(new URL('../../api/src/main.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const TAIL_LINES = 200;

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

/** VmHWM of a running process in KiB, or null when it is gone. */
export function vmHwmKb(pid: number): number | null {
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match?.[1] === undefined ? null : Number(match[1]);
  } catch {
    return null;
  }
}

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
  const onLines = (stream: NodeJS.ReadableStream | null) => {
    let partial = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        if (lines.length > TAIL_LINES) lines.splice(0, lines.length - TAIL_LINES);
        if (!line.includes('"api listening"')) continue;
        try {
          const entry = JSON.parse(line) as { msg?: unknown; url?: unknown };
          if (entry.msg === 'api listening' && typeof entry.url === 'string') listening(entry.url);
        } catch {
          // not a log line
        }
      }
    });
  };
  onLines(child.stdout);
  onLines(child.stderr);
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
