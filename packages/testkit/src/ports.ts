import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, type Socket } from 'node:net';
import { delimiter, isAbsolute, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CodedError } from '@vsh/core';
import { onExit } from 'signal-exit';

/** Asks the kernel for a free TCP port on 127.0.0.1 (bind to port 0, read it, release it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port was assigned'))));
    });
  });
}

/** Whether a TCP port on 127.0.0.1 can be bound right now. */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

export type LocalServerErrorCode = 'spawn_failed' | 'exited_early' | 'not_ready' | 'aborted';

/** A local emulator (moto_server, DynamoDB Local) could not be started. */
export class LocalServerError extends CodedError<LocalServerErrorCode> {
  override name = 'LocalServerError';
}

export interface LocalServerSpec {
  /** Names the server in error messages. */
  name: string;
  command: string;
  args: (port: number) => string[];
  cwd?: string;
  /** One readiness probe: resolves true once the server answers as itself. */
  probe: (port: number) => Promise<boolean>;
  readyTimeoutMs: number;
  /** Recognises "port already taken" in the output, to retry on another port. */
  portTaken?: (output: string) => boolean;
  /** Try this port first (e.g. the one used last time); another free one if it is taken. */
  preferredPort?: number;
  /** Aborting while the server is starting stops it at once (start then rejects with `aborted`); once ready, stop() does. */
  signal?: AbortSignal;
}

export interface LocalServer {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

const OUTPUT_TAIL_BYTES = 4096;
const STOP_GRACE_MS = 3000;
const PORT_ATTEMPTS = 3;

const liveGroups = new Set<number>();
// util-linux's setpriv sets PR_SET_PDEATHSIG before it execs the server, so the kernel kills the server
// when this process dies, even by SIGKILL, when no exit hook can run. Without it the exit hook is all.
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((path) => existsSync(path));

// The PATH that spawn() itself searches, read here only to predict whether spawn would find the command.
function onPath(command: string): boolean {
  const candidates = isAbsolute(command)
    ? [command]
    : (process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, command));
  return candidates.some((path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
let exitHookInstalled = false;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone: nothing to kill.
  }
}

// A test run that ends without calling stop() (a failed beforeAll, Ctrl-C, process.exit) must not
// leave emulators behind; signal-exit covers 'exit' and the fatal signals and re-raises them.
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  onExit(() => {
    for (const pid of liveGroups) killGroup(pid, 'SIGKILL');
  });
}

class OutputTail {
  private text = '';
  push(chunk: Buffer): void {
    this.text = (this.text + chunk.toString('utf8')).slice(-OUTPUT_TAIL_BYTES);
  }
  toString(): string {
    return this.text.trim();
  }
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function launchOnce(spec: LocalServerSpec, port: number): Promise<LocalServer> {
  installExitHook();
  const tail = new OutputTail();
  // detached: the server leads its own process group, so stop() can kill whatever it forks.
  const [command, args] =
    // A missing command is spawned directly, so it fails as spawn_failed rather than as setpriv's exit 127.
    SETPRIV === undefined || !onPath(spec.command)
      ? [spec.command, spec.args(port)]
      : [SETPRIV, ['--pdeathsig', 'KILL', '--', spec.command, ...spec.args(port)]];
  const child = spawn(command, args, {
    cwd: spec.cwd,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => tail.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => tail.push(chunk));
  // A forgotten stop() must not keep the test process alive; the exit hook then kills the group.
  child.unref();
  (child.stdout as Socket | null)?.unref();
  (child.stderr as Socket | null)?.unref();
  let spawnError: Error | undefined;
  child.once('error', (error) => {
    spawnError = error;
  });
  const pid = child.pid;
  if (pid === undefined) {
    await sleep(0);
    throw new LocalServerError(
      'spawn_failed',
      `${spec.name}: could not start \`${spec.command}\` (${spawnError?.message ?? 'no pid'}); is it on PATH?`,
      { cause: spawnError },
    );
  }
  liveGroups.add(pid);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      killGroup(pid, 'SIGTERM');
      if (!(await waitForExit(child, STOP_GRACE_MS))) {
        killGroup(pid, 'SIGKILL');
        await waitForExit(child, STOP_GRACE_MS);
      }
      // The leader may be gone while a forked helper lingers in the group.
      killGroup(pid, 'SIGKILL');
      liveGroups.delete(pid);
    })();
    return stopping;
  };

  const onAbort = () => void stop();
  spec.signal?.addEventListener('abort', onAbort, { once: true });
  const deadline = Date.now() + spec.readyTimeoutMs;
  while (Date.now() < deadline) {
    if (spec.signal?.aborted === true) {
      await stop();
      throw new LocalServerError('aborted', `${spec.name}: start was cancelled`);
    }
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      const how = child.exitCode !== null ? `exit code ${child.exitCode}` : `signal ${child.signalCode}`;
      throw new LocalServerError(
        'exited_early',
        `${spec.name} exited before it was ready (${how}). Output tail:\n${tail.toString()}`,
      );
    }
    if (await spec.probe(port)) {
      // Once ready the owner stops it in its own order (e.g. after the clients that still use it).
      spec.signal?.removeEventListener('abort', onAbort);
      return { port, pid, stop };
    }
    await sleep(100);
  }
  await stop();
  throw new LocalServerError(
    'not_ready',
    `${spec.name} did not become ready on 127.0.0.1:${port} within ${spec.readyTimeoutMs} ms. Output tail:\n${tail.toString()}`,
  );
}

/**
 * Starts a server process on a loopback port (the preferred one when it is free, else a free one), polls it
 * until ready, and returns its stopper. Aborting `spec.signal` while it is starting stops it.
 */
export async function startLocalServer(spec: LocalServerSpec): Promise<LocalServer> {
  for (let attempt = 1; ; attempt++) {
    if (spec.signal?.aborted === true)
      throw new LocalServerError('aborted', `${spec.name}: start was cancelled`);
    const preferred = attempt === 1 && spec.preferredPort !== undefined && spec.preferredPort > 0;
    const port =
      preferred && spec.preferredPort !== undefined && (await isPortFree(spec.preferredPort))
        ? spec.preferredPort
        : await freePort();
    try {
      return await launchOnce(spec, port);
    } catch (error) {
      // Between freePort() and the server's bind another process may take the port: try another.
      const retry =
        error instanceof LocalServerError &&
        error.code === 'exited_early' &&
        spec.portTaken?.(error.message) === true &&
        attempt < PORT_ATTEMPTS;
      if (!retry) throw error;
    }
  }
}

export interface HttpProbe {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Accepts the answer as coming from the expected server. */
  accept: (status: number, headers: Record<string, string | string[] | undefined>, body: string) => boolean;
}

/** One HTTP request to 127.0.0.1:port; resolves false on any connection error or timeout. */
export function probeHttp(port: number, probe: HttpProbe, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: probe.method ?? 'GET',
        path: probe.path,
        headers: probe.headers,
        timeout: timeoutMs,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve(probe.accept(res.statusCode ?? 0, res.headers, Buffer.concat(chunks).toString('utf8'))),
        );
        res.on('error', () => resolve(false));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end(probe.body);
  });
}
