/**
 * Time of the page reader on a normal page: 100 records of about 1.5 KB (the documented largest
 * `per_page`), as one chunk and as the 16 KiB chunks a socket delivers. Prints the median time per page
 * of the structural scan alone, of scan + JSON.parse + parseAction of every record (what a sweep does),
 * and, for scale, of the former path: decode the whole body, JSON.parse it, parseAction each record.
 * Prints figures; asserts nothing.
 *
 * Usage: pnpm -F @vsh/vaikora bench:reader [rounds=2000]
 */
import { parseAction } from '@vsh/core';
import { PageScanner, parseRecord } from '../src/page-reader.ts';

const ROUNDS = Number(process.argv[2] ?? 2000);
const bounds = {
  maxResponseBytes: 16 * 1024 * 1024,
  maxRecordsPerPage: 1000,
  maxRecordDepth: 64,
  maxRecordBytes: 4 * 1024 * 1024,
};

const T0 = Date.UTC(2026, 10, 1);
const actions = Array.from({ length: 100 }, (_, i) => ({
  id: `act-${T0}-${i.toString().padStart(4, '0')}`,
  agent_id: 'agt-sql-copilot',
  action_type: i % 3 === 0 ? 'database.write' : 'llm.completion',
  resource_type: 'table',
  resource_id: `orders-${i}`,
  status: 'completed',
  risk_level: ['low', 'medium', 'high', 'critical'][i % 4],
  risk_score: (i * 37) % 100,
  policy_id: 'pol-7',
  policy_decision: 'audit',
  is_anomaly: i % 5 === 0,
  anomaly_score: 0.42,
  anomaly_reason: 'query volume 14x the learned baseline for this agent at this hour, with "quoted" text',
  threat_detected: i % 7 === 0,
  threat_score: 0.91,
  log_hash: 'a'.repeat(64),
  timestamp: new Date(T0 - i * 1000).toISOString(),
  ip_address: '10.0.0.12',
  url: `https://internal.example/api/orders/${i}?expand=items&limit=100`,
  title: 'Unusual database write by an AI agent',
  description:
    `Agent wrote ${i} rows to orders outside its usual window. Naïve café résumé — ünïcödé 😀. `.repeat(6),
  user_name: 'svc-copilot',
  process_name: 'copilot-worker',
}));
const body = new TextEncoder().encode(JSON.stringify({ actions, total: 12_345, page: 1, per_page: 100 }));
const chunks: Uint8Array[] = [];
for (let at = 0; at < body.byteLength; at += 16 * 1024) chunks.push(body.subarray(at, at + 16 * 1024));

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function time(run: () => unknown): number {
  const samples: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const started = performance.now();
    run();
    samples.push(performance.now() - started);
  }
  return median(samples) * 1000;
}

const scanOnly = (parts: Uint8Array[]) => () => {
  const scanner = new PageScanner(bounds);
  for (const part of parts) scanner.push(part);
  const scan = scanner.finish();
  if (!scan.ok || scan.records.length !== 100) throw new Error('bad scan');
};
const scanAndParse = (parts: Uint8Array[]) => () => {
  const scanner = new PageScanner(bounds);
  for (const part of parts) scanner.push(part);
  const scan = scanner.finish();
  if (!scan.ok) throw new Error('bad scan');
  for (const record of scan.records) if (!parseRecord(record, bounds).ok) throw new Error('bad record');
};
const former = () => {
  const envelope = JSON.parse(new TextDecoder().decode(body)) as { actions: unknown[] };
  for (const record of envelope.actions) if (!parseAction(record).ok) throw new Error('bad record');
};

// Warm up every path before measuring.
for (let i = 0; i < 500; i++) {
  scanOnly([body])();
  scanAndParse(chunks)();
  former();
}

const avgRecord = Math.round(body.byteLength / 100);
console.log(
  `page: 100 records, ${body.byteLength} bytes (${avgRecord} bytes a record), ${ROUNDS} rounds, median per page`,
);
console.log(`  structural scan, one chunk:            ${time(scanOnly([body])).toFixed(1)} µs`);
console.log(`  structural scan, 16 KiB chunks:        ${time(scanOnly(chunks)).toFixed(1)} µs`);
console.log(`  scan + parse every record, 16 KiB:     ${time(scanAndParse(chunks)).toFixed(1)} µs`);
console.log(`  former: decode + JSON.parse + parse:   ${time(former).toFixed(1)} µs`);
