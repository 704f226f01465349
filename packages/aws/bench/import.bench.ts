// Import benchmark: 10,000 findings for one account-region through the fault proxy, whose memory
// Security Hub enforces the real limits (10 requests/s, burst 30) and fails 20% of the requests
// with a 5xx. Prints what was lost, duplicated, surfaced and how close to the quota it ran.
// Run: pnpm bench:import. Stops by itself: a deadline aborts it, servers are always stopped.
import { EnableSecurityHubCommand } from '@aws-sdk/client-securityhub';
import { batchFindings, type Destination } from '@vsh/core';
import { type FaultProxy, type MotoServer, startFaultProxy, startMoto, TEST_CREDENTIALS } from '@vsh/testkit';
import { createSecurityHubImporter, type ImportResult } from '../src/importer.ts';
import { createRateLimiterRegistry } from '../src/rate-limiter.ts';
import { createDestinationRegistry, type DestinationRegistry } from '../src/registry.ts';
import { makeFindings } from '../src/testing/findings.ts';

const FINDINGS = 10_000;
const RATE = 10;
const BURST = 30;
const SERVER_ERROR_RATE = 0.2;
const DEADLINE_MS = 50_000;
const destination: Destination = { accountId: '210987654321', region: 'eu-west-1', partition: 'aws' };

/** Shortest time the quota allows for `requests` requests from a full bucket. */
const quotaBoundSeconds = (requests: number): number => Math.max(0, (requests - BURST) / RATE);

async function run(): Promise<boolean> {
  let moto: MotoServer | undefined;
  let proxy: FaultProxy | undefined;
  let registry: DestinationRegistry | undefined;
  try {
    moto = await startMoto();
    proxy = await startFaultProxy({
      upstream: moto.endpoint,
      securityHub: 'memory',
      rules: {
        errors: [{ match: { operation: 'BatchImportFindings' }, rate: SERVER_ERROR_RATE, status: 503 }],
      },
    });
    const endpoint = proxy.endpoint;
    registry = createDestinationRegistry({
      masterCredentials: TEST_CREDENTIALS,
      stsClientConfig: { endpoint },
      securityHubClientConfig: { endpoint },
    });
    const clients = registry.get({
      tenantId: 'bench',
      destination,
      roleArn: `arn:aws:iam::${destination.accountId}:role/VaikoraSecurityHubImporter`,
      externalId: 'ext-bench',
    });
    await clients.securityHub.send(new EnableSecurityHubCommand({}));

    const findings = makeFindings({ destination, count: FINDINGS, idPrefix: 'bench' });
    const batches = batchFindings(findings).length;
    const importer = createSecurityHubImporter({
      client: clients.securityHub,
      destination,
      rateLimiter: createRateLimiterRegistry({ ratePerSecond: RATE, burst: BURST }),
    });
    proxy.resetStats();

    const started = performance.now();
    let thrown: unknown;
    let result: ImportResult | undefined;
    try {
      result = await importer.importFindings(findings);
    } catch (err) {
      thrown = err;
    }
    const elapsedS = (performance.now() - started) / 1000;

    const sent = new Set(findings.map((f) => f.finding.Id));
    const stored = proxy.memoryFindings(destination.accountId, destination.region).map((f) => String(f.Id));
    const storedCounts = new Map<string, number>();
    for (const id of stored) storedCounts.set(id, (storedCounts.get(id) ?? 0) + 1);
    const lost = [...sent].filter((id) => !storedCounts.has(id)).length;
    const duplicated = [...storedCounts.values()].filter((n) => n > 1).length;
    const op = proxy.operationStats('securityhub', 'BatchImportFindings');
    const hub = proxy.stats().securityHub[`${destination.accountId}/${destination.region}`];
    const throttleSurfaced =
      (result?.rejected.filter((r) => /throttl|toomanyrequests|limitexceeded/i.test(r.reason)).length ?? 0) +
      (thrown !== undefined ? 1 : 0);
    const rate = op.requests / elapsedS;
    const budget = BURST + RATE * elapsedS;
    const utilisation = op.requests / budget;

    const rows: Array<[string, string]> = [
      ['findings sent', String(sent.size)],
      ['batches (≤100 findings, ≤6 MB)', String(batches)],
      ['imported (importer says)', String(result?.imported.length ?? 0)],
      ['rejected (importer says)', String(result?.rejected.length ?? 0)],
      ['lost (sent ids not in the backend)', String(lost)],
      ['duplicated (ids stored more than once)', String(duplicated)],
      ['re-imports (ids imported again)', String(hub?.reimports ?? 0)],
      ['requests made (BatchImportFindings)', String(op.requests)],
      ['injected 5xx absorbed', String(op.injected5xx)],
      ['throttled responses absorbed', String(op.throttled)],
      ['throttling errors surfaced to the caller', String(throttleSurfaced)],
      ['errors thrown', thrown === undefined ? '0' : String(thrown)],
      ['elapsed', `${elapsedS.toFixed(2)} s`],
      ['achieved request rate', `${rate.toFixed(2)} req/s`],
      ['quota-bound minimum for the batches', `${quotaBoundSeconds(batches).toFixed(2)} s`],
      ['quota-bound minimum for the requests made', `${quotaBoundSeconds(op.requests).toFixed(2)} s`],
      ['fraction of the quota used (requests / (burst + 10/s × elapsed))', utilisation.toFixed(3)],
    ];
    const width = Math.max(...rows.map(([label]) => label.length));
    for (const [label, value] of rows) console.log(`${label.padEnd(width)}  ${value}`);

    const ok = lost === 0 && duplicated === 0 && throttleSurfaced === 0 && thrown === undefined;
    console.log(ok ? 'PASS: nothing lost, duplicated or surfaced' : 'FAIL');
    if (utilisation < 0.9) console.log(`NOTE: quota use ${utilisation.toFixed(3)} is under the 0.9 goal`);
    return ok;
  } finally {
    registry?.destroy();
    await proxy?.stop();
    await moto?.stop();
  }
}

const deadline = new Promise<never>((_, reject) => {
  setTimeout(() => reject(new Error(`benchmark exceeded ${DEADLINE_MS / 1000} s`)), DEADLINE_MS).unref();
});
Promise.race([run(), deadline]).then(
  (ok) => {
    process.exitCode = ok ? 0 : 1;
  },
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
