// New-destination benchmark (ADR 0141): the CPU a destination's first call costs, with its clients made
// and its role assumed, through the registry as it is (one STS client per region) against a baseline
// made in the same run: the SDK's `fromTemporaryCredentials`, which makes an STS client per destination,
// as the registry did before. A warm call of a kept client is printed for scale. Against a loopback STS
// and Security Hub in a process of its own (`startAwsStub`) that answers at once, so that its CPU is not
// counted. CPU of this process (user + system), medians of alternating rounds.
// Also the heap a kept destination holds (with --expose-gc, as the script runs it).
// Run: pnpm -F @vsh/aws bench:new-destination.
import { BatchImportFindingsCommand, SecurityHubClient } from '@aws-sdk/client-securityhub';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { memoizeCredentials } from '../src/credentials.ts';
import { createDestinationRegistry } from '../src/registry.ts';
import { timedPool, timedRequestHandler } from '../src/request-handler.ts';
import { startAwsStub } from '../src/testing/aws-stub.ts';

const ROUNDS = 5;
const CALLS_PER_ROUND = 300;
const WARM_UP = 50;
/** Destinations held at once to measure the heap each keeps. */
const HELD = 500;

const stub = await startAwsStub();
const endpoint = stub.endpoint;
const masterCredentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' };
const now = new Date().toISOString();
const findings = [
  {
    SchemaVersion: '2018-10-08',
    Id: 'bench',
    ProductArn: 'arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default',
    GeneratorId: 'bench',
    AwsAccountId: '123456789012',
    Types: ['Unusual Behaviors'],
    CreatedAt: now,
    UpdatedAt: now,
    Severity: { Label: 'LOW' as const },
    Title: 'bench',
    Description: 'bench',
    Resources: [{ Type: 'Other', Id: 'bench' }],
  },
];
const send = (client: SecurityHubClient) =>
  client.send(new BatchImportFindingsCommand({ Findings: findings }));
let tenant = 0;
const nextRoute = () => {
  tenant++;
  return {
    tenantId: `ten_${tenant}`,
    destination: { accountId: '123456789012', region: 'us-east-1', partition: 'aws' as const },
    roleArn: 'arn:aws:iam::123456789012:role/VaikoraSecurityHubImport',
    externalId: `ext-${tenant}`,
  };
};

// The registry as it is; its destinations are made new at each call, never found again.
const registry = createDestinationRegistry({
  masterCredentials,
  stsClientConfig: { endpoint },
  securityHubClientConfig: { endpoint },
  maxEntries: 10_000,
});
// The baseline: what the registry made before ADR 0141, on a pool of its own with the same timeouts.
const timeouts = { requestTimeoutMs: 30_000, connectionTimeoutMs: 5_000 };
const pool = timedPool(timeouts.requestTimeoutMs, { ...timeouts, connections: 128 });
const handler = () => timedRequestHandler(timeouts.requestTimeoutMs, { ...timeouts, dispatcher: pool });
const baselineKept = async () => {
  const route = nextRoute();
  const credentials = memoizeCredentials(
    fromTemporaryCredentials({
      params: {
        RoleArn: route.roleArn,
        ExternalId: route.externalId,
        RoleSessionName: `vsh-${route.tenantId}`,
        DurationSeconds: 3600,
      },
      masterCredentials,
      clientConfig: { endpoint, region: route.destination.region, requestHandler: handler() },
    }),
  );
  const client = new SecurityHubClient({
    retryMode: 'standard',
    endpoint,
    region: route.destination.region,
    credentials,
    maxAttempts: 3,
    requestHandler: handler(),
  });
  await send(client);
  return client;
};
const registryKept = async () => {
  const clients = registry.get(nextRoute());
  await send(clients.securityHub);
  return clients;
};
const warm = registry.get(nextRoute()).securityHub;
const variants: Record<string, () => Promise<unknown>> = {
  'new destination, STS client per destination (baseline)': baselineKept,
  'new destination, STS client per region (registry)': registryKept,
  'warm call of a kept client': () => send(warm),
};
const samples = new Map<string, number[]>(Object.keys(variants).map((name) => [name, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, run] of Object.entries(variants)) {
    for (let i = 0; i < WARM_UP; i++) await run();
    const before = process.cpuUsage();
    for (let i = 0; i < CALLS_PER_ROUND; i++) await run();
    const used = process.cpuUsage(before);
    samples.get(name)?.push((used.user + used.system) / CALLS_PER_ROUND / 1000);
  }
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
const width = Math.max(...Object.keys(variants).map((name) => name.length));
for (const [name, values] of samples)
  console.log(
    `${name.padEnd(width)}  ${median(values).toFixed(3)} ms CPU (rounds ${values.map((v) => v.toFixed(3)).join(', ')})`,
  );
const [baseline, shared] = [...samples.values()].map(median);
if (baseline !== undefined && shared !== undefined)
  console.log(
    `registry / baseline: ${(shared / baseline).toFixed(2)} (${(baseline - shared).toFixed(3)} ms less per new destination)`,
  );
// Heap held per kept destination after its first call (clients, credential; an STS client of its own in
// the baseline), from V8's heap after a full GC: 500 destinations of each kind held at once.
const gc = (globalThis as { gc?: () => void }).gc;
if (gc !== undefined) {
  const heldHeap = async (make: () => Promise<unknown>) => {
    gc();
    const before = process.memoryUsage().heapUsed;
    const held = [];
    for (let i = 0; i < HELD; i++) held.push(await make());
    gc();
    const bytes = (process.memoryUsage().heapUsed - before) / HELD;
    held.length = 0;
    return bytes;
  };
  const baselineKb = (await heldHeap(baselineKept)) / 1024;
  const sharedKb = (await heldHeap(registryKept)) / 1024;
  console.log(
    `heap per kept destination: baseline ${baselineKb.toFixed(1)} KB, registry ${sharedKb.toFixed(1)} KB (${(sharedKb / baselineKb).toFixed(2)})`,
  );
} else console.log('heap per kept destination: run with node --expose-gc to measure it');
registry.destroy();
await pool.destroy();
stub.stop();
