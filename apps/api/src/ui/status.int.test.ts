import {
  escapeControlCharacters,
  keepRejectedRecords,
  newId,
  type RejectionLogger,
  type RejectionToKeep,
  runs,
} from '@vsh/db';
import { XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { useHarness } from '../testing/harness.ts';

const api = useHarness();

const failOnLog: RejectionLogger = {
  warn: (fields) => expect.fail(`the database refused a rejected record: ${JSON.stringify(fields)}`),
  error: (fields) => expect.fail(`a rejected record was not kept: ${JSON.stringify(fields)}`),
};

/** A tenant's web session, signed in with its key through the sign-in form: GETs with its cookie. */
async function signedIn(
  key: string,
): Promise<(path: string, headers?: Record<string, string>) => Promise<Response>> {
  let cookie = '';
  const keep = (res: Response) => {
    for (const line of res.headers.getSetCookie()) cookie = `${cookie}; ${line.split(';')[0]}`;
  };
  const login = await api.app.request('/ui/login');
  keep(login);
  const csrf = /name="csrf" value="([^"]+)"/.exec(await login.text())?.[1] ?? '';
  const signedIn = await api.app.request('/ui/login', {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf, key }).toString(),
  });
  keep(signedIn);
  expect(signedIn.status).toBe(303);
  return async (path, headers = {}) => api.app.request(path, { headers: { ...headers, cookie } });
}

/** The status page of a tenant, signed in with its key. */
async function statusPage(key: string): Promise<string> {
  const page = await (await signedIn(key))('/ui/status');
  expect(page.status).toBe(200);
  return page.text();
}

describe('the status page and rejected records', () => {
  it('says which runs were quiet (ADR 0136), in the status API, the runs list and the runs table', async () => {
    const { tenantId, key } = await api.createTenant();
    const started = Date.now() - 120_000;
    // Ids as the worker makes them, from the run's start: the runs list is newest first.
    const [busyRun, quietRun] = [newId('run', new Date(started)), newId('run', new Date(started + 60_000))];
    await api.db.insert(runs).values([
      {
        id: busyRun,
        tenantId,
        status: 'ok',
        startedAt: new Date(started),
        finishedAt: new Date(started + 1_000),
        actionsRead: 12,
        findingsImported: 12,
      },
      {
        id: quietRun,
        tenantId,
        status: 'ok',
        quiet: true,
        startedAt: new Date(started + 60_000),
        finishedAt: new Date(started + 61_000),
        actionsRead: 12,
      },
    ]);

    const status = await api.request('GET', `/v1/tenants/${tenantId}/status`, { key });
    const list = await api.request('GET', `/v1/tenants/${tenantId}/runs`, { key });
    const html = await statusPage(key);

    expect(status.status).toBe(200);
    expect(status.body.lastRun).toMatchObject({ id: quietRun, quiet: true });
    expect(list.body.items.map((r: { id: string; quiet: boolean }) => [r.id, r.quiet])).toEqual([
      [quietRun, true],
      [busyRun, false],
    ]);
    const row = (id: string) => new RegExp(`<tr data-run="${id}">[\\s\\S]*?</tr>`).exec(html)?.[0] ?? '';
    expect(row(quietRun)).toContain('nothing new in Vaikora: nothing written or sent');
    expect(row(busyRun)).not.toContain('data-quiet');
  });

  it('leads a new tenant with the checklist, in the part of the page that updates by itself', async () => {
    const { key } = await api.createTenant();
    const get = await signedIn(key);

    const page = await (await get('/ui/status')).text();
    const live = await (await get('/ui/status/live')).text();

    expect(page).toMatch(
      /<div id="live"[^>]*>\s*<section class="card" aria-labelledby="checklist-h" id="checklist">/,
    );
    expect(page).toContain('Get started: 0 of 3 done');
    expect(live).toContain('id="checklist"');
  });

  it('keeps the newest rejected records live with the count above them, and leaves older pages still', async () => {
    const { tenantId, key } = await api.createTenant();
    const get = await signedIn(key);
    const before = await (await get('/ui/status/live')).text();
    const runId = newId('run');
    await api.db
      .insert(runs)
      .values({ id: runId, tenantId, status: 'ok', finishedAt: new Date(), recordsRejected: 21 });
    await keepRejectedRecords(
      api.db,
      {
        tenantId,
        runId,
        rejections: Array.from({ length: 21 }, (_, i) => ({
          scope: 'agent:agt-1',
          destinationId: null,
          actionId: `act-late-${i}`,
          stage: 'parse' as const,
          code: 'MISSING_TIMESTAMP',
          reason: 'arrived after the page was loaded',
          raw: { id: `act-late-${i}` },
        })),
      },
      failOnLog,
    );

    const after = await (await get('/ui/status/live')).text();
    const olderLink = /href="(\/ui\/status\?rejected=[^"#]+)/.exec(after)?.[1] ?? 'no link';
    const older = await (await get(olderLink.replaceAll('&amp;', '&'))).text();

    expect(before).toContain('No rejected record.');
    expect(after).toMatch(/<dt>Records rejected<\/dt><dd>21 <small>/);
    expect(after).toContain('arrived after the page was loaded');
    expect(older).toMatch(/data-live-url="\/ui\/status\/live\?rejected=static"/);
    expect((await (await get('/ui/status/live?rejected=static')).text()).includes('id="rejected-h"')).toBe(
      false,
    );
  });

  it('counts distinct records, shows how often each was seen and its text escaped, and never SQL', async () => {
    const { tenantId, key } = await api.createTenant();
    const hostile: RejectionToKeep = {
      scope: 'agent:agt-1',
      destinationId: null,
      actionId: 'act\u0000<b>',
      stage: 'parse',
      code: 'MISSING_TIMESTAMP',
      reason: 'no timestamp \u0000 <i>here</i>',
      raw: { id: 'act\u0000<b>', note: '\ud800\u0085</pre><script>alert(1)</script>' },
    };
    const other: RejectionToKeep = {
      ...hostile,
      actionId: null,
      reason: 'another one',
      raw: { id: 'other' },
    };
    // Cut for display right inside a surrogate pair: the page must not show half of it.
    const longId: RejectionToKeep = { ...other, actionId: `${'a'.repeat(47)}😀tail`, raw: { id: 'long' } };
    for (let run = 0; run < 3; run++) {
      const runId = newId('run');
      await api.db
        .insert(runs)
        .values({ id: runId, tenantId, status: 'ok', finishedAt: new Date(), recordsRejected: 2 });
      await keepRejectedRecords(api.db, { tenantId, runId, rejections: [hostile, other, longId] }, failOnLog);
    }

    const html = await statusPage(key);

    expect(html).toMatch(/<dt>Records rejected<\/dt><dd>3 <small>distinct records/);
    expect(html).toContain(`>${'a'.repeat(47)}…</code>`);
    expect(html).toContain('<td class="num">3</td>');
    expect(html).toContain('no timestamp \\u0000 &lt;i&gt;here&lt;/i&gt;');
    expect(html).toContain('\\u0000&lt;b&gt;');
    expect(html).toContain('\\ud800\\u0085&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('<script>alert(1)');
    expect(html).not.toMatch(/insert into|Failed query|params:/i);
    const withoutLayout = html.replaceAll('\n', '').replaceAll('\t', '');
    expect(escapeControlCharacters(withoutLayout)).toBe(withoutLayout);
  });
});

const finding = (id: string, time: string) => ({
  id,
  title: `Risky action ${id}`,
  severity: 'HIGH',
  time,
  region: 'eu-west-1',
});

describe('the live status page', () => {
  it('serves a live fragment that shows a new finding after a run, newest first, with counts that add up and valid SVG charts', async () => {
    const { tenantId, key } = await api.createTenant('Live Corp');
    const created = await api.request('POST', `/v1/tenants/${tenantId}/destinations`, {
      body: { accountId: '123456789012', regions: ['eu-west-1'] },
    });
    expect(created.status).toBe(201);
    const destinationId: string = created.body.destination.id;
    const get = await signedIn(key);
    const page = await (await get('/ui/status')).text();
    const before = await get('/ui/status/live');
    const etag = before.headers.get('etag') ?? '';
    const unchanged = await get('/ui/status/live', { 'if-none-match': etag });
    const now = Date.now();
    // Two runs: the older one sent a newer finding than the first finding of the later one.
    await api.db.insert(runs).values({
      id: newId('run'),
      tenantId,
      status: 'ok',
      startedAt: new Date(now - 120_000),
      finishedAt: new Date(now - 110_000),
      findingsImported: 1,
      recentFindings: [finding('vaikora-act-b', new Date(now - 130_000).toISOString())],
      destinationStats: {
        [destinationId]: { read: 1, alreadySent: 0, skipped: 0, rejected: 0, imported: 1, notSent: 0 },
      },
    });
    await api.db.insert(runs).values({
      id: newId('run'),
      tenantId,
      status: 'partial',
      startedAt: new Date(now - 60_000),
      finishedAt: new Date(now - 50_000),
      actionsRead: 283,
      findingsImported: 2,
      errorCode: 'IMPORT_INCOMPLETE',
      errorMessage: 'Security Hub did not take some findings yet: throttled',
      recentFindings: [
        finding('vaikora-act-a', new Date(now - 200_000).toISOString()),
        finding('vaikora-act/c:1', new Date(now - 70_000).toISOString()),
      ],
      destinationStats: {
        [destinationId]: { read: 283, alreadySent: 263, skipped: 9, rejected: 8, imported: 2, notSent: 1 },
      },
    });
    await api.db.insert(runs).values({
      id: newId('run'),
      tenantId,
      status: 'partial',
      startedAt: new Date(now - 300_000),
      finishedAt: new Date(now - 290_000),
    });

    const after = await get('/ui/status/live');
    const fragment = await after.text();

    expect(page).toMatch(/<div id="live" data-live-url="\/ui\/status\/live">/);
    expect(page).toMatch(/<script nonce="[^"]+">[\s\S]*visibilitychange/);
    expect(before.status).toBe(200);
    expect(unchanged.status).toBe(304);
    expect(after.status).toBe(200);
    expect(after.headers.get('etag')).not.toBe(etag);
    expect(fragment.startsWith('<div id="live"')).toBe(true);
    expect(fragment).not.toContain('<html');
    const order = [...fragment.matchAll(/<tr data-finding="([^"]+)">/g)].map((m) => m[1]);
    expect(order).toEqual(['vaikora-act/c:1', 'vaikora-act-b', 'vaikora-act-a']);
    expect(fragment).toContain(
      'href="https://eu-west-1.console.aws.amazon.com/securityhub/home?region=eu-west-1#/findings?search=Id%3D%255Coperator%255C%253AEQUALS%255C%253Avaikora-act%252Fc%253A1"',
    );
    expect(fragment).toContain(
      '283 actions read; 263 already handled by an earlier run; 9 below your thresholds; 8 rejected (see Rejected records); 2 imported; 1 not sent yet (the next run tries again)',
    );
    expect(263 + 9 + 8 + 2 + 1).toBe(283);
    expect(fragment).toContain('<code>IMPORT_INCOMPLETE</code> Security Hub did not take some findings yet');
    expect(fragment).toContain('no reason was recorded');
    expect(fragment).not.toMatch(/<td><span class="muted">none<\/span><\/td>\s*<\/tr>\s*<tr data-run/);
    const svgs = fragment.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
    expect(svgs).toHaveLength(2);
    for (const svg of svgs) {
      expect(XMLValidator.validate(svg)).toBe(true);
      expect(svg).toMatch(/role="img" aria-labelledby="chart-\w+-title chart-\w+-desc"/);
      expect(svg).toMatch(/<title id="chart-\w+-title">/);
    }
    expect(svgs[0]).toContain('3 findings imported');
    expect(fragment).toMatch(/<table id="activity">/);
  });

  it('sends a visitor without a session to sign in instead of serving the fragment', async () => {
    const res = await api.app.request('/ui/status/live');

    expect(res.status).toBe(303);
  });
});
