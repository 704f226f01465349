import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const TAIL_LINES = 200;
/** USER_HZ: Linux reports process times in 1/100 s on every architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

interface WorkerExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A worker process (`apps/worker/src/main.ts`) started by a test or benchmark. */
export interface WorkerProcess {
  readonly name: string;
  readonly pid: number;
  /** Resolves once the worker logged "worker started"; rejects if it exits first. */
  readonly ready: Promise<void>;
  readonly exited: Promise<WorkerExit>;
  /** True until the process has exited. */
  readonly alive: boolean;
  kill(signal: NodeJS.Signals): void;
  /** Highest resident set size so far (VmHWM, KiB), read from /proc while it runs; null once gone. */
  peakRssKb(): number | null;
  /** CPU time used so far (user + system, seconds), read from /proc while it runs; null once gone. */
  cpuSeconds(): number | null;
  /** The same CPU time split into user and system (kernel) seconds; null once gone. */
  cpuTimes(): { readonly user: number; readonly system: number } | null;
  /** CPU seconds (user + system) by thread name (/proc/<pid>/task/<tid>/comm), or null when it is gone. */
  threadCpu(): Map<string, number> | null;
  /** The last lines of its output, for failure messages. */
  tail(): string;
}

const started = new Set<WorkerProcess>();

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
 * Reads a child's output line by line into `lines` (only the last `TAIL_LINES` kept, for failure
 * messages) and hands each line to `onLine`.
 */
export function readLines(
  stream: NodeJS.ReadableStream | null,
  lines: string[],
  onLine: (line: string) => void = () => undefined,
): void {
  let partial = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      if (lines.length > TAIL_LINES) lines.splice(0, lines.length - TAIL_LINES);
      onLine(line);
    }
  });
}

/**
 * Starts a worker process. It is `node --import tsx main.ts` rather than the `tsx` CLI: the CLI runs the
 * script in a child process of its own, so a SIGKILL sent to the CLI would leave the worker running.
 */
export function spawnWorker(
  name: string,
  env: Record<string, string>,
  options: { readonly entry?: string } = {},
): WorkerProcess {
  // `entry`: a bundled main (as deployed: see apps/worker/bench/bundle.ts) instead of the sources under tsx.
  const args = options.entry === undefined ? ['--import', 'tsx', MAIN] : [options.entry];
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start worker ${name}`);
  const lines: string[] = [];
  let alive = true;
  let markReady: () => void = () => undefined;
  let failReady: (err: Error) => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failReady = reject;
  });
  // Only the start line is parsed: a busy worker writes thousands of lines the caller pays for.
  readLines(child.stdout, lines, (line) => {
    if (!line.includes('"worker started"')) return;
    try {
      if ((JSON.parse(line) as { msg?: unknown }).msg === 'worker started') markReady();
    } catch {
      // not a log line
    }
  });
  readLines(child.stderr, lines);
  const exited = new Promise<WorkerExit>((resolve) => {
    child.once('exit', (code, signal) => {
      alive = false;
      failReady(
        new Error(`worker ${name} exited (${code ?? signal}) before it started:\n${lines.join('\n')}`),
      );
      resolve({ code, signal });
    });
  });
  // A test may kill a worker before it is ready; that is not an unhandled rejection.
  ready.catch(() => undefined);
  const worker: WorkerProcess = {
    name,
    pid,
    ready,
    exited,
    get alive() {
      return alive;
    },
    kill(signal) {
      if (alive) child.kill(signal);
    },
    peakRssKb: () => (alive ? vmHwmKb(pid) : null),
    cpuSeconds() {
      const times = this.cpuTimes();
      return times === null ? null : times.user + times.system;
    },
    cpuTimes() {
      if (!alive) return null;
      try {
        // Fields after the parenthesised command name; utime and stime are the 14th and 15th of the line.
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return {
          user: Number(fields[11]) / CLOCK_TICKS_PER_SECOND,
          system: Number(fields[12]) / CLOCK_TICKS_PER_SECOND,
        };
      } catch {
        return null;
      }
    },
    threadCpu() {
      if (!alive) return null;
      const byName = new Map<string, number>();
      try {
        for (const tid of readdirSync(`/proc/${pid}/task`)) {
          try {
            const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
            const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
            const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
            const seconds = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
            byName.set(name, (byName.get(name) ?? 0) + seconds);
          } catch {
            // the thread ended
          }
        }
      } catch {
        return null;
      }
      return byName;
    },
    tail: () => lines.join('\n'),
  };
  started.add(worker);
  void exited.then(() => started.delete(worker));
  return worker;
}

/** SIGKILLs every worker process this module started that is still running, and waits for them. */
export async function killAllWorkers(): Promise<void> {
  const running = [...started];
  for (const w of running) w.kill('SIGKILL');
  await Promise.all(running.map((w) => w.exited));
}
