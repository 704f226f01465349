/**
 * Maps, validates and batches generated Vaikora actions, and compares the time with
 * JSON.stringify of its own output measured in the same run (the floor for any code that has to
 * produce that JSON). Works page by page like the worker: each page is kept as the JSON text the
 * API would send and parsed (untimed: that is the HTTP client's work) just before it is prepared,
 * so the records have the shapes JSON.parse gives and memory is bounded by a page, not the run.
 * Prints figures; asserts nothing.
 *
 * Each round times both over the same pages, so the ratio is taken round by round: on a shared
 * machine whose speed drifts, a ratio within one round is steadier than absolute times.
 *
 * Usage: pnpm bench:core [actions=100000] [rounds=9]
 */
import { generateActions } from '@vsh/fixtures';
import { batchFindings, type Destination, prepareRecords, thresholdsSchema } from '../src/index.ts';

const COUNT = Number(process.argv[2] ?? 100_000);
const ROUNDS = Number(process.argv[3] ?? 9);
// One Vaikora page: `per_page` is at most 100 (docs/vaikora-api.md), and the worker prepares and imports page by page.
const CHUNK = 100;
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
const pages: string[] = [];
for (let i = 0; i < records.length; i += CHUNK) pages.push(JSON.stringify(records.slice(i, i + CHUNK)));
records.length = 0;

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

const pipelineMs: number[] = [];
const stringifyMs: number[] = [];
const ratios: number[] = [];
let findings = 0;
let rejected = 0;
let batches = 0;
let bytes = 0;
for (let round = 0; round <= ROUNDS; round++) {
  let pipeline = 0;
  let stringify = 0;
  findings = 0;
  rejected = 0;
  batches = 0;
  bytes = 0;
  for (const page of pages) {
    const chunk = JSON.parse(page) as unknown[];
    const t0 = performance.now();
    const prepared = prepareRecords(chunk, ctx);
    const batched = batchFindings(prepared.findings);
    const t1 = performance.now();
    const json = JSON.stringify(prepared.findings.map((p) => p.finding));
    const t2 = performance.now();
    pipeline += t1 - t0;
    stringify += t2 - t1;
    findings += prepared.findings.length;
    rejected += prepared.rejections.length;
    batches += batched.length;
    bytes += json.length;
  }
  if (round === 0) continue; // warm-up
  pipelineMs.push(pipeline);
  stringifyMs.push(stringify);
  ratios.push(pipeline / stringify);
}

const perSecond = (ms: number) => Math.round((COUNT / ms) * 1000);
const pipeline = median(pipelineMs);
const best = Math.min(...pipelineMs);
console.log(`actions                 ${COUNT} in pages of ${CHUNK}`);
console.log(
  `findings emitted        ${findings} in ${batches} batches (${(bytes / 1e6).toFixed(1)} MB of JSON), ${rejected} rejected`,
);
console.log(
  `map+validate+batch      ${pipeline.toFixed(0)} ms median of ${ROUNDS} rounds, best ${best.toFixed(0)} ms`,
);
console.log(`actions/s               ${perSecond(pipeline)} (median round), ${perSecond(best)} (best round)`);
console.log(`JSON.stringify(output)  ${median(stringifyMs).toFixed(0)} ms median`);
console.log(`ratio to JSON.stringify ${median(ratios).toFixed(2)}x (median of per-round ratios)`);
