import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { textSink as sink } from '@vsh/cli/testing';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalStackError } from './errors.ts';
import type { LocalIo } from './io.ts';
import { runLocal } from './main.ts';
import { type AnyLocalStack, startLocalStack } from './stack.ts';
import { saveState } from './state.ts';

const NEW_ACCOUNT = '444455556666';
const temp: string[] = [];
let stack: AnyLocalStack;

function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vsh-local-cmd-'));
  temp.push(dir);
  return dir;
}

async function local(argv: string[]) {
  const out = sink();
  const err = sink();
  const io: LocalIo = { stdout: out.stream, stderr: err.stream };
  const code = await runLocal(argv, io);
  return { code, stdout: out.text(), stderr: err.text() };
}

async function api<T>(key: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${stack.apiUrl}/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  expect(res.status, `${method} ${path}`).toBeLessThan(300);
  return (await res.json()) as T;
}

beforeAll(async () => {
  stack = await startLocalStack({
    dataDir: folder(),
    apiPort: 0,
    logger: pino({ level: 'silent' }),
    say: () => {},
    demo: false,
  });
});

afterAll(async () => {
  await stack?.stop();
  for (const dir of temp) rmSync(dir, { recursive: true, force: true });
});

describe('startLocalStack without the demo', () => {
  it('creates no tenant but runs the simulator with its key and agents', async () => {
    const list = await api<{ items: unknown[] }>(stack.operatorKey, 'GET', '/tenants');
    const sim = await fetch(`${stack.vaikora.baseUrl}/actions?agent_id=${stack.vaikora.agents[0]}`, {
      headers: { 'x-api-key': stack.vaikora.apiKey },
    });

    expect(stack.demo).toBeUndefined();
    expect(list.items).toEqual([]);
    expect(sim.status).toBe(200);
    expect(stack.vaikora.agents.length).toBeGreaterThan(0);
  });

  it('refuses an API port in use with the port, its holder and --port, before starting anything', async () => {
    const taken: Server = createServer();
    await new Promise<void>((done) => taken.listen({ host: '127.0.0.1', port: 0 }, done));
    const address = taken.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      const attempt = startLocalStack({
        dataDir: folder(),
        apiPort: port,
        logger: pino({ level: 'silent' }),
        say: () => {},
      }).catch((err: unknown) => err);

      const error = await attempt;

      expect(error).toBeInstanceOf(LocalStackError);
      expect((error as LocalStackError).code).toBe('port_in_use');
      expect((error as Error).message).toMatch(
        new RegExp(`^port ${port} is in use \\(by pid ${process.pid}: .+\\); start with --port <n>$`),
      );
    } finally {
      taken.close();
    }
  });
});

describe('pnpm local deploy-role', () => {
  it('deploys the role of a destination into the local AWS and prints the ARN, which then verifies', async () => {
    const created = await api<{ tenant: { id: string }; apiKey: { key: string } }>(
      stack.operatorKey,
      'POST',
      '/tenants',
      {
        name: 'Hand Made',
      },
    );
    const tenantId = created.tenant.id;
    const dest = await api<{ destination: { id: string } }>(
      created.apiKey.key,
      'POST',
      `/tenants/${tenantId}/destinations`,
      {
        accountId: NEW_ACCOUNT,
        regions: ['us-west-2'],
      },
    );

    const out = await local([
      'deploy-role',
      '--tenant',
      tenantId,
      '--destination',
      dest.destination.id,
      '--data-dir',
      stack.dataDir,
    ]);

    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const roleArn = /Role ARN\s+(\S+)/.exec(out.stdout)?.[1] ?? '';
    expect(roleArn).toMatch(new RegExp(`^arn:aws:iam::${NEW_ACCOUNT}:role/`));
    expect(out.stdout).toContain(`/v1/tenants/${tenantId}/destinations/${dest.destination.id}/verify`);
    const verified = await api<{ verified: boolean }>(
      created.apiKey.key,
      'POST',
      `/tenants/${tenantId}/destinations/${dest.destination.id}/verify`,
      { roleArn },
    );
    expect(verified.verified).toBe(true);
  });

  it('says clearly that it needs a local stack when the folder has none', async () => {
    const empty = folder();

    const out = await local([
      'deploy-role',
      '--tenant',
      'ten_abcdefabcdef',
      '--destination',
      'dst_abcdefabcdef',
      '--data-dir',
      empty,
    ]);

    expect(out.code).toBe(1);
    expect(out.stderr).toContain(`no local stack in ${empty}`);
    expect(out.stderr).toContain('pnpm start');
  });

  it('says the stack is not running when its folder has state but no live stack', async () => {
    const stopped = folder();
    saveState(stopped, {
      masterKey: 'm',
      operatorKey: 'o',
      vaikoraKey: 'v',
      apiUrl: 'http://127.0.0.1:9',
      ports: { moto: 9 },
    });

    const out = await local([
      'deploy-role',
      '--tenant',
      'ten_abcdefabcdef',
      '--destination',
      'dst_abcdefabcdef',
      '--data-dir',
      stopped,
    ]);

    expect(out.code).toBe(1);
    expect(out.stderr).toContain(`the local stack in ${stopped} is not running`);
  });

  it('rejects a malformed id with a usage error', async () => {
    const out = await local(['deploy-role', '--tenant', '../etc', '--destination', 'dst_abcdefabcdef']);

    expect(out.code).toBe(2);
    expect(out.stderr).toContain('--tenant must look like ten_');
  });
});
