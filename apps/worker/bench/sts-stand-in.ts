import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A server in front of moto that answers STS itself and forwards everything else to moto. */
export interface StsStandIn {
  readonly endpoint: string;
  /** AssumeRole and GetCallerIdentity answered. */
  readonly answered: () => number;
  stop(): Promise<void>;
}

const XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/';
const KEY_FOR_ACCOUNT = /^ASIA(\d{12})[0-9A-F]{8}$/;

/**
 * Answers STS AssumeRole and GetCallerIdentity in constant time and forwards every other request to
 * moto. Hand-written for the benchmark only: moto 5.2 keeps assumed roles in one list per account and
 * scans it on every AssumeRole and on every call signed with an assumed role's key, so 5,000 tenants
 * cost it O(n²) and the benchmark would measure moto's STS, not the worker (the same reason the fault
 * proxy has a memory Security Hub, ADR 0010). The issued access key carries the role's account, so
 * GetCallerIdentity (which the fault proxy asks to key Security Hub by account) needs no lookup.
 * Nothing is checked: the tests that check ExternalIds and roles use moto and the proxy.
 */
export async function startStsStandIn(upstream: string): Promise<StsStandIn> {
  const target = new URL(upstream);
  let answered = 0;

  const forward = (req: IncomingMessage, body: Buffer, res: ServerResponse) => {
    const out = request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, 'content-length': body.length },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    out.end(body);
  };

  const xml = (res: ServerResponse, action: string, result: string) => {
    answered++;
    const body = `<${action}Response xmlns="${XMLNS}"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`;
    res.writeHead(200, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const form =
        (req.headers['content-type'] ?? '').includes('x-www-form-urlencoded') &&
        req.headers['x-amz-target'] === undefined
          ? new URLSearchParams(body.toString('utf8'))
          : undefined;
      const action = form?.get('Action');
      if (action === 'AssumeRole') {
        const roleArn = form?.get('RoleArn') ?? '';
        const account = /^arn:[^:]+:iam::(\d{12}):role\//.exec(roleArn)?.[1] ?? '123456789012';
        const session = form?.get('RoleSessionName') ?? 'session';
        const roleName = roleArn.slice(roleArn.lastIndexOf('/') + 1);
        const expiration = new Date(Date.now() + 3600_000).toISOString();
        xml(
          res,
          'AssumeRole',
          `<Credentials><AccessKeyId>ASIA${account}${randomBytes(4).toString('hex').toUpperCase()}</AccessKeyId>` +
            `<SecretAccessKey>${randomBytes(20).toString('base64')}</SecretAccessKey>` +
            `<SessionToken>${randomBytes(32).toString('base64')}</SessionToken>` +
            `<Expiration>${expiration}</Expiration></Credentials>` +
            `<AssumedRoleUser><AssumedRoleId>AROA${account}:${session}</AssumedRoleId>` +
            `<Arn>arn:aws:sts::${account}:assumed-role/${roleName}/${session}</Arn></AssumedRoleUser>`,
        );
        return;
      }
      const key = /Credential=([^/]+)\//.exec(req.headers.authorization ?? '')?.[1] ?? '';
      const account = KEY_FOR_ACCOUNT.exec(key)?.[1];
      if (action === 'GetCallerIdentity' && account !== undefined) {
        xml(
          res,
          'GetCallerIdentity',
          `<Arn>arn:aws:sts::${account}:assumed-role/bench/bench</Arn><UserId>AROA${account}:bench</UserId><Account>${account}</Account>`,
        );
        return;
      }
      forward(req, body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    answered: () => answered,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
