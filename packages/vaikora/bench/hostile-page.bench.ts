/**
 * Peak memory and time of a Vaikora client reading one hostile page: a local HTTP server streams
 * `{"actions":[{},{},...]}` of just under 64 MiB (about 22 million records), and a child process runs
 * `sweep` or `verify` against it. The child is measured from outside (peak RSS: VmHWM of
 * /proc/<pid>/status), so a client that crashes is measured too. Prints figures; asserts nothing.
 * Shape `fat` serves instead the costliest page the bounds let through whole: 1000 records of about
 * 16 KB, just under the 16 MiB maxResponseBytes, every one a valid action.
 *
 * Usage: pnpm -F @vsh/vaikora bench:hostile [sweep|verify|both] [maxOldSpaceMb|default] [tiny|fat]
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createVaikoraClient } from '../src/index.ts';

const PAGE_BYTES = 64 * 1024 * 1024 - 1024;
const CHUNK_BYTES = 64 * 1024;
const HEAD = '{"actions":[';
const TAIL = '{}],"total":1,"page":1,"per_page":100}';

const FAT_RECORDS = 1000;
const FAT_PAD = 16_600;

/** One valid action of about FAT_PAD bytes. */
const fatRecord = (i: number) =>
  Buffer.from(
    `${i === 0 ? '' : ','}{"id":"fat-${i}","timestamp":"2026-07-01T00:00:00Z","risk_level":"high",` +
      `"description":"${'x'.repeat(FAT_PAD)}"}`,
  );

/** Streams the hostile page lazily (never held whole), honouring backpressure; counts bytes sent. */
function startServer(shape: 'tiny' | 'fat') {
  const sent = { bytes: 0 };
  const filler = Buffer.from('{},'.repeat(CHUNK_BYTES / 3));
  const server = createServer(async (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const write = (chunk: Buffer) =>
      new Promise<void>((resolve) => {
        sent.bytes += chunk.byteLength;
        if (res.write(chunk)) resolve();
        else res.once('drain', resolve);
      });
    let closed = false;
    req.socket.on('close', () => {
      closed = true;
    });
    if (shape === 'fat') {
      await write(Buffer.from(HEAD));
      for (let i = 0; i < FAT_RECORDS && !closed; i++) await write(fatRecord(i));
      if (!closed) res.end(']}');
      return;
    }
    let left = PAGE_BYTES - HEAD.length - TAIL.length;
    await write(Buffer.from(HEAD));
    while (left > 0 && !closed) {
      const chunk = left >= filler.byteLength ? filler : filler.subarray(0, left - (left % 3));
      if (chunk.byteLength === 0) break;
      left -= chunk.byteLength;
      await write(chunk);
    }
    if (!closed) res.end(TAIL);
  });
  return new Promise<{ url: string; sent: typeof sent; close: () => void }>((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}/api/v1`,
        sent,
        close: () => {
          server.closeAllConnections();
          server.close();
        },
      });
    });
  });
}

function vmHwmKb(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmHWM:\s+(\d+) kB/.exec(status);
    return match?.[1] === undefined ? null : Number(match[1]);
  } catch {
    return null;
  }
}

async function measure(
  mode: 'sweep' | 'verify',
  maxOldSpaceMb: number | undefined,
  shape: 'tiny' | 'fat',
): Promise<void> {
  const server = await startServer(shape);
  const flags = maxOldSpaceMb === undefined ? [] : [`--max-old-space-size=${maxOldSpaceMb}`];
  const child = spawn(
    process.execPath,
    [...flags, '--import', 'tsx', fileURLToPath(import.meta.url), 'child', mode, server.url],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let peakKb = 0;
  const pid = child.pid ?? 0;
  const poll = setInterval(() => {
    peakKb = Math.max(peakKb, vmHwmKb(pid) ?? 0);
  }, 20);
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on('exit', (c, s) => resolve([c, s])),
  );
  clearInterval(poll);
  server.close();
  const report = out.trim().split('\n').at(-1) ?? '';
  const crash = err.match(/(FATAL ERROR[^\n]*|RangeError[^\n]*|heap out of memory[^\n]*)/)?.[1];
  console.log(
    `${shape} ${mode.padEnd(6)} heap cap ${maxOldSpaceMb === undefined ? 'default' : `${maxOldSpaceMb} MB`}: ` +
      `peak RSS ${(peakKb / 1024).toFixed(0)} MB, server sent ${(server.sent.bytes / 1024 / 1024).toFixed(2)} MiB, ` +
      `exit ${code ?? signal}${crash === undefined ? '' : ` (${crash.trim()})`}\n    child: ${report}`,
  );
}

async function child(mode: string, baseUrl: string): Promise<void> {
  const client = createVaikoraClient({ baseUrl, apiKey: 'vk_test_bench', timeoutMs: 120_000, maxRetries: 0 });
  const baseline = process.memoryUsage().rss;
  const started = performance.now();
  let outcome: string;
  if (mode === 'verify') {
    const result = await client.verify();
    outcome = result.ok ? `ok total=${result.total}` : `${result.code}: ${result.message}`;
  } else {
    const pages: string[] = [];
    try {
      for await (const page of client.sweep({ stopBeforeMs: 0, maxPages: 1 })) {
        pages.push(
          `page ${page.page}: ${page.actions.length} actions, ${page.received} received, ` +
            `rejections ${page.rejections.map((r) => `${r.code} "${r.reason}"`).join(', ')}`,
        );
      }
      outcome = pages.join('; ');
    } catch (error) {
      outcome = `threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
    }
  }
  const ms = performance.now() - started;
  console.log(
    `baseline RSS ${(baseline / 1024 / 1024).toFixed(0)} MB, ${ms.toFixed(0)} ms, ` +
      `maxRSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB; ${outcome}`,
  );
}

const [role, a, b] = process.argv.slice(2);
if (role === 'child') {
  await child(a ?? 'sweep', b ?? '');
} else {
  const which = role ?? 'both';
  const heap = a === undefined || a === 'default' ? undefined : Number(a);
  const shape = b === 'fat' ? 'fat' : 'tiny';
  if (which === 'sweep' || which === 'both') await measure('sweep', heap, shape);
  if (which === 'verify' || which === 'both') await measure('verify', heap, shape);
}
