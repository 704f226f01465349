// A loopback STS + Security Hub that answers at once, for the benchmarks that count the CPU of SDK
// calls (bench:run-cpu, bench:new-destination). Runs as its own process (`startAwsStub`) so that its
// CPU is not counted as the caller's. Prints its endpoint on stdout; GET /counts returns the requests
// answered per service.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const counts = { sts: 0, securityHub: 0 };

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    if (req.method === 'GET' && req.url === '/counts') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(counts));
      return;
    }
    if (body.includes('Action=AssumeRole')) {
      counts.sts++;
      const expiration = new Date(Date.now() + 3600_000).toISOString();
      const xml =
        '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>' +
        `<Credentials><AccessKeyId>ASIA${randomBytes(8).toString('hex').toUpperCase()}</AccessKeyId>` +
        `<SecretAccessKey>${randomBytes(20).toString('base64')}</SecretAccessKey>` +
        `<SessionToken>${randomBytes(32).toString('base64')}</SessionToken>` +
        `<Expiration>${expiration}</Expiration></Credentials>` +
        '<AssumedRoleUser><AssumedRoleId>AROA:bench</AssumedRoleId><Arn>arn:aws:sts::123456789012:assumed-role/r/bench</Arn></AssumedRoleUser>' +
        `</AssumeRoleResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></AssumeRoleResponse>`;
      res.writeHead(200, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(xml) });
      res.end(xml);
      return;
    }
    counts.securityHub++;
    const findings = (JSON.parse(body || '{}') as { Findings?: unknown[] }).Findings ?? [];
    const json = JSON.stringify({ FailedCount: 0, SuccessCount: findings.length, FailedFindings: [] });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
    res.end(json);
  });
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`http://127.0.0.1:${port}\n`);
});
process.on('disconnect', () => process.exit(0));
