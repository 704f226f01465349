import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, type TestDatabase } from '@vsh/db/testing';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '@vsh/testkit';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The deployed topology in small: every Lambda instance is a replica, so two API processes on one
// PostgreSQL database behind a balancer that alternates per request, driven by a real browser.
const API_MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
// Kept as CI artifacts (test-artifacts/ is gitignored), next to the other browser tests' screenshots.
const ARTIFACTS = join(REPO_ROOT, 'test-artifacts/ui');
const OPERATOR = `op_${randomBytes(24).toString('base64url')}`;
const PAGES = 100;

interface LogLine {
  msg?: string;
  url?: string;
  method?: string;
  status?: number;
  principal?: string;
}

/** An API process (`node --import tsx src/main.ts`, configured only by its environment, as deployed). */
interface ApiProcess {
  readonly name: string;
  readonly url: Promise<string>;
  /** Its request log lines so far. */
  readonly requests: LogLine[];
  stop(): Promise<void>;
  tail(): string;
}

function spawnApi(name: string, env: Record<string, string>): ApiProcess {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', API_MAIN], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const requests: LogLine[] = [];
  let listening: (url: string) => void = () => undefined;
  let failed: (err: Error) => void = () => undefined;
  const url = new Promise<string>((resolve, reject) => {
    listening = resolve;
    failed = reject;
  });
  url.catch(() => undefined);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      failed(new Error(`${name} exited (${code ?? signal}) before it listened:\n${lines.join('\n')}`));
      resolve();
    });
  });
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        if (lines.length > 200) lines.shift();
        let entry: LogLine;
        try {
          entry = JSON.parse(line) as LogLine;
        } catch {
          continue;
        }
        if (entry.msg === 'api listening' && typeof entry.url === 'string') listening(entry.url);
        if (entry.msg === 'request') requests.push(entry);
      }
    });
  }
  return {
    name,
    url,
    requests,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
    tail: () => lines.join('\n'),
  };
}

/** A round-robin HTTP balancer on one port: request n goes to backend n mod 2, whatever the connection. */
interface Balancer {
  readonly url: string;
  /** Per backend, the `METHOD path` of every request it was given. */
  readonly served: string[][];
  close(): Promise<void>;
}

async function startBalancer(backends: readonly string[]): Promise<Balancer> {
  const served = backends.map(() => [] as string[]);
  let next = 0;
  const server: Server = createServer((req, res) => {
    const index = next++ % backends.length;
    served[index]?.push(`${req.method} ${req.url}`);
    const target = new URL(backends[index] ?? '');
    const upstream = httpRequest(
      {
        hostname: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    served,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('two API processes on one database behind a round-robin balancer, in Chromium', () => {
  let database: TestDatabase;
  let apis: ApiProcess[] = [];
  let backends: string[] = [];
  let balancer: Balancer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    database = await createTestDatabase();
    const env = {
      APP_ENV: 'local',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      DATABASE_URL: database.url,
      OPERATOR_API_KEY: OPERATOR,
      MASTER_KEY: randomBytes(32).toString('base64'),
    };
    apis = [spawnApi('api-a', env), spawnApi('api-b', env)];
    [backends, browser] = await Promise.all([
      Promise.all(apis.map((api) => api.url)),
      chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: [...CHROMIUM_ARGS] }),
    ]);
    balancer = await startBalancer(backends);
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await balancer?.close();
    await Promise.all(apis.map((api) => api.stop()));
    await database?.drop();
  });

  it('keeps a browser signed in across 100 pages served alternately by both processes, and signs it out on both', async () => {
    const created = await fetch(`${balancer.url}/v1/tenants`, {
      method: 'POST',
      headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Topology Ltd' }),
    });
    expect(created.status).toBe(201);
    const { apiKey } = (await created.json()) as { apiKey: { id: string; key: string } };

    await page.goto(`${balancer.url}/ui/login`);
    await page.getByLabel('API key').fill(apiKey.key);
    // A tenant that has not connected Vaikora yet lands on its onboarding checklist.
    await Promise.all([
      page.waitForURL(/\/ui\/start$/),
      page.getByRole('button', { name: 'Sign in' }).click(),
    ]);
    const before = balancer.served.map((list) => list.length);
    const logged = apis.map((api) => api.requests.length);

    const answers: { status: number; signedIn: boolean; heading: string }[] = [];
    for (let i = 0; i < PAGES; i++) {
      const response = await page.goto(`${balancer.url}/ui/status?page=${i}`);
      answers.push({
        status: response?.status() ?? 0,
        signedIn:
          (await page.locator('header').textContent())?.includes('Signed in as Topology Ltd') ?? false,
        heading: (await page.locator('h1').textContent()) ?? '',
      });
    }
    await page.screenshot({ path: join(ARTIFACTS, 'topology-signed-in.png'), fullPage: true });
    writeFileSync(
      join(ARTIFACTS, 'topology-served.json'),
      JSON.stringify({ backends, served: balancer.served }),
    );

    expect(answers.filter((a) => a.status === 200 && a.signedIn && a.heading === 'Status')).toHaveLength(
      PAGES,
    );
    const pagesServed = balancer.served.map(
      (list, i) => list.slice(before[i]).filter((line) => line.startsWith('GET /ui/status?page=')).length,
    );
    // Each process's own log: GETs it answered 200 as this tenant's key (the log names UI routes
    // "(unmatched)", because the pages' catch-all is the last route Hono matched).
    const pagesLogged = apis.map(
      (api, i) =>
        api.requests
          .slice(logged[i])
          .filter((r) => r.method === 'GET' && r.status === 200 && r.principal === apiKey.id).length,
    );
    expect(pagesServed.reduce((a, b) => a + b, 0)).toBe(PAGES);
    for (const count of pagesServed) expect(count).toBeGreaterThanOrEqual(PAGES / 2 - 5);
    expect(pagesLogged).toEqual(pagesServed);

    const [cookie] = (await context.cookies(balancer.url)).filter((c) => c.name === 'vsh_session');
    expect(cookie?.httpOnly).toBe(true);
    expect(cookie?.sameSite).toBe('Strict');
    const direct = (backend: string) =>
      fetch(`${backend}/ui/status`, {
        headers: { cookie: `vsh_session=${cookie?.value}` },
        redirect: 'manual',
      });
    for (const backend of backends) expect((await direct(backend)).status).toBe(200);

    await Promise.all([
      page.waitForURL(/\/ui\/login/),
      page.getByRole('button', { name: 'Sign out' }).click(),
    ]);
    await page.screenshot({ path: join(ARTIFACTS, 'topology-signed-out.png'), fullPage: true });

    expect(await page.locator('main [role=status]').textContent()).toContain('You are signed out');
    for (const backend of backends) {
      const refused = await direct(backend);
      expect(refused.status).toBe(303);
      expect(refused.headers.get('location')).toMatch(/^\/ui\/login/);
    }
  });
});
