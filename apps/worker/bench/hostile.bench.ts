// Hostile benchmark: what an outside hostile test did to the connector, measured on real processes.
//  a. peak RSS (VmHWM) of a worker process while a tenant's Vaikora answers a 64 MiB page of tiny records
//     (`{"actions":[{},{},...]}`), and of an API process while PUT /v1/tenants/{id}/vaikora checks a key
//     against that page; and whether each process survived;
//  b. how long a healthy tenant's run-now waits (request → its run's start and finish in `runs`) while 4
//     tenants whose every Vaikora page comes just under the client's timeout hold a worker with
//     WORKER_CONCURRENCY=4;
//  c. the time from SIGKILL of a worker that holds a tenant until another worker runs that tenant again,
//     with the worker's default lease settings.
// Each figure is printed with its goal and "met" / "NOT met"; nothing is asserted. Run: pnpm bench:hostile.
// Stops by itself (each wait is capped, and a deadline covers the whole) and kills every process it started.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { rowsOf, tenantSchedules } from '@vsh/db';
import { tinyRecordsLayout } from '@vsh/testkit';
import { sql } from 'drizzle-orm';
import { parseWorkerEnv } from '../src/env.ts';
import { type Harness, type SeededTenant, startHarness } from '../test/harness.ts';
import { makeDue } from '../test/ledger.ts';
import { killAllWorkers, spawnWorker } from '../test/processes.ts';
import { killAllApis, spawnApi } from './api-process.ts';
import { bundleEntries } from './bundle.ts';

/** The bundled process entries (as the central stack deploys them), built once at start. */
let entries: { worker: string; api: string } | undefined;

const MiB = 1024 * 1024;
const TINY_PAGE_BYTES = 64 * MiB;
/**
 * The worker's Vaikora client timeout: `createWorkerRuntime`'s default (runtime.ts), which no variable
 * changes. Slow pages come 1 s under it, so every page succeeds, slowly.
 */
const VAIKORA_CLIENT_TIMEOUT_MS = 15_000;
const SLOW_PAGE_MS = VAIKORA_CLIENT_TIMEOUT_MS - 1_000;
const SLOW_TENANTS = 4;
/** Pages per slow tenant's run (100 actions a page): a run lasts about SLOW_PAGES × SLOW_PAGE_MS. */
const SLOW_PAGES = 5;
/** Pages of the tenant killed in (c) answer this slowly, so that the kill lands inside its run. */
const KILL_PAGE_MS = 2_000;

const GOAL = { rssMb: 300, runNowSeconds: 10, takeoverSeconds: 60 } as const;
/** Each measurement gives up after this long and reports "more than". */
const CAP_MS = { tinyPage: 60_000, runNow: 60_000, takeover: 90_000 } as const;
const DEADLINE_MS = 7 * 60_000;

const KEYS = {
  tiny: 'vk_test_hostile_tiny',
  tinyChunked: 'vk_test_hostile_tiny_chunked',
  healthy: 'vk_test_hostile_healthy',
  kill: 'vk_test_hostile_kill',
  slow: Array.from({ length: SLOW_TENANTS }, (_, i) => `vk_test_hostile_slow_${i}`),
} as const;

let harness: Harness | undefined;
let stage = 'starting the harness';

const mb = (kb: number | null | undefined) =>
  kb === null || kb === undefined ? '?' : `${(kb / 1024).toFixed(0)} MB`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const verdict = (met: boolean) => (met ? 'met' : 'NOT met');

interface RunRow {
  worker_id: string | null;
  status: string;
  started_at: string;
  finished_at: string | null;
  error_code: string | null;
  error_message: string | null;
}

/** The first run of a tenant that started at or after `since`. */
async function runSince(h: Harness, tenantId: string, since: Date): Promise<RunRow | undefined> {
  const rows = rowsOf<RunRow>(
    await h.database.db.execute(sql`
      select worker_id, status, started_at::text, finished_at::text, error_code, error_message
      from runs where tenant_id = ${tenantId} and started_at >= ${since.toISOString()}::timestamptz
      order by started_at limit 1`),
  );
  return rows[0];
}

/** Runs of these tenants in progress, by one worker. */
async function runningBy(h: Harness, tenantIds: readonly string[], workerId: string): Promise<number> {
  const [row] = rowsOf<{ n: number }>(
    await h.database.db.execute(sql`
      select count(*)::int as n from runs
      where status = 'running' and worker_id = ${workerId}
        and tenant_id in (${sql.join(
          tenantIds.map((id) => sql`${id}`),
          sql`, `,
        )})`),
  );
  return row?.n ?? 0;
}

/** "Run now" for one tenant, as the control plane records it; returns the request's time (the database's). */
async function runNow(h: Harness, tenantId: string): Promise<Date> {
  const [row] = rowsOf<{ at: string }>(
    await h.database.db.execute(sql`
      update tenant_schedules set next_run_at = now(), run_requested_at = now()
      where tenant_id = ${tenantId} returning run_requested_at::text as at`),
  );
  return new Date(row?.at ?? Date.now());
}

/** Nobody is due: each measurement makes due only the tenants it is about. */
async function parkAll(h: Harness): Promise<void> {
  await h.database.db.update(tenantSchedules).set({ nextRunAt: sql`now() + interval '1 day'` });
}

/** Polls `probe` every `everyMs` until it gives a value or `capMs` passes (then undefined). */
async function poll<T>(
  probe: () => Promise<T | undefined>,
  capMs: number,
  everyMs = 100,
): Promise<T | undefined> {
  const deadline = Date.now() + capMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined || Date.now() > deadline) return value;
    await sleep(everyMs);
  }
}

/** The line a dead process left about why: its fatal log line, else its last lines. */
function lastWords(tail: string): string {
  const lines = tail.split('\n').filter((l) => l.trim() !== '');
  const fatal = lines.find((l) => l.includes('"level":60')) ?? lines.slice(-3).join(' | ');
  return fatal.replace(/\s+/g, ' ').slice(0, 240);
}

async function tinyPageWorker(h: Harness, tenant: SeededTenant): Promise<string[]> {
  stage = `(a) worker against a 64 MiB page (${tenant.name})`;
  await parkAll(h);
  const worker = spawnWorker(
    'hostile-tiny',
    h.workerEnv({ WORKER_ID: `hostile-${tenant.agents[0]}` }),
    entries === undefined ? {} : { entry: entries.worker },
  );
  await worker.ready;
  const atStart = worker.peakRssKb();
  let peak = atStart ?? 0;
  const t0 = Date.now();
  const requested = await runNow(h, tenant.tenantId);
  const run = await poll(
    async () => {
      peak = Math.max(peak, worker.peakRssKb() ?? 0);
      if (!worker.alive) return null;
      const row = await runSince(h, tenant.tenantId, requested);
      return row?.finished_at ? row : undefined;
    },
    CAP_MS.tinyPage,
    50,
  );
  await sleep(500);
  peak = Math.max(peak, worker.peakRssKb() ?? 0);
  const survived = worker.alive;
  const elapsed = Date.now() - t0;
  const tail = worker.tail();
  worker.kill('SIGKILL');
  await worker.exited;
  const outcome = !survived
    ? `died after ${seconds(elapsed)}: ${lastWords(tail)}`
    : run === undefined || run === null
      ? `still alive, no finished run after ${seconds(CAP_MS.tinyPage)}`
      : `run ${run.status}${run.error_code ? ` ${run.error_code}` : ''} after ${seconds(elapsed)}`;
  const met = survived && peak / 1024 < GOAL.rssMb;
  return [
    `    worker  peak RSS (VmHWM) ${survived ? '' : '≥ '}${mb(peak)} (${mb(atStart)} when ready); survived: ${survived ? 'yes' : 'NO'}; ${outcome}`,
    `            goal < ${GOAL.rssMb} MB and alive: ${verdict(met)}`,
  ];
}

async function tinyPageApi(h: Harness, tenant: SeededTenant): Promise<string[]> {
  stage = `(a) API checking a key against a 64 MiB page (${tenant.name})`;
  const operatorKey = `op_${randomBytes(32).toString('base64url')}`;
  const api = spawnApi(
    {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      APP_ENV: 'local',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      DATABASE_URL: h.database.url,
      OPERATOR_API_KEY: operatorKey,
      MASTER_KEY: h.masterKey,
      AWS_ENDPOINT_URL: h.proxy.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_EC2_METADATA_DISABLED: 'true',
      // As deployed (infra/central): two malloc arenas, not one per compile thread.
      MALLOC_ARENA_MAX: '2',
    },
    entries === undefined ? {} : { entry: entries.api },
  );
  const url = await Promise.race([
    api.url,
    sleep(60_000).then(() => Promise.reject(new Error('API start timed out'))),
  ]);
  const call = (method: string, path: string, body: unknown) =>
    fetch(`${url}/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${operatorKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(CAP_MS.tinyPage),
    });
  const created = (await (await call('POST', '/tenants', { name: 'hostile bench' })).json()) as {
    tenant: { id: string };
  };
  const atStart = api.peakRssKb();
  let peak = atStart ?? 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, api.peakRssKb() ?? 0);
      await sleep(50);
    }
  })();
  const t0 = Date.now();
  const answer = await call('PUT', `/tenants/${created.tenant.id}/vaikora`, {
    apiKey: tenant.vaikoraKey,
    baseUrl: h.sim.baseUrl,
    agentIds: tenant.agents,
  }).then(
    async (res) => {
      const text = await res.text();
      const code = /"code"\s*:\s*"([A-Z_]+)"/.exec(text)?.[1];
      return `answered ${res.status}${code === undefined ? '' : ` ${code}`}`;
    },
    (err: unknown) => `no answer (${err instanceof Error ? err.message : String(err)})`,
  );
  const elapsed = Date.now() - t0;
  await sleep(500);
  sampling = false;
  await sampler;
  peak = Math.max(peak, api.peakRssKb() ?? 0);
  const survived = api.alive;
  const tail = api.tail();
  api.kill('SIGKILL');
  await api.exited;
  const met = survived && peak / 1024 < GOAL.rssMb;
  return [
    `    API     peak RSS (VmHWM) ${survived ? '' : '≥ '}${mb(peak)} (${mb(atStart)} when listening); survived: ${survived ? 'yes' : 'NO'}; PUT /v1/tenants/{id}/vaikora ${answer} after ${seconds(elapsed)}${survived ? '' : `; ${lastWords(tail)}`}`,
    `            goal < ${GOAL.rssMb} MB and alive: ${verdict(met)}`,
  ];
}

async function runNowBehindSlowTenants(
  h: Harness,
  slow: readonly SeededTenant[],
  healthy: SeededTenant,
): Promise<string[]> {
  stage = '(b) run-now behind slow tenants';
  await parkAll(h);
  const workerId = 'hostile-slots';
  const worker = spawnWorker(workerId, h.workerEnv({ WORKER_ID: workerId, WORKER_CONCURRENCY: '4' }));
  await worker.ready;
  const slowIds = slow.map((t) => t.tenantId);
  await makeDue(h, slowIds);
  const held = await poll(async () => {
    const n = await runningBy(h, slowIds, workerId);
    return n >= SLOW_TENANTS ? n : undefined;
  }, 30_000);
  const busy = held ?? (await runningBy(h, slowIds, workerId));
  const requested = await runNow(h, healthy.tenantId);
  const run = await poll(async () => {
    const row = await runSince(h, healthy.tenantId, requested);
    return row?.finished_at ? row : undefined;
  }, CAP_MS.runNow);
  const started = run ?? (await runSince(h, healthy.tenantId, requested));
  const survived = worker.alive;
  worker.kill('SIGKILL');
  await worker.exited;
  const wait = (at: string | null | undefined) =>
    at ? seconds(new Date(at).getTime() - requested.getTime()) : `> ${seconds(CAP_MS.runNow)} (not yet)`;
  const finishedMs = run?.finished_at ? new Date(run.finished_at).getTime() - requested.getTime() : Infinity;
  return [
    `  ${busy} of ${SLOW_TENANTS} slow runs in progress when asked (pages answered after ${SLOW_PAGE_MS} ms, client timeout ${VAIKORA_CLIENT_TIMEOUT_MS} ms, ${SLOW_PAGES} pages a run)${survived ? '' : '; the worker DIED'}`,
    `  run-now → run started ${wait(started?.started_at)}, finished ${wait(run?.finished_at)}${run ? ` (${run.status})` : ''}`,
    `  goal: finished < ${GOAL.runNowSeconds} s after the request: ${verdict(finishedMs < GOAL.runNowSeconds * 1000)}`,
  ];
}

async function takeoverAfterKill(h: Harness, tenant: SeededTenant): Promise<string[]> {
  stage = '(c) takeover after SIGKILL';
  await parkAll(h);
  const defaults = parseWorkerEnv({ MASTER_KEY: h.masterKey });
  const leaseTtl = defaults.ok ? `${defaults.env.LEASE_TTL_MS} ms` : 'unknown';
  const holder = spawnWorker('hostile-kill-a', h.workerEnv({ WORKER_ID: 'hostile-kill-a' }));
  await holder.ready;
  const requested = await runNow(h, tenant.tenantId);
  const holding = await poll(async () => {
    const row = await runSince(h, tenant.tenantId, requested);
    return row?.worker_id === 'hostile-kill-a' && row.status === 'running' ? row : undefined;
  }, 30_000);
  if (holding === undefined) {
    holder.kill('SIGKILL');
    return [
      `  the first worker never held the tenant within 30 s: not measured (${lastWords(holder.tail())})`,
    ];
  }
  const other = spawnWorker('hostile-kill-b', h.workerEnv({ WORKER_ID: 'hostile-kill-b' }));
  await other.ready;
  await sleep(1000);
  const killedAt = new Date();
  holder.kill('SIGKILL');
  await holder.exited;
  // The tenant is due the whole time (run-now every 5 s), so what is measured is the lease, not the schedule.
  let lastDue = 0;
  const run = await poll(
    async () => {
      if (Date.now() - lastDue >= 5_000) {
        lastDue = Date.now();
        await makeDue(h, [tenant.tenantId]);
      }
      const row = await runSince(h, tenant.tenantId, killedAt);
      return row !== undefined && row.worker_id !== 'hostile-kill-a' ? row : undefined;
    },
    CAP_MS.takeover,
    200,
  );
  other.kill('SIGKILL');
  await other.exited;
  const takenMs = run === undefined ? Infinity : new Date(run.started_at).getTime() - killedAt.getTime();
  return [
    `  default LEASE_TTL_MS ${leaseTtl}; the tenant was made due at the kill and every 5 s after`,
    `  SIGKILL → another worker's run started ${run === undefined ? `> ${seconds(CAP_MS.takeover)} (not yet)` : seconds(takenMs)}`,
    `  goal < ${GOAL.takeoverSeconds} s: ${verdict(takenMs < GOAL.takeoverSeconds * 1000)}`,
  ];
}

async function run(): Promise<void> {
  const t0 = performance.now();
  entries = await bundleEntries();
  const h = await startHarness({ sim: { seed: 4242, initialActionsPerAgent: 0 } });
  harness = h;
  stage = 'seeding tenants';
  const add = (key: string, agent: string, actions: number) => h.sim.store.addTenant(key, [agent], actions);
  add(KEYS.tiny, 'agt-tiny', 1);
  add(KEYS.tinyChunked, 'agt-tiny-chunked', 1);
  add(KEYS.healthy, 'agt-healthy', 30);
  add(KEYS.kill, 'agt-kill', 1000);
  for (const [i, key] of KEYS.slow.entries()) add(key, `agt-slow-${i}`, SLOW_PAGES * 100);
  h.sim.setOptions({
    perKey: {
      [KEYS.tiny]: { tinyRecordsPage: { bytes: TINY_PAGE_BYTES, page: 1, contentLength: true } },
      [KEYS.tinyChunked]: { tinyRecordsPage: { bytes: TINY_PAGE_BYTES, page: 1, contentLength: false } },
      [KEYS.kill]: { slowPageMs: KILL_PAGE_MS },
      ...Object.fromEntries(KEYS.slow.map((key) => [key, { slowPageMs: SLOW_PAGE_MS }])),
    },
  });
  let account = 700_000_000_000;
  const seed = (name: string, key: string, agent: string) =>
    h.seedTenant({
      name,
      accountId: String(account++),
      region: 'us-east-1',
      agents: [agent],
      vaikoraKey: key,
    });
  const tiny = await seed('with a Content-Length', KEYS.tiny, 'agt-tiny');
  const tinyChunked = await seed('chunked, no Content-Length', KEYS.tinyChunked, 'agt-tiny-chunked');
  const healthy = await seed('healthy', KEYS.healthy, 'agt-healthy');
  const kill = await seed('killed mid-run', KEYS.kill, 'agt-kill');
  const slow: SeededTenant[] = [];
  for (const [i, key] of KEYS.slow.entries()) slow.push(await seed(`slow ${i}`, key, `agt-slow-${i}`));
  await parkAll(h);
  console.log(`harness up and 9 tenants seeded in ${seconds(performance.now() - t0)}`);

  const { records } = tinyRecordsLayout(TINY_PAGE_BYTES, 1, 100);
  console.log(
    `a. Vaikora answers a ${TINY_PAGE_BYTES / MiB} MiB page of ${records.toLocaleString('en-US')} tiny records ({}); worker and API bundled as deployed (esbuild, as infra/central), Node ${process.version}`,
  );
  for (const variant of [tiny, tinyChunked]) {
    const lines = [
      `  ${variant.name}:`,
      ...(await tinyPageWorker(h, variant)),
      ...(await tinyPageApi(h, variant)),
    ];
    for (const line of lines) console.log(line);
  }
  const b = [
    `b. a healthy tenant's run-now while ${SLOW_TENANTS} slow tenants run on one worker (WORKER_CONCURRENCY=4)`,
    ...(await runNowBehindSlowTenants(h, slow, healthy)),
  ];
  for (const line of b) console.log(line);
  const c = [
    'c. SIGKILL of a worker holding a tenant, until another worker runs that tenant',
    ...(await takeoverAfterKill(h, kill)),
  ];
  for (const line of c) console.log(line);
  const sim = h.sim.stats();
  console.log(
    `simulator (this process): peak RSS ${mb(process.resourceUsage().maxRSS)}, ${sim.streamed} answers streamed (${(sim.streamedBytes / MiB).toFixed(0)} MiB), ${sim.slowPages} slow pages`,
  );
  console.log(`total ${seconds(performance.now() - t0)}`);
}

async function cleanUp(): Promise<void> {
  await Promise.allSettled([killAllWorkers(), killAllApis()]);
  await harness?.close();
}

const deadline = new Promise<never>((_, reject) => {
  setTimeout(
    () => reject(new Error(`benchmark exceeded ${DEADLINE_MS / 1000} s during ${stage}`)),
    DEADLINE_MS,
  ).unref();
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void cleanUp().finally(() => process.exit(130));
  });
}
Promise.race([run(), deadline]).then(
  async () => {
    await cleanUp();
    process.exit(0);
  },
  async (err: unknown) => {
    console.error(`stopped during ${stage}: ${err instanceof Error ? err.message : String(err)}`);
    await cleanUp();
    process.exit(1);
  },
);
