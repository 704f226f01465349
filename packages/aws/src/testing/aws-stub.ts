import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

/** A loopback STS + Security Hub in a process of its own (aws-stub-server.ts), answering at once. */
export interface AwsStub {
  readonly endpoint: string;
  readonly child: ChildProcess;
  /** The requests it answered, per service. */
  counts(): Promise<{ sts: number; securityHub: number }>;
  stop(): void;
}

/** Starts the stub: its CPU is its own process's, not the caller's (the benchmarks count the caller's). */
export async function startAwsStub(): Promise<AwsStub> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL('./aws-stub-server.ts', import.meta.url))],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const [chunk] = (await once(child.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
  const endpoint = chunk.toString('utf8').trim();
  return {
    endpoint,
    child,
    counts: async () =>
      (await (await fetch(`${endpoint}/counts`)).json()) as { sts: number; securityHub: number },
    stop: () => child.kill(),
  };
}
