import {
  escapeControlCharacters,
  keepRejectedRecords,
  newId,
  type RejectionLogger,
  type RejectionToKeep,
  runs,
} from '@vsh/db';
import { describe, expect, it } from 'vitest';
import { useHarness } from '../testing/harness.ts';

const api = useHarness();

const failOnLog: RejectionLogger = {
  warn: (fields) => expect.fail(`the database refused a rejected record: ${JSON.stringify(fields)}`),
  error: (fields) => expect.fail(`a rejected record was not kept: ${JSON.stringify(fields)}`),
};

/** The status page of a tenant, signed in with its key through the sign-in form. */
async function statusPage(key: string): Promise<string> {
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
  const page = await api.app.request('/ui/status', { headers: { cookie } });
  expect(page.status).toBe(200);
  return page.text();
}

describe('the status page and rejected records', () => {
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
