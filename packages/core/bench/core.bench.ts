/**
 * Maps, validates and batches generated Vaikora actions, and compares the time with
 * JSON.stringify of its own output measured in the same run (the floor for any code that has to
 * produce that JSON). Works page by page like the worker (memory bounded by a chunk, not the
 * whole run). Prints figures; asserts nothing.
 */
import { generateActions } from '@vsh/fixtures';
import { batchFindings, type Destination, prepareRecords, thresholdsSchema } from '../src/index.ts';

const COUNT = Number(process.argv[2] ?? 100_000);
const CHUNK = 1000;
const ROUNDS = 5;
const destination: Destination = { accountId: '123456789012', region: 'us-east-1', partition: 'aws' };
const ctx = {
  destination,
  now: '2026-11-25T00:00:00.000Z',
  thresholds: thresholdsSchema.parse({ minRiskLevel: 'low' }),
};

const records = generateActions({
  seed: 7,
  count: COUNT,
  aliasRate: 0.1,
  wrongTypeRate: 0.05,
  badRate: 0.01,
  hostileRate: 0.01,
});
const chunks: unknown[][] = [];
for (let i = 0; i < records.length; i += CHUNK) chunks.push(records.slice(i, i + CHUNK));

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

const pipelineMs: number[] = [];
const stringifyMs: number[] = [];
let findings = 0;
let batches = 0;
let bytes = 0;
for (let round = 0; round <= ROUNDS; round++) {
  let pipeline = 0;
  let stringify = 0;
  findings = 0;
  batches = 0;
  bytes = 0;
  for (const chunk of chunks) {
    const t0 = performance.now();
    const prepared = prepareRecords(chunk, ctx);
    const batched = batchFindings(prepared.findings);
    const t1 = performance.now();
    const json = JSON.stringify(prepared.findings.map((p) => p.finding));
    const t2 = performance.now();
    pipeline += t1 - t0;
    stringify += t2 - t1;
    findings += prepared.findings.length;
    batches += batched.length;
    bytes += json.length;
  }
  if (round === 0) continue; // warm-up
  pipelineMs.push(pipeline);
  stringifyMs.push(stringify);
}

const pipeline = median(pipelineMs);
const stringify = median(stringifyMs);
console.log(`actions                 ${COUNT}`);
console.log(
  `findings emitted        ${findings} in ${batches} batches (${(bytes / 1e6).toFixed(1)} MB of JSON)`,
);
console.log(`map+validate+batch      ${pipeline.toFixed(0)} ms (median of ${ROUNDS})`);
console.log(`actions/s               ${Math.round((COUNT / pipeline) * 1000)}`);
console.log(`JSON.stringify(output)  ${stringify.toFixed(0)} ms (median of ${ROUNDS})`);
console.log(`ratio to JSON.stringify ${(pipeline / stringify).toFixed(2)}x`);
