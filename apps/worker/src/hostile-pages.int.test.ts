import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { vaikoraSettings } from '@vsh/db';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVERY_ACTION, type Harness, type SeededTenant, startHarness } from '../test/harness.ts';

/**
 * One bad answer in the middle of a sweep (ADR 0130): a proxy in front of the Vaikora simulator answers
 * some page requests itself. Each case seeds 300 actions over the last 6 hours (three full pages and
 * none more), runs the tenant once with one hostile answer, then once more cleanly, and checks that
 * every qualifying action reached Security Hub exactly once. Each failed on 780b5ac (100 or 200 lost,
 * both runs ok; or 1,000 requests a run and a cursor that never moved).
 */

/** What the proxy does with one list request; undefined = forward it unchanged. */
type Hook = (
  url: URL,
  n: number,
) => { status?: number; type?: string; body: string; chunked?: boolean } | { rewrite: URL } | undefined;

interface HostileProxy {
  readonly baseUrl: string;
  hook: Hook | undefined;
  requests: number;
  stop(): Promise<void>;
}

async function startHostileProxy(upstreamBase: string): Promise<HostileProxy> {
  const upstream = new URL(upstreamBase);
  const proxy: HostileProxy = {
    baseUrl: '',
    hook: undefined,
    requests: 0,
    stop: async () => undefined,
  };
  const forward = async (req: IncomingMessage, res: ServerResponse, target: URL) => {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (typeof v === 'string' && k !== 'host' && k !== 'connection') headers[k] = v;
    }
    const answer = await fetch(target, { headers });
    const body = Buffer.from(await answer.arrayBuffer());
    res.writeHead(answer.status, {
      'content-type': answer.headers.get('content-type') ?? 'application/json',
      ...(answer.headers.get('retry-after')
        ? { 'retry-after': answer.headers.get('retry-after') ?? '' }
        : {}),
    });
    res.end(body);
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://${upstream.host}`);
    const n = ++proxy.requests;
    const out = proxy.hook?.(url, n);
    const run = async () => {
      if (out === undefined) return forward(req, res, url);
      if ('rewrite' in out) return forward(req, res, out.rewrite);
      res.writeHead(out.status ?? 200, {
        'content-type': out.type ?? 'application/json',
        ...(out.chunked ? {} : { 'content-length': String(Buffer.byteLength(out.body)) }),
      });
      res.end(out.body);
    };
    run().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(proxy, {
    baseUrl: `http://127.0.0.1:${port}${upstream.pathname}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  });
}

const pageOf = (url: URL) => Number(url.searchParams.get('page') ?? '1');

describe('one bad answer in the middle of a sweep (ADR 0130)', () => {
  let h: Harness;
  let proxy: HostileProxy;
  let n = 0;

  beforeAll(async () => {
    h = await startHarness({ sim: { seed: 9001, initialActionsPerAgent: 0 } });
    proxy = await startHostileProxy(h.sim.baseUrl);
  });
  afterAll(async () => {
    await proxy?.stop();
    await h?.close();
  });

  /** A fresh tenant with 300 actions spread over the last 6 hours, reading Vaikora through the proxy. */
  async function tenantWithHistory(): Promise<SeededTenant> {
    n++;
    const key = `vk_test_probe_${n}`;
    const agent = `agt-probe-${n}`;
    h.sim.store.addTenant(key, [agent], 300);
    const tenant = await h.seedTenant({
      name: `probe-${n}`,
      accountId: `32000000000${n}`,
      region: 'us-east-1',
      agents: [agent],
      vaikoraKey: key,
      thresholds: { ...EVERY_ACTION, minRiskScore: null },
    });
    await h.database.db
      .update(vaikoraSettings)
      .set({ baseUrl: proxy.baseUrl })
      .where(eq(vaikoraSettings.tenantId, tenant.tenantId));
    return tenant;
  }

  async function lostAfterTwoRuns(
    hostile: Hook,
  ): Promise<{ missing: string[]; expected: number; first: string; second: string }> {
    const tenant = await tenantWithHistory();
    const runtime = h.runtime();
    try {
      let fired = false;
      proxy.hook = (url, i) => {
        if (fired) return undefined;
        const out = hostile(url, i);
        if (out !== undefined) fired = true;
        return out;
      };
      const first = await runtime.run(tenant.tenantId);
      proxy.hook = undefined;
      expect(fired).toBe(true);
      const second = await runtime.run(tenant.tenantId);
      const expected = h.expectedFindingIds(tenant, 0);
      const stored = new Set(h.actionFindings(tenant.accountId, tenant.region).map((f) => String(f.Id)));
      const describe = (r: typeof first) =>
        r.kind === 'ran' ? `${r.summary.status} ${r.summary.errorCode ?? ''}` : r.kind;
      return {
        missing: [...expected].filter((id) => !stored.has(id)),
        expected: expected.size,
        first: describe(first),
        second: describe(second),
      };
    } finally {
      await runtime.close();
    }
  }

  it('a 200 with an HTML body (a CDN/maintenance page) once on page 2 loses no action', {
    timeout: 60_000,
  }, async () => {
    const result = await lostAfterTwoRuns((url) =>
      pageOf(url) === 2
        ? { type: 'text/html', body: '<html><body><h1>Service temporarily unavailable</h1></body></html>' }
        : undefined,
    );
    expect(result.expected).toBe(300);
    expect(result.missing.length).toBe(0);
  });

  it('a truncated JSON body (chunked, cleanly ended) once on page 2 loses no action', {
    timeout: 60_000,
  }, async () => {
    const result = await lostAfterTwoRuns((url) =>
      pageOf(url) === 2
        ? { chunked: true, body: '{"actions":[{"id":"act-cut","timestamp":"2026-01-01T00:00:00Z"},{"id":"a' }
        : undefined,
    );
    expect(result.missing.length).toBe(0);
  });

  it('an empty page (with total saying more) once on page 2 loses no action', {
    timeout: 60_000,
  }, async () => {
    const result = await lostAfterTwoRuns((url) =>
      pageOf(url) === 2 ? { body: '{"actions":[],"total":300,"page":2,"per_page":100}' } : undefined,
    );
    expect(result.missing.length).toBe(0);
  });

  it('notices a server that ignores `page` (every page is page 1) within a few requests, and loses nothing', {
    timeout: 120_000,
  }, async () => {
    const tenant = await tenantWithHistory();
    const streamId = tenant.streamIds[tenant.agents[0] ?? ''] ?? '';
    const runtime = h.runtime();
    try {
      // A clean run first: the stream has a cursor.
      await runtime.run(tenant.tenantId);
      const cursorBefore = (await runtime.state.getCursor(tenant.tenantId, streamId))?.positionMs;
      h.sim.store.append(tenant.vaikoraKey, tenant.agents[0] ?? '', 20);
      proxy.hook = (url) => {
        if (pageOf(url) === 1) return undefined;
        const rewrite = new URL(url);
        rewrite.searchParams.set('page', '1');
        return { rewrite };
      };
      const before = proxy.requests;
      const started = performance.now();
      const run = await runtime.run(tenant.tenantId);
      const requests = proxy.requests - before;
      const cursorAfter = (await runtime.state.getCursor(tenant.tenantId, streamId))?.positionMs;
      const summary = run.kind === 'ran' ? run.summary : null;
      // Noticed at page 2, which says it is page 1: what page 1 held is sent, the run is partial with a
      // clear error, and no cursor moves.
      expect(requests).toBeLessThanOrEqual(5);
      expect(summary).toMatchObject({ status: 'partial' });
      expect(summary?.errorMessage).toContain('it does not page as asked');
      expect(cursorAfter).toBe(cursorBefore);
      expect(performance.now() - started).toBeLessThan(30_000);

      // Once it pages again, the next run sends the 20 new actions, each once.
      proxy.hook = undefined;
      const next = await runtime.run(tenant.tenantId);
      expect(next.kind === 'ran' && next.summary.status).toBe('ok');
      const expected = h.expectedFindingIds(tenant, 0);
      const stored = h.actionFindings(tenant.accountId, tenant.region).map((f) => String(f.Id));
      expect(new Set(stored)).toEqual(expected);
      expect(stored).toHaveLength(expected.size);
    } finally {
      proxy.hook = undefined;
      await runtime.close();
    }
  });
});
