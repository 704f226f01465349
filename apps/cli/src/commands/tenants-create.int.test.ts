import { TEST_OPERATOR_KEY, useHarness } from '@vsh/api/testing';
import { apiKeys, tenants, webSignInLinks } from '@vsh/db';
import { describe, expect, it } from 'vitest';
import { runConnector } from '../testing/run.ts';

const api = useHarness({ database: 'pglite', config: { publicBaseUrl: 'http://127.0.0.1:8080' } });

/** Runs the CLI with HTTP routed into the in-process API app (no port). */
const connector = (argv: string[]) => runConnector(api.app, argv, TEST_OPERATOR_KEY);

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
