import { PassThrough, Writable } from 'node:stream';
import { TEST_OPERATOR_KEY, useHarness } from '@vsh/api/testing';
import { apiKeys, tenants, webSignInLinks } from '@vsh/db';
import { describe, expect, it } from 'vitest';
import type { CommandIo } from '../io.ts';
import { runCli } from '../main.ts';

const api = useHarness({ database: 'pglite', config: { publicBaseUrl: 'http://127.0.0.1:8080' } });

function sink() {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  return { stream, text: () => text };
}

/** Runs the CLI with HTTP routed into the in-process API app (no port). */
async function connector(argv: string[]) {
  const out = sink();
  const err = sink();
  const io: CommandIo = {
    stdin: new PassThrough(),
    stdout: out.stream,
    stderr: err.stream,
    now: () => new Date(),
    env: { VSH_API_URL: 'http://127.0.0.1:9', VSH_OPERATOR_KEY: TEST_OPERATOR_KEY },
    fetch: async (input, init) => api.app.request(input, init),
  };
  const code = await runCli(argv, io);
  return { code, stdout: out.text(), stderr: err.text() };
}

describe('connector tenants create', () => {
  it('prints the tenant id, its API key once and a one-time sign-in link for that key', async () => {
    const run = await connector(['tenants', 'create', '--name', 'Acme Corp']);

    expect(run.code, run.stderr).toBe(0);
    const tenantId = /tenant\s+(ten_[0-9a-z]{26})/.exec(run.stdout)?.[1];
    const apiKey = /api key\s+(vsh_\S+)/.exec(run.stdout)?.[1];
    const link = /sign-in\s+(\S+)/.exec(run.stdout)?.[1];
    expect(tenantId).toBeDefined();
    expect(apiKey).toBeDefined();
    const tenant = (await api.db.select().from(tenants)).find((row) => row.id === tenantId);
    const key = (await api.db.select().from(apiKeys)).find((row) => row.tenantId === tenantId);
    const links = (await api.db.select().from(webSignInLinks)).filter((row) => row.tenantId === tenantId);
    expect(tenant?.name).toBe('Acme Corp');
    expect(link).toMatch(/^http:\/\/127\.0\.0\.1:8080\/ui\/login\/link\?token=[A-Za-z0-9_-]{43}$/);
    expect(links).toHaveLength(1);
    expect(links[0]?.apiKeyId).toBe(key?.id);
  });

  it('prints JSON with --json', async () => {
    const run = await connector(['tenants', 'create', '--name', 'Json Co', '--json']);

    const body = JSON.parse(run.stdout);
    expect(run.code).toBe(0);
    expect(body.tenant.name).toBe('Json Co');
    expect(body.apiKey.key).toMatch(/^vsh_/);
    expect(body.signInLink.url).toContain('/ui/login/link?token=');
  });

  it.each([
    [['tenants', 'create'], 'tenants create needs --name <name>'],
    [['tenants', 'create', '--name', '  '], 'tenants create needs --name <name>'],
    [['tenants', 'create', '--name', 'x'.repeat(201)], '--name must be at most 200 characters'],
    [['tenants', 'create', '--name', 'a', 'extra'], 'unexpected argument "extra"'],
  ])('refuses bad arguments with exit code 2 (%o)', async (argv, message) => {
    const run = await connector(argv);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
  });
});
