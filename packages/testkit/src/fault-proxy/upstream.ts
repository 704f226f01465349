/**
 * The fault proxy's client of its upstream (moto): raw forwarding over one keep-alive agent, the
 * caller's account for an access key (moto's own GetCallerIdentity answer, cached), and IAM GetRole
 * in a role's own account. moto verifies no signature, so these carry a placeholder one.
 */
import { Agent, request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { MOTO_DEFAULT_ACCOUNT_ID } from '../moto.ts';
import type { GetRole } from './iam.ts';

export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

const signedFor = (accessKeyId: string, service: string) =>
  `AWS4-HMAC-SHA256 Credential=${accessKeyId}/20240101/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=0`;

export class Upstream {
  private readonly agent = new Agent({ keepAlive: true });
  private readonly callers = new Map<string, Promise<string>>();

  /** `url` undefined: no upstream (the memory Security Hub only); every request then fails. */
  constructor(private readonly url: URL | undefined) {}

  close(): void {
    this.agent.destroy();
  }

  /** Sends one request upstream and reads the whole answer. */
  request(
    method: string,
    path: string,
    headers: OutgoingHttpHeaders,
    body: Buffer,
  ): Promise<UpstreamResponse> {
    const upstream = this.url;
    if (upstream === undefined) return Promise.reject(new Error('no upstream configured'));
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          host: upstream.hostname,
          port: upstream.port,
          method,
          path,
          headers: { ...headers, 'content-length': body.length },
          agent: this.agent,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** The caller's account for a SigV4 access key: moto's own answer to GetCallerIdentity, cached. */
  callerAccount(accessKeyId: string | undefined): Promise<string> {
    if (accessKeyId === undefined || this.url === undefined) return Promise.resolve(MOTO_DEFAULT_ACCOUNT_ID);
    let account = this.callers.get(accessKeyId);
    if (account === undefined) {
      account = this.askCallerIdentity(accessKeyId);
      this.callers.set(accessKeyId, account);
    }
    return account;
  }

  private async askCallerIdentity(accessKeyId: string): Promise<string> {
    const body = Buffer.from('Action=GetCallerIdentity&Version=2011-06-15');
    const headers = {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: signedFor(accessKeyId, 'sts'),
    };
    try {
      const answer = await this.request('POST', '/', headers, body);
      return (
        /<Account>(\d{12})<\/Account>/.exec(answer.body.toString('utf8'))?.[1] ?? MOTO_DEFAULT_ACCOUNT_ID
      );
    } catch {
      return MOTO_DEFAULT_ACCOUNT_ID;
    }
  }

  /** IAM GetRole in the role's own account (`x-moto-account-id`). */
  readonly getRole: GetRole = async (account, roleName) => {
    const query = new URLSearchParams({ Action: 'GetRole', Version: '2010-05-08', RoleName: roleName });
    try {
      const answer = await this.request(
        'POST',
        '/',
        {
          'content-type': 'application/x-www-form-urlencoded',
          'x-moto-account-id': account,
          authorization: signedFor('testing', 'iam'),
        },
        Buffer.from(query.toString()),
      );
      return { status: answer.status, body: answer.body.toString('utf8') };
    } catch {
      return undefined;
    }
  };
}
