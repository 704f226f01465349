// Control-plane load benchmark (issue 17): one API process, bundled and configured as deployed, on a fresh
// PostgreSQL database seeded with 10,000 tenants (seed.ts), measured with autocannon in one run against
// GET /health. Prints req/s, p50, p99, errors and the ratio to /health per case, with the issue's goals.
// Exits 0 whatever the timings (a benchmark prints figures), 1 when a case had an error or an unexpected
// status, or no response at all, so a broken case cannot pass for a fast one.
// Run: pnpm bench:api [--seconds 10] [--only 'status'] [--cpu-prof /tmp/prof]
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createTestDatabase, type TestDatabase } from '@vsh/db/testing';
import autocannon, { type Client, type Options, type Result } from 'autocannon';
import { build } from 'esbuild';
import { migrationCopyCommands, viewerAssetCopyCommands } from '../src/routes/system/viewer-assets.ts';
import { type BenchTenant, SEED_SHAPE, seedControlPlane } from './seed.ts';

const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const CONNECTIONS = 32;
const OPEN_PAGES = 500;
/** How often an open status page polls its live fragment (LIVE_POLL_MS in src/ui/status.ts). */
const LIVE_POLL_SECONDS = 5;
const WARM_UP_SECONDS = 2;
/** API Gateway's integration timeout (infra/central): a slower answer is an error in production. */
const REQUEST_TIMEOUT_SECONDS = 30;
const SIGN_IN_CONCURRENCY = 8;

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    /** Only the cases whose name contains this text (the /health baseline always runs). */
    only: { type: 'string' },
    /** Writes the API process's V8 CPU profile into this folder when it stops (node --cpu-prof). */
    'cpu-prof': { type: 'string' },
  },
});
const seconds = Number(args.seconds);
if (!Number.isInteger(seconds) || seconds < 1 || seconds > 600) {
  console.error('--seconds must be a whole number of seconds from 1 to 600');
  process.exit(2);
}

let stage = 'creating the database';
let database: TestDatabase | undefined;
let workDir: string | undefined;
let api: ReturnType<typeof spawn> | undefined;

/**
 * Bundles src/main.ts as the central stack bundles the API (esbuild, ESM, node platform, minified with
 * a source map, the `require` banner) into a fresh folder, and copies beside it what the stack copies (migrations, /docs assets):
 * the process measured is what is deployed, not tsx compiling sources on load.
 */
async function bundleApi(dir: string): Promise<string> {
  const entry = join(dir, 'index.mjs');
  await build({
    absWorkingDir: REPO_ROOT,
    entryPoints: ['apps/api/src/main.ts'],
    outfile: entry,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    mainFields: ['module', 'main'],
    // Unminified under --cpu-prof, so the profile names functions (the figures are then not the deployed ones).
    minify: args['cpu-prof'] === undefined,
    sourcemap: true,
    banner: {
      // infra/central's ESM_REQUIRE_BANNER: the bundle imports createRequire itself, hence the alias.
      js: "import { createRequire as __vshCreateRequire } from 'node:module'; const require = __vshCreateRequire(import.meta.url);",
    },
    logLevel: 'warning',
  });
  for (const command of [...migrationCopyCommands(dir), ...viewerAssetCopyCommands(dir)]) {
    execFileSync('sh', ['-c', command]);
  }
  return entry;
}

/**
 * Starts the bundled API in production mode (the rate limit lifted, a local master key) and resolves its
 * URL once it logged "api listening". Its log goes to a file, so reading it costs the load generator
 * nothing; the request log stays at info as deployed.
 */
async function startApi(
  entry: string,
  env: Record<string, string>,
  logFile: string,
): Promise<{ url: string; log: () => string }> {
  const out = openSync(logFile, 'w');
  const child = spawn(process.execPath, [entry], { cwd: REPO_ROOT, env, stdio: ['ignore', out, out] });
  closeSync(out);
  api = child;
  const log = () => readFileSync(logFile, 'utf8');
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && !exited) {
    for (const line of log().split('\n')) {
      if (!line.includes('"api listening"')) continue;
      const parsed = JSON.parse(line) as { url?: unknown };
      if (typeof parsed.url === 'string') return { url: parsed.url, log };
    }
    await sleep(100);
  }
  throw new Error(`the API did not start:\n${log().slice(-4000)}`);
}

/**
 * The ETag of a response as autocannon's client reports its headers: the HTTP parser's info, whose
 * `headers` is a flat [name, value, ...] list (@types/autocannon says a header object; both are read).
 */
function etagOf(event: unknown): string | undefined {
  if (typeof event !== 'object' || event === null) return undefined;
  const list: unknown = 'headers' in event ? event.headers : undefined;
  if (Array.isArray(list)) {
    for (let i = 0; i + 1 < list.length; i += 2) {
      const name: unknown = list[i];
      const value: unknown = list[i + 1];
      if (typeof name === 'string' && name.toLowerCase() === 'etag' && typeof value === 'string')
        return value;
    }
    return undefined;
  }
  const value: unknown = 'etag' in event ? event.etag : undefined;
  return typeof value === 'string' ? value : undefined;
}

function cookieOf(response: Response, name: RegExp): string | undefined {
  for (const header of response.headers.getSetCookie()) {
    const pair = header.split(';')[0] ?? '';
    const at = pair.indexOf('=');
    if (at > 0 && name.test(pair.slice(0, at)) && pair.slice(at + 1) !== '') return pair;
  }
  return undefined;
}

/** Signs in to the web pages with a key as a browser does (GET the form, POST it); the session cookie. */
async function signIn(url: string, key: string): Promise<string> {
  const form = await fetch(`${url}/ui/login`, { redirect: 'manual' });
  const login = cookieOf(form, /vsh_login$/);
  const csrf = /name="csrf" value="([^"]+)"/.exec(await form.text())?.[1];
  if (login === undefined || csrf === undefined) throw new Error(`sign-in form: HTTP ${form.status}`);
  const posted = await fetch(`${url}/ui/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: login, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf, key }).toString(),
  });
  await posted.body?.cancel();
  const session = cookieOf(posted, /vsh_session$/);
  if (posted.status !== 303 || session === undefined) throw new Error(`sign-in: HTTP ${posted.status}`);
  return session;
}

interface Case {
  readonly name: string;
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly connections?: number;
  /** Per connection (autocannon client): its own headers, e.g. one open page's cookie and ETag. */
  readonly setupClient?: (client: Client) => void;
  /** Per request: a path and headers of its own, e.g. the next tenant of a rotation. */
  readonly nextRequest?: () => { path: string; headers: Record<string, string> };
  /** Statuses that count as answers; anything else is an error. */
  readonly ok: readonly number[];
  readonly goal: string;
  readonly met: (figures: Figures, health: Figures | undefined) => boolean;
}

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  /** Connection errors, timeouts and unexpected statuses. */
  errors: number;
  responses: number;
  /** What the errors were, e.g. `HTTP 500 ×3, 2 timeouts`. */
  errorKinds: string;
}

function figuresOf(result: Result, ok: readonly number[]): Figures {
  let responses = 0;
  let unexpected = 0;
  const kinds: string[] = [];
  for (const [status, stats] of Object.entries(result.statusCodeStats ?? {})) {
    const count = stats.count ?? 0;
    responses += count;
    if (ok.includes(Number(status))) continue;
    unexpected += count;
    kinds.push(`HTTP ${status} ×${count}`);
  }
  if (result.timeouts > 0) kinds.push(`${result.timeouts} timeouts`);
  if (result.errors > result.timeouts) kinds.push(`${result.errors - result.timeouts} connection errors`);
  if (responses === 0) kinds.push('no answer in time');
  return {
    rps: responses / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + unexpected + (responses === 0 ? 1 : 0),
    responses,
    errorKinds: kinds.join(', '),
  };
}

function cannon(base: string, c: Case, duration: number): Promise<Result> {
  const options: Options = {
    url: `${base}${c.path}`,
    connections: c.connections ?? CONNECTIONS,
    duration,
    timeout: REQUEST_TIMEOUT_SECONDS,
    ...(c.headers === undefined ? {} : { headers: c.headers }),
    ...(c.setupClient === undefined ? {} : { setupClient: c.setupClient }),
    ...(c.nextRequest === undefined
      ? {}
      : {
          requests: [
            {
              setupRequest: (request) => {
                const next = c.nextRequest?.();
                return next === undefined ? request : { ...request, path: next.path, headers: next.headers };
              },
            },
          ],
        }),
  };
  return autocannon(options);
}

/**
 * One request of a case, alone, before it is measured (without an ETag: the first view of a page): it
 * must answer 200, or the case measures nothing useful. Its size and time are printed.
 */
async function check(base: string, c: Case): Promise<{ bytes: number; ms: number }> {
  const { 'if-none-match': _etag, ...headers } = c.headers ?? {};
  const started = performance.now();
  const response = await fetch(`${base}${c.path}`, { headers, redirect: 'manual' });
  const body = await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`${c.name}: HTTP ${response.status} before the measurement`);
  return { bytes: body.byteLength, ms: performance.now() - started };
}

const fixed = (value: number, digits = 0) =>
  value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length))) ?? [];
  const line = (row: string[]) =>
    row.map((cell, i) => (i === 0 || i >= 5 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)));
  const [head = [], ...body] = rows;
  return [
    line(head).join('  '),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...body.map((r) => line(r).join('  ')),
  ]
    .map((text) => text.trimEnd())
    .join('\n');
}

/** Runs `task` over `items` with at most `limit` at a time. */
async function eachLimited<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

async function run(): Promise<boolean> {
  console.log(
    `bench:api — Node ${process.version}, ${cpus().length} CPUs (load average ${loadavg()
      .map((n) => n.toFixed(1))
      .join(' ')}), ${seconds} s per case, ${WARM_UP_SECONDS} s warm-up`,
  );
  database = await createTestDatabase();
  stage = 'seeding';
  const masterKey = randomBytes(32).toString('base64');
  const seeded = await seedControlPlane(database.db, { masterKey, now: new Date() });
  console.log(
    `seeded in ${fixed(seeded.seconds, 1)} s (${seeded.steps.map(([n, s]) => `${n} ${fixed(s, 1)} s`).join('; ')})`,
  );
  console.log(
    `rows: ${Object.entries(seeded.rowCounts)
      .map(([table, n]) => `${table} ${fixed(n)}`)
      .join(', ')}`,
  );

  stage = 'bundling and starting the API';
  workDir = mkdtempSync(join(tmpdir(), 'vsh-bench-api-'));
  const entry = await bundleApi(workDir);
  const operatorKey = `op_${randomBytes(32).toString('base64url')}`;
  const { url, log } = await startApi(
    entry,
    {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      APP_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      DATABASE_URL: database.url,
      OPERATOR_API_KEY: operatorKey,
      MASTER_KEY: masterKey,
      DATA443_ACCOUNT_ID: '444455556666',
      CUSTOMER_TEMPLATE_URL: 'https://templates.example.com/vaikora/customer-role.yaml',
      VAIKORA_ALLOWED_HOSTS: 'api.vaikora.com',
      RATE_LIMIT_PER_MINUTE: '1000000',
      AWS_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
      // As deployed (infra/central).
      NODE_OPTIONS: `--enable-source-maps${args['cpu-prof'] === undefined ? '' : ` --cpu-prof --cpu-prof-dir=${args['cpu-prof']}`}`,
      MALLOC_ARENA_MAX: '2',
    },
    join(workDir, 'api.log'),
  );

  stage = 'signing in';
  const operatorCookie = await signIn(url, operatorKey);
  // Open pages of 500 distinct tenants, every 20th by creation: the 100 busy tenants and 400 others.
  const step = Math.floor(SEED_SHAPE.tenants / OPEN_PAGES);
  const pageTenants = seeded.tenants.filter((t) => t.index % step === 0).slice(0, OPEN_PAGES);
  const pages = await eachLimited(pageTenants, SIGN_IN_CONCURRENCY, async (tenant: BenchTenant) => ({
    cookie: await signIn(url, tenant.key),
    etag: undefined as string | undefined,
  }));
  // Each open page has shown its fragment once, as the page itself does, and polls with that ETag.
  await eachLimited(pages, SIGN_IN_CONCURRENCY, async (page) => {
    const response = await fetch(`${url}/ui/status/live`, {
      headers: { cookie: page.cookie, accept: 'text/html' },
    });
    await response.arrayBuffer();
    page.etag = response.headers.get('etag') ?? undefined;
  });
  let nextPage = 0;
  const pageHeaders = (page: (typeof pages)[number]) => ({
    cookie: page.cookie,
    accept: 'text/html',
    ...(page.etag === undefined ? {} : { 'if-none-match': page.etag }),
  });

  const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
  let nextTenant = 0;
  const ratio = (f: Figures, h: Figures | undefined) => (h === undefined || h.rps === 0 ? 0 : f.rps / h.rps);
  const cases: Case[] = [
    {
      name: 'GET /health (baseline)',
      path: '/health',
      ok: [200],
      goal: '0 errors',
      met: (f) => f.errors === 0,
    },
    {
      name: `GET /v1/tenants/{id}, tenant key (72 runs)`,
      path: `/v1/tenants/${seeded.ordinary.id}`,
      headers: bearer(seeded.ordinary.key),
      ok: [200],
      goal: '≥ 40% of /health',
      met: (f, h) => f.errors === 0 && ratio(f, h) >= 0.4,
    },
    {
      // The same read, each request as the next of 500 tenants: what the read cache (1 s, ADR 0113) is
      // worth when reads spread over many tenants rather than repeat one.
      name: `GET /v1/tenants/{id}, ${pageTenants.length} tenants in turn`,
      path: `/v1/tenants/${seeded.ordinary.id}`,
      headers: bearer(seeded.ordinary.key),
      nextRequest: () => {
        const tenant = pageTenants[nextTenant++ % pageTenants.length] ?? seeded.ordinary;
        return { path: `/v1/tenants/${tenant.id}`, headers: bearer(tenant.key) };
      },
      ok: [200],
      goal: 'figure only',
      met: (f) => f.errors === 0,
    },
    {
      name: 'GET /v1/tenants/{id}/status, busy tenant',
      path: `/v1/tenants/${seeded.bench.id}/status`,
      headers: bearer(seeded.bench.key),
      ok: [200],
      goal: 'p99 < 50 ms',
      met: (f) => f.errors === 0 && f.p99 < 50,
    },
    {
      name: 'GET /v1/tenants (operator, first page)',
      path: '/v1/tenants',
      headers: bearer(operatorKey),
      ok: [200],
      goal: 'p99 < 100 ms',
      met: (f) => f.errors === 0 && f.p99 < 100,
    },
    {
      name: 'GET /ui/operator (overview page)',
      path: '/ui/operator',
      headers: { cookie: operatorCookie, accept: 'text/html' },
      ok: [200],
      goal: 'p99 < 100 ms',
      met: (f) => f.errors === 0 && f.p99 < 100,
    },
    {
      name: `GET /ui/status/live, ${OPEN_PAGES} open pages`,
      path: '/ui/status/live',
      headers: pageHeaders(pages[0] ?? { cookie: '', etag: undefined }),
      connections: OPEN_PAGES,
      // One connection per open page, each with its own session and the last ETag it saw.
      setupClient: (client) => {
        const page = pages[nextPage++ % pages.length];
        if (page === undefined) return;
        client.setHeaders(pageHeaders(page));
        client.on('headers', (event) => {
          const etag = etagOf(event);
          if (etag === undefined || etag === page.etag) return;
          page.etag = etag;
          client.setHeaders(pageHeaders(page));
        });
      },
      ok: [200, 304],
      goal: `≥ ${OPEN_PAGES / LIVE_POLL_SECONDS} req/s (1 poll / ${LIVE_POLL_SECONDS} s)`,
      met: (f) => f.errors === 0 && f.rps >= OPEN_PAGES / LIVE_POLL_SECONDS,
    },
  ];

  const results: Array<{ c: Case; f: Figures }> = [];
  const only = args.only;
  for (const c of cases.filter((c, i) => i === 0 || only === undefined || c.name.includes(only))) {
    stage = `measuring ${c.name}`;
    const alone = await check(url, c);
    nextPage = 0;
    await cannon(url, c, Math.min(WARM_UP_SECONDS, seconds));
    // autocannon stops at its duration, not the server: one more request, queued behind what is still in
    // flight, waits until the server has caught up, so no case is measured while it serves the previous.
    await check(url, c);
    nextPage = 0;
    const f = figuresOf(await cannon(url, c, seconds), c.ok);
    const drained = await check(url, c);
    results.push({ c, f });
    console.log(
      `  ${c.name}: ${fixed(f.rps)} req/s, p99 ${fixed(f.p99)} ms, ${fixed(f.responses)} answers${f.errors > 0 ? ` (errors: ${f.errorKinds})` : ''}; one request alone before: ${fixed(alone.ms)} ms, ${fixed(alone.bytes)} bytes; drained ${fixed(drained.ms / 1000, 1)} s after`,
    );
  }
  const logged = log()
    .split('\n')
    .filter((line) => line.includes('"level":50'));
  if (logged.length > 0)
    console.log(`the API logged ${logged.length} errors; the first:\n${logged[0]?.slice(0, 600)}`);

  const health = results[0]?.f;
  const rows = [
    ['case', 'req/s', 'p50 ms', 'p99 ms', 'errors/non-2xx', 'vs /health', 'goal', 'met?'],
    ...results.map(({ c, f }) => [
      c.name,
      fixed(f.rps),
      fixed(f.p50, 1),
      fixed(f.p99, 1),
      fixed(f.errors),
      `${fixed(ratio(f, health) * 100, 1)}%`,
      c.goal,
      c.met(f, health) ? 'met' : 'NOT met',
    ]),
  ];
  console.log(
    `\n${CONNECTIONS} connections (${OPEN_PAGES} for the open pages), ${seconds} s each; errors count connection errors, timeouts (${REQUEST_TIMEOUT_SECONDS} s) and statuses other than 200 (304 too for the live fragment); every goal also needs 0 errors`,
  );
  console.log(table(rows));
  return results.every(({ f }) => f.errors === 0);
}

async function cleanUp(): Promise<void> {
  if (api !== undefined && api.exitCode === null && api.signalCode === null) {
    const child = api;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(5_000).then(() => child.kill('SIGKILL'))]);
  }
  await database?.drop().catch(() => undefined);
  if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void cleanUp().finally(() => process.exit(130));
  });
}
run().then(
  async (clean) => {
    await cleanUp();
    if (!clean) console.error('a case had errors or unexpected statuses: its figures do not count');
    process.exit(clean ? 0 : 1);
  },
  async (err: unknown) => {
    console.error(`stopped while ${stage}: ${err instanceof Error ? err.message : String(err)}`);
    await cleanUp();
    process.exit(1);
  },
);
