/**
 * CPU of one page request through each transport of the client (ADR 0139): the worker's (undici's
 * `request`, the default) against a caller's `fetch`, on the same local server and page (100 actions
 * of about 400 bytes). Measured in the same run, in rounds that alternate, and printed as CPU per
 * one-page sweep (client made, page requested, read and parsed) and as the ratio of the two; the
 * server's CPU is in both. Prints figures; asserts nothing.
 *
 * Usage: pnpm -F @vsh/vaikora bench:transport [sweeps=1500]
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createVaikoraClient } from '../src/client.ts';

const SWEEPS = Number(process.argv[2] ?? 1500);
const T0 = Date.UTC(2026, 10, 1);
const body = JSON.stringify({
  actions: Array.from({ length: 100 }, (_, i) => ({
    id: `act-${i}`,
    agent_id: 'agt-bench',
    timestamp: new Date(T0 - i * 1000).toISOString(),
    risk_level: 'high',
    details: { note: 'x'.repeat(300) },
  })),
  total: 100,
});
const server = createServer((_req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(body);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const sweep = async (options: object) => {
  const client = createVaikoraClient({ baseUrl, apiKey: 'vk_bench_transport', maxRetries: 0, ...options });
  for await (const page of client.sweep({ stopBeforeMs: 0, maxPages: 1 })) {
    if (page.actions.length !== 100) throw new Error(`read ${page.actions.length} actions, not 100`);
  }
};
const variants = {
  fetch: { fetch: (input: string, init: RequestInit) => fetch(input, init) },
  'undici request': {},
} as const;
const cpuMs = { fetch: [] as number[], 'undici request': [] as number[] };
for (let round = 0; round < 3; round++) {
  for (const [name, options] of Object.entries(variants) as [keyof typeof variants, object][]) {
    for (let i = 0; i < 200; i++) await sweep(options);
    const start = process.cpuUsage();
    for (let i = 0; i < SWEEPS; i++) await sweep(options);
    const used = process.cpuUsage(start);
    cpuMs[name].push((used.user + used.system) / 1000 / SWEEPS);
  }
}
server.close();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const f = median(cpuMs.fetch);
const u = median(cpuMs['undici request']);
console.log(`CPU per one-page sweep (median of 3 rounds of ${SWEEPS}, server included):`);
console.log(
  `  fetch           ${f.toFixed(3)} ms  (rounds ${cpuMs.fetch.map((x) => x.toFixed(3)).join(', ')})`,
);
console.log(
  `  undici request  ${u.toFixed(3)} ms  (rounds ${cpuMs['undici request'].map((x) => x.toFixed(3)).join(', ')})`,
);
console.log(`  undici request / fetch  ${(u / f).toFixed(2)}`);
