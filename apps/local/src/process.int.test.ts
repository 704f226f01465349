import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { readLocalState } from './state.ts';

// `pnpm start` as a person runs it: a separate process (node directly, or through `pnpm start`),
// signals at random moments of start-up, and every process it started checked by PID afterwards.

const ROOT = resolve(import.meta.dirname, '../../..');
const MAIN = resolve(ROOT, 'apps/local/src/main.ts');
// Start-up is slow on a loaded 2-core machine; these bound a hang, they are not expectations.
const READY_MS = 150_000;
const EXIT_MS = 90_000;

const temp: string[] = [];
afterAll(() => {
  for (const dir of temp) rmSync(dir, { recursive: true, force: true });
});
function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vsh-start-'));
  temp.push(dir);
  return dir;
}

/** pid → start time (field 22 of /proc/<pid>/stat), which tells a live process from a reused pid. */
function procStat(pid: number): { ppid: number; state: string; startTime: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '', ppid: Number(fields[1]), startTime: fields[19] ?? '' };
  } catch {
    return undefined;
  }
}

function descendantsOf(root: number): Map<number, string> {
  const children = new Map<number, number[]>();
  const starts = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (stat === undefined) continue;
    starts.set(Number(entry), stat.startTime);
    children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), Number(entry)]);
  }
  const found = new Map<number, string>();
  const queue = [...(children.get(root) ?? [])];
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    found.set(pid, starts.get(pid) ?? '');
    queue.push(...(children.get(pid) ?? []));
  }
  return found;
}

function alive(pid: number, startTime: string): boolean {
  const stat = procStat(pid);
  // A zombie has exited; only its parent (or init) has not collected it yet.
  return stat !== undefined && stat.startTime === startTime && stat.state !== 'Z';
}

interface Launched {
  child: ChildProcess;
  pid: number;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Every process seen below the launched one so far (moto_server, java, esbuild, node), with start times. */
  seen: Map<number, string>;
  waitFor: (text: string | RegExp, ms: number) => Promise<void>;
}

function launch(dir: string, via: 'node' | 'pnpm', extra: string[] = []): Launched {
  const args = ['--port', '0', '--data-dir', dir, ...extra];
  const child =
    via === 'node'
      ? spawn(process.execPath, ['--import', 'tsx', MAIN, 'start', ...args], {
          cwd: ROOT,
          stdio: ['ignore', 'pipe', 'pipe'],
        })
      : spawn('pnpm', ['start', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not spawn ${via}`);
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => done({ code, signal })),
  );
  const seen = new Map<number, string>();
  // /proc has no event for a new grandchild: the process tree is sampled until the launched process exits.
  const sample = setInterval(() => {
    for (const [p, start] of descendantsOf(pid)) seen.set(p, start);
  }, 50);
  let running = true;
  void exited.then(() => {
    running = false;
    clearInterval(sample);
  });
  const waitFor = (wanted: string | RegExp, ms: number) =>
    new Promise<void>((done, fail) => {
      const has = () => (typeof wanted === 'string' ? text.includes(wanted) : wanted.test(text));
      const finish = (error?: Error) => {
        clearTimeout(timer);
        child.stdout?.off('data', check);
        child.stderr?.off('data', check);
        child.off('exit', onExit);
        if (error === undefined) done();
        else fail(error);
      };
      const check = () => {
        if (has()) finish();
      };
      const onExit = () => finish(new Error(`exited before printing ${wanted}:\n${text}`));
      const timer = setTimeout(() => finish(new Error(`no ${wanted} within ${ms} ms:\n${text}`)), ms);
      child.stdout?.on('data', check);
      child.stderr?.on('data', check);
      child.once('exit', onExit);
      check();
      if (!running && !has()) onExit();
    });
  return { child, pid, output: () => text, exited, seen, waitFor };
}

async function exitOf(run: Launched): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const timer = setTimeout(() => run.child.kill('SIGKILL'), EXIT_MS);
  try {
    return await run.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** The processes of the set still alive, with their command lines. */
function leftovers(processes: Map<number, string>): string[] {
  return [...processes].filter(([pid, start]) => alive(pid, start)).map(([pid]) => `${pid} ${readCmd(pid)}`);
}

/** Waits until no process of the set is alive (an exited child is reaped a moment after its parent). */
async function expectNoneLeft(
  processes: Map<number, string>,
  message: string,
  timeout = 10_000,
): Promise<void> {
  await expect.poll(() => leftovers(processes), { message, timeout, interval: 100 }).toEqual([]);
}

async function runs(apiUrl: string, key: string, tenantId: string): Promise<Array<{ status: string }>> {
  const res = await fetch(`${apiUrl}/v1/tenants/${tenantId}/runs?limit=100`, {
    headers: { authorization: `Bearer ${key}` },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: Array<{ status: string }> }).items;
}

describe('pnpm start as a process', () => {
  it('refuses a second start on the same data folder, leaves the first unharmed, and restarts without a failed run', async () => {
    const dir = dataDir();
    const first = launch(dir, 'node');
    await first.waitFor('running locally', READY_MS);
    const state = readLocalState(dir);
    if (state?.apiUrl === undefined || state.demo === undefined) throw new Error('no local state written');

    const second = launch(dir, 'node');
    const refused = await exitOf(second);

    expect(refused.code).toBe(1);
    expect(second.output()).toContain(
      `the data folder ${dir} is in use by another local stack (pid ${first.pid})`,
    );
    expect(second.output()).toContain('--data-dir');
    expect(second.output()).not.toMatch(/unexpected error|\n\s+at /);
    const health = await fetch(`${state.apiUrl}/v1/tenants/${state.demo.tenantId}/status`, {
      headers: { authorization: `Bearer ${state.demo.tenantApiKey}` },
    });
    expect(health.status).toBe(200);
    // The data folder is private: the folder and its folders 0700, its files 0600.
    const modes: string[] = [];
    const walk = (d: string) => {
      for (const name of readdirSync(d)) {
        const path = join(d, name);
        const stat = statSync(path);
        const mode = stat.mode & 0o777;
        if (stat.isDirectory()) {
          if (mode !== 0o700) modes.push(`${path} ${mode.toString(8)}`);
          walk(path);
        } else if (mode !== 0o600) modes.push(`${path} ${mode.toString(8)}`);
      }
    };
    walk(dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(modes).toEqual([]);

    first.child.kill('SIGTERM');
    expect((await exitOf(first)).code).toBe(0);
    await expectNoneLeft(first.seen, first.output());

    const again = launch(dir, 'node');
    await again.waitFor('running locally', READY_MS);
    const restarted = readLocalState(dir);
    // The simulator keeps its port, so a tenant made by hand keeps a working Vaikora base URL.
    expect(restarted?.ports?.vaikora).toBe(state.ports?.vaikora);
    // The banner is written a line at a time: "running locally" can arrive in a chunk before this one.
    await again.waitFor(
      `Vaikora (sim)    http://127.0.0.1:${state.ports?.vaikora}/api/v1  key ${state.vaikoraKey}`,
      EXIT_MS,
    );
    // The demo run that start-up asks for finishes; none of the runs of either start failed.
    const demo = state.demo;
    const all = await vi.waitFor(
      async () => {
        const items = await runs(restarted?.apiUrl ?? '', demo.tenantApiKey, demo.tenantId);
        expect(items.length).toBeGreaterThanOrEqual(2);
        expect(items.filter((r) => r.status === 'running')).toEqual([]);
        return items;
      },
      { timeout: READY_MS, interval: 500 },
    );
    expect(all.filter((r) => r.status === 'failed')).toEqual([]);
    again.child.kill('SIGINT');
    expect((await exitOf(again)).code).toBe(0);
    await expectNoneLeft(again.seen, again.output());
  }, 480_000);

  // Random moments of start-up (0-8 s), both signals, to the node process and to the `pnpm start` wrapper.
  const trials: Array<{ via: 'node' | 'pnpm'; signal: NodeJS.Signals }> = [
    { via: 'node', signal: 'SIGTERM' },
    { via: 'node', signal: 'SIGINT' },
    { via: 'node', signal: 'SIGTERM' },
    { via: 'node', signal: 'SIGINT' },
    { via: 'node', signal: 'SIGTERM' },
    { via: 'pnpm', signal: 'SIGTERM' },
    { via: 'pnpm', signal: 'SIGINT' },
  ];
  for (const [i, trial] of trials.entries()) {
    it(`leaves no process behind after ${trial.signal} to ${trial.via === 'pnpm' ? 'pnpm start' : 'node'} during start-up (trial ${i + 1})`, async () => {
      const delayMs = Math.floor(Math.random() * 8000);
      const run = launch(dataDir(), trial.via);

      // fault-injection delay: the signal lands at a random moment of start-up, which is what is tested.
      await sleep(delayMs);
      run.child.kill(trial.signal);
      const exit = await exitOf(run);

      // A signal that comes while node still loads modules (before anything is started) ends it by the
      // default action; after that it stops cleanly with 0. pnpm reports its own failure when signalled.
      if (trial.via === 'node')
        expect(
          exit.code === 0 || exit.signal === trial.signal,
          `${JSON.stringify(exit)}\n${run.output()}\n(signal after ${delayMs} ms)`,
        ).toBe(true);
      await expectNoneLeft(run.seen, `signal after ${delayMs} ms:\n${run.output()}`, 20_000);
    }, 120_000);
  }

  it('leaves no emulator behind when the owning process is killed with SIGKILL', async () => {
    const run = launch(dataDir(), 'node');
    // Wait until both emulators run, so the kernel (not our exit code) has something to kill.
    await vi.waitFor(
      () =>
        expect(
          [...run.seen.keys()].filter((p) => /moto_server|java/.test(readCmd(p))).length,
          run.output(),
        ).toBeGreaterThanOrEqual(2),
      { timeout: 60_000, interval: 100 },
    );

    run.child.kill('SIGKILL');
    await exitOf(run);

    await expectNoneLeft(run.seen, run.output(), 20_000);
  }, 120_000);
});

function readCmd(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}
