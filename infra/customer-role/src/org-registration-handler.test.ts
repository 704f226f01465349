import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { REGISTRATION_HANDLER_SOURCE } from './org-registration-handler.ts';

// The inline source runs as Lambda runs it: a CommonJS index.js with exports.handler.
type Handler = (
  event: Record<string, unknown>,
  context: { getRemainingTimeInMillis(): number },
) => Promise<void>;

interface Received {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: unknown;
}

const TOKEN = `vsho_0123456789ab_${'S'.repeat(43)}`;
let dir: string;
let handler: Handler;
let server: Server;
let base: string;
const received: Received[] = [];
let answerWith: { status: number; body: unknown } = { status: 201, body: {} };
// Answers given before `answerWith`, first first (a gateway timeout, then the real answer).
const answerFirst: { status: number; body: unknown }[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vsh-handler-'));
  writeFileSync(join(dir, 'index.js'), REGISTRATION_HANDLER_SOURCE);
  writeFileSync(join(dir, 'package.json'), '{"type":"commonjs"}');
  handler = (createRequire(import.meta.url)(join(dir, 'index.js')) as { handler: Handler }).handler;
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
    });
    req.on('end', () => {
      received.push({
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: JSON.parse(text),
      });
      if (req.url?.startsWith('/cfn')) {
        res.writeHead(200).end();
        return;
      }
      const next = answerFirst.shift() ?? answerWith;
      res.writeHead(next.status, { 'content-type': 'application/json' }).end(JSON.stringify(next.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  // What the function writes to its log group; the last test reads it.
  vi.spyOn(console, 'log').mockImplementation(() => undefined);
});

afterEach(() => {
  received.length = 0;
  vi.restoreAllMocks();
});

function event(requestType: 'Create' | 'Update' | 'Delete', url = `${base}/org-registrations/accounts`) {
  return {
    RequestType: requestType,
    ResponseURL: `${base}/cfn/response?X-Amz-Signature=abc`,
    StackId: 'arn:aws:cloudformation:us-east-1:210987654321:stack/StackSet-x/1',
    RequestId: 'req-1',
    LogicalResourceId: 'Registration',
    ...(requestType === 'Create' ? {} : { PhysicalResourceId: 'vsh-org-210987654321' }),
    ResourceProperties: {
      ServiceToken: 'arn:aws:lambda:us-east-1:210987654321:function:f',
      AccountId: '210987654321',
      Regions: ['us-east-1', 'eu-west-1'],
      RoleArn: 'arn:aws:iam::210987654321:role/Data443-VaikoraSecurityHub',
      RegistrationUrl: url,
      RegistrationToken: TOKEN,
    },
  };
}

const context = { getRemainingTimeInMillis: () => 30_000 };

function cfnAnswer() {
  const answer = received.find((r) => r.path.startsWith('/cfn'));
  return answer as Received & { body: Record<string, unknown> };
}

describe('the registration custom resource', () => {
  it('posts the account, its regions and the role ARN on Create, and answers SUCCESS on 201', async () => {
    answerWith = { status: 201, body: { accountId: '210987654321', state: 'verified' } };

    await handler(event('Create'), context);

    expect(received[0]).toMatchObject({
      method: 'POST',
      path: '/org-registrations/accounts',
      body: {
        registrationToken: TOKEN,
        accountId: '210987654321',
        regions: ['us-east-1', 'eu-west-1'],
        roleArn: 'arn:aws:iam::210987654321:role/Data443-VaikoraSecurityHub',
      },
    });
    expect(received[0]?.headers['content-type']).toBe('application/json');
    const answer = cfnAnswer();
    expect(answer.method).toBe('PUT');
    expect(answer.headers['content-type'] ?? '').toBe('');
    expect(answer.body).toMatchObject({
      Status: 'SUCCESS',
      PhysicalResourceId: 'vsh-org-210987654321',
      StackId: event('Create').StackId,
      RequestId: 'req-1',
      LogicalResourceId: 'Registration',
    });
  });

  it('tries again after a gateway timeout and answers with the registration that follows', async () => {
    answerFirst.push({ status: 504, body: { message: 'Gateway Timeout' } });
    answerWith = { status: 200, body: { accountId: '210987654321', state: 'verified' } };

    await handler(event('Create'), context);

    expect(received.filter((r) => r.path === '/org-registrations/accounts')).toHaveLength(2);
    expect(cfnAnswer().body).toMatchObject({ Status: 'SUCCESS' });
  });

  it('fails the stack with the API’s code and message when the registration is refused', async () => {
    answerWith = {
      status: 401,
      body: {
        error: {
          code: 'REGISTRATION_TOKEN_EXPIRED',
          message: 'the registration token expired',
          requestId: 'r',
        },
      },
    };

    await handler(event('Update'), context);

    expect(cfnAnswer().body).toMatchObject({
      Status: 'FAILED',
      Reason: 'Data443 registration refused: REGISTRATION_TOKEN_EXPIRED: the registration token expired',
    });
  });

  it('asks to remove the account on Delete and never blocks the deletion, even on 404', async () => {
    answerWith = { status: 404, body: { error: { code: 'NOT_FOUND', message: 'no', requestId: 'r' } } };

    await handler(event('Delete'), context);

    expect(received[0]).toMatchObject({
      path: '/org-registrations/accounts/remove',
      body: { registrationToken: TOKEN, accountId: '210987654321' },
    });
    expect(cfnAnswer().body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'vsh-org-210987654321' });
  });

  it('fails a Create but not a Delete when the API cannot be reached, and never logs the token', async () => {
    const logged: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: string) => {
      logged.push(line);
    });
    const unreachable = 'http://127.0.0.1:9/org-registrations/accounts';

    // Too little time left for another attempt: the first failure is the answer.
    const short = { getRemainingTimeInMillis: () => 9_000 };

    await handler(event('Create', unreachable), short);
    const create = cfnAnswer().body;
    received.length = 0;
    await handler(event('Delete', unreachable), short);
    const remove = cfnAnswer().body;

    expect(create).toMatchObject({ Status: 'FAILED', Reason: expect.stringMatching(/unreachable/) });
    expect(remove).toMatchObject({ Status: 'SUCCESS' });
    expect(logged.length).toBeGreaterThan(0);
    expect(logged.join('\n')).not.toContain(TOKEN);
    expect(JSON.stringify([create, remove])).not.toContain(TOKEN);
  });
});
