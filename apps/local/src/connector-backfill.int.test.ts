import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from './index.ts';

const root = resolve(import.meta.dirname, '../../..');

function connector(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn('pnpm', ['-s', 'connector', ...args], {
      cwd: root,
      env: { ...process.env, VSH_API_URL: '', VSH_OPERATOR_KEY: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += String(chunk)));
    child.stderr.on('data', (chunk) => (stderr += String(chunk)));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

describe('pnpm -s connector backfill against a local stack', () => {
  let stack: LocalStack;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'vsh-backfill-'));
    stack = await startLocalStack({
      dataDir,
      apiPort: 0,
      logger: pino({ level: 'silent' }),
      say: () => undefined,
    });
  }, 180_000);
  afterAll(async () => {
    await stack?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('finds the stack through its state file, prints progress lines and exits 0, twice', {
    timeout: 180_000,
  }, async () => {
    const now = Date.now();
    const range = [
      '--from',
      new Date(now - 3 * 3_600_000).toISOString(),
      '--to',
      new Date(now - 60_000).toISOString(),
    ];
    const args = [
      'backfill',
      '--tenant',
      stack.demo.tenantId,
      ...range,
      '--data-dir',
      dataDir,
      '--poll-ms',
      '200',
    ];

    const first = await connector(args);
    const second = await connector(args);

    for (const run of [first, second]) {
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z backfill bkf_\w+ (queued|running|done) \d+%/m);
      expect(run.stdout).toMatch(/done in [\d.]+ s: [\d,]+ actions in range, [\d,]+ findings sent/);
      expect(run.stdout).not.toContain(stack.operatorKey);
    }
  });
});
