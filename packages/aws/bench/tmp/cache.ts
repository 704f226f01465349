import { fork } from 'node:child_process';
import { once } from 'node:events';
import { BatchImportFindingsCommand, SecurityHubClient } from '@aws-sdk/client-securityhub';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { timedPool, timedRequestHandler } from '../../src/request-handler.ts';
const stub = fork(new URL('../new-destination.bench.ts', import.meta.url).pathname, ['--stub'], { execArgv: process.execArgv });
const [port] = (await once(stub, 'message')) as [number];
const endpoint = `http://127.0.0.1:${port}`;
const credentials = { accessKeyId: 'AKID', secretAccessKey: 's' };
const t = { requestTimeoutMs: 30000, connectionTimeoutMs: 5000 };
const pool = timedPool(30000, { ...t, connections: 128 });
const h = () => timedRequestHandler(30000, { ...t, dispatcher: pool });
const f = [{ SchemaVersion: '2018-10-08', Id: 'x', ProductArn: 'arn', GeneratorId: 'g', AwsAccountId: '123456789012', Types: ['t'], CreatedAt: 'x', UpdatedAt: 'x', Severity: { Label: 'LOW' as const }, Title: 't', Description: 'd', Resources: [{ Type: 'Other', Id: 'r' }] }];
const sh0 = new SecurityHubClient({ region: 'us-east-1', endpoint, credentials, requestHandler: h() });
const sh1 = new SecurityHubClient({ region: 'us-east-1', endpoint, credentials, requestHandler: h(), cacheMiddleware: true });
const st0 = new STSClient({ region: 'us-east-1', endpoint, credentials, requestHandler: h() });
const st1 = new STSClient({ region: 'us-east-1', endpoint, credentials, requestHandler: h(), cacheMiddleware: true });
const v: Record<string, () => Promise<unknown>> = {
  sh: () => sh0.send(new BatchImportFindingsCommand({ Findings: f })),
  shCached: () => sh1.send(new BatchImportFindingsCommand({ Findings: f })),
  sts: () => st0.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::123456789012:role/r', RoleSessionName: 's', ExternalId: 'e' })),
  stsCached: () => st1.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::123456789012:role/r', RoleSessionName: 's', ExternalId: 'e' })),
};
const r = new Map<string, number[]>();
for (let round = 0; round < 7; round++) for (const [k, fn] of Object.entries(v)) {
  for (let i = 0; i < 50; i++) await fn();
  const c0 = process.cpuUsage(); for (let i = 0; i < 400; i++) await fn(); const c = process.cpuUsage(c0);
  (r.get(k) ?? r.set(k, []).get(k)!).push((c.user + c.system) / 400);
}
for (const [k, a] of r) { a.sort((x, y) => x - y); console.log(k.padEnd(10), 'median', a[3]!.toFixed(0), 'µs', a.map((x) => x.toFixed(0)).join(' ')); }
stub.kill(); await pool.destroy(); process.exit(0);
