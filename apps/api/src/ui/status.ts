import {
  escapeControlCharacters,
  type RecentFinding,
  type RejectedRecord,
  type Run,
  type RunStatus,
  type Tenant,
} from '@vsh/db';
import type { Hono } from 'hono';
import { html } from 'hono/html';
import type { ApiDeps } from '../deps.ts';
import { tenantStatus } from '../routes/status/get-status.ts';
import { rawTruncated, rejectedPage } from '../routes/status/list-rejected-records.ts';
import { requestRun } from '../routes/status/run-now.ts';
import { field, render, sessionOf, tenantFor, tenantQuery, type UiContext, type UiEnv } from './context.ts';
import { findingsOf, type RejectedSummary, recentRuns, rejectedSince } from './data.ts';
import { csrfField, duration, type Markup, pill, type Tone, when } from './layout.ts';
import { destinationPill } from './onboarding.ts';

const RUN_PILLS: Record<RunStatus, [Tone, string]> = {
  ok: ['ok', 'OK'],
  partial: ['warn', 'Partial'],
  failed: ['bad', 'Failed'],
  running: ['neutral', 'Running'],
};

/** The pill of a run status. */
export function runPill(status: RunStatus): Markup {
  const [tone, label] = RUN_PILLS[status];
  return pill(tone, label);
}

function severityPill(severity: string): Markup {
  const label = severity.charAt(0).toUpperCase() + severity.slice(1).toLowerCase();
  const upper = severity.toUpperCase();
  const tone: Tone =
    upper === 'CRITICAL' || upper === 'HIGH' ? 'bad' : upper === 'MEDIUM' ? 'warn' : 'neutral';
  return pill(tone, label);
}

type Status = Awaited<ReturnType<typeof tenantStatus>>;

function statusBody(
  c: UiContext,
  tenant: Tenant,
  status: Status,
  runList: Run[],
  findings: RecentFinding[],
  rejected: { items: RejectedRecord[]; nextCursor: string | null },
  rejectedCounts: RejectedSummary,
  o: { flash: string | undefined; olderThan: boolean },
): Markup {
  const q = tenantQuery(c, tenant);
  const sep = q === '' ? '?' : '&';
  const accounts = new Map(status.destinations.map((d) => [d.id, d.accountId]));
  return html`<div class="row between">
  <div><h1>Status</h1><p class="lede">What the connector is doing for ${tenant.name}. Counts cover the last ${status.windowHours} hours.</p></div>
  <form method="post" action="/ui/status/run-now">
    ${csrfField(sessionOf(c).csrfToken)}${sessionOf(c).principal.kind === 'operator' ? html`<input type="hidden" name="tenant" value="${tenant.id}">` : ''}
    <button type="submit" class="secondary" id="run-now">Run now</button>
  </form>
</div>
<div role="status" aria-live="polite">${o.flash === undefined ? '' : html`<p class="alert ok">${o.flash}</p>`}</div>
<dl class="grid" aria-label="Summary">
  <div class="stat"><dt>Last run</dt><dd>${status.lastRun === null ? html`<span class="muted">none yet</span>` : html`${runPill(status.lastRun.status)} <small>${when(status.lastRun.startedAt)}</small>`}</dd></div>
  <div class="stat"><dt>Lag behind Vaikora</dt><dd>${duration(status.cursorLagSeconds)}</dd></div>
  <div class="stat"><dt>Findings imported</dt><dd>${status.counts.imported}</dd></div>
  <div class="stat"><dt>Records rejected</dt><dd>${rejectedCounts.total} <small>distinct records, each counted once however often it was read again</small></dd></div>
  <div class="stat"><dt>Actions skipped</dt><dd>${status.counts.skipped} <small>below thresholds</small></dd></div>
  <div class="stat"><dt>Runs</dt><dd>${status.counts.runs} <small>${status.counts.failedRuns} failed</small></dd></div>
</dl>
<section class="card" aria-labelledby="vaikora-h">
  <h2 id="vaikora-h">Vaikora connection</h2>
  <dl class="kv">
    <dt>State</dt><dd>${status.vaikora.configured ? (status.vaikora.lastError === null ? pill('ok', 'Connected') : pill('warn', 'Error')) : pill('neutral', 'Not connected')}</dd>
    <dt>Verified</dt><dd>${when(status.vaikora.verifiedAt)}</dd>
    ${status.vaikora.lastError === null ? '' : html`<dt>Last error</dt><dd>${status.vaikora.lastError}</dd>`}
    <dt>Next run</dt><dd>${when(status.schedule?.nextRunAt)}</dd>
  </dl>
</section>
<section class="card" aria-labelledby="destinations-h">
  <div class="row between"><h2 id="destinations-h">Destinations</h2><a href="/ui/onboarding${q}">Add or verify an AWS account</a></div>
  ${
    status.destinations.length === 0
      ? html`<p class="empty">No AWS account yet. <a href="/ui/onboarding${q}">Add one</a>.</p>`
      : html`<div class="table-wrap"><table id="destinations">
<caption class="sr-only">Destinations, with the last ${status.windowHours} hours of counts (rejected: distinct records)</caption>
<thead><tr><th scope="col">Account</th><th scope="col">Regions</th><th scope="col">State</th><th scope="col" class="num">Imported</th><th scope="col" class="num" title="Distinct records">Rejected</th><th scope="col" class="num">Skipped</th><th scope="col" class="num">Lag</th><th scope="col">Last run</th><th scope="col">Last error</th></tr></thead>
<tbody>${status.destinations.map(
          (d) => html`<tr>
<th scope="row"><code>${d.accountId}</code></th><td>${d.regions.join(', ')}</td><td>${destinationPill(d.state)}</td>
<td class="num">${d.counts.imported}</td><td class="num">${rejectedCounts.byDestination.get(d.id) ?? 0}</td><td class="num">${d.counts.skipped}</td>
<td class="num">${duration(d.cursorLagSeconds)}</td>
<td>${d.lastRun === null ? html`<span class="muted">—</span>` : html`${runPill(d.lastRun.status)} ${when(d.lastRun.startedAt)}`}</td>
<td>${d.lastRunError ?? d.lastError ?? html`<span class="muted">none</span>`}</td>
</tr>`,
        )}</tbody></table></div>`
  }
</section>
<section class="card" aria-labelledby="runs-h">
  <h2 id="runs-h">Recent runs</h2>
  ${
    runList.length === 0
      ? html`<p class="empty">No run yet. Use “Run now” or wait for the schedule.</p>`
      : html`<div class="table-wrap"><table id="runs">
<caption class="sr-only">The latest ${runList.length} runs, newest first</caption>
<thead><tr><th scope="col">Started</th><th scope="col">Status</th><th scope="col" class="num">Read</th><th scope="col" class="num">Imported</th><th scope="col" class="num">Skipped</th><th scope="col" class="num">Rejected</th><th scope="col" class="num">Throttles</th><th scope="col" class="num">Lag</th><th scope="col">Error</th></tr></thead>
<tbody>${runList.map(
          (run) => html`<tr>
<th scope="row">${when(run.startedAt)}</th><td>${runPill(run.status)}</td>
<td class="num">${run.actionsRead}</td><td class="num">${run.findingsImported}</td><td class="num">${run.actionsSkipped}</td>
<td class="num">${run.recordsRejected}</td><td class="num">${run.throttles}</td><td class="num">${duration(run.lagSeconds)}</td>
<td>${run.errorCode === null ? html`<span class="muted">none</span>` : html`<code>${run.errorCode}</code> ${run.errorMessage ?? ''}`}</td>
</tr>`,
        )}</tbody></table></div>`
  }
</section>
<section class="card" aria-labelledby="findings-h">
  <h2 id="findings-h">Recent findings sent to Security Hub</h2>
  ${
    findings.length === 0
      ? html`<p class="empty">No finding sent by the recent runs.</p>`
      : html`<div class="table-wrap"><table id="findings">
<caption class="sr-only">Findings the recent runs imported, newest run first</caption>
<thead><tr><th scope="col">Time</th><th scope="col">Severity</th><th scope="col">Title</th><th scope="col">Region</th><th scope="col">Finding id</th></tr></thead>
<tbody>${findings.map(
          (f) =>
            html`<tr><td>${when(f.time)}</td><td>${severityPill(f.severity)}</td><th scope="row">${f.title}</th><td class="nowrap">${f.region}</td><td><code>${f.id}</code></td></tr>`,
        )}</tbody></table></div>`
  }
</section>
<section class="card" aria-labelledby="rejected-h">
  <h2 id="rejected-h">Rejected records</h2>
  <p class="muted">Records from Vaikora that could not become findings, with the reason. They do not stop ingestion. Each is listed once per stream; a record read again by a later run counts as seen again.</p>
  ${
    rejected.items.length === 0
      ? html`<p class="empty">${o.olderThan ? 'No older rejected record.' : 'No rejected record.'}</p>`
      : html`<div class="table-wrap"><table id="rejected">
<caption class="sr-only">Rejected records, each once per stream, most recently seen first</caption>
<thead><tr><th scope="col">Last seen</th><th scope="col" class="num">Times seen</th><th scope="col">First seen</th><th scope="col">Stage</th><th scope="col">Code</th><th scope="col">Reason</th><th scope="col">Action</th><th scope="col">Account</th><th scope="col">Record</th></tr></thead>
<tbody>${rejected.items.map(
          (
            r,
          ) => html`<tr><th scope="row">${when(r.lastSeenAt)}</th><td class="num">${r.occurrences}</td><td>${when(r.createdAt)}</td><td>${r.stage}</td><td><code class="nowrap">${shown(r.code, 100)}</code></td><td>${shown(r.reason, 500)}</td>
<td>${r.actionId === null ? html`<span class="muted">—</span>` : html`<code title="${shown(r.actionId, 200)}">${shown(r.actionId, 48)}</code>`}</td>
<td>${r.destinationId === null ? html`<span class="muted">—</span>` : (accounts.get(r.destinationId) ?? '—')}</td>
<td>${rawCell(r)}</td></tr>`,
        )}</tbody></table></div>`
  }
  <nav class="pager" aria-label="Rejected records pages">
    ${o.olderThan ? html`<a href="/ui/status${q}#rejected-h">Newest</a>` : ''}
    ${rejected.nextCursor === null ? '' : html`<a href="/ui/status${q}${sep}rejected=${encodeURIComponent(rejected.nextCursor)}#rejected-h">Older records</a>`}
  </nav>
</section>`;
}

const PAGE_SIZE = 20;

/**
 * A stored text for display: control characters and lone surrogates as `\u` escapes (rows kept before
 * ADR 0033 may hold them raw), cut to `max` characters without splitting a pair. HTML escaping is the template's.
 */
function shown(value: string, max: number): string {
  const safe = escapeControlCharacters(value);
  if (safe.length <= max) return safe;
  const high = safe.charCodeAt(max - 1);
  return `${safe.slice(0, high >= 0xd800 && high <= 0xdbff ? max - 1 : max)}…`;
}

/** A rejected record's kept text, folded, with its size; or why there is none. */
function rawCell(r: RejectedRecord): Markup {
  if (r.raw === null) {
    return html`<span class="muted">${r.rawUnstoredReason === null ? '—' : shown(r.rawUnstoredReason, 200)}</span>`;
  }
  const size = `${r.rawBytes ?? 0} bytes${rawTruncated(r) ? ', first 8 KiB shown' : ''}`;
  return html`<details><summary>${size}</summary><pre>${escapeControlCharacters(r.raw)}</pre></details>`;
}

/** The tenant status page and its "Run now" button. */
export function registerStatusRoutes(ui: Hono<UiEnv>, deps: ApiDeps): void {
  ui.get('/status', async (c) => {
    const tenant = await tenantFor(c, c.req.query('tenant'));
    if (tenant === undefined) return c.redirect('/ui/operator', 303);
    const cursor = c.req.query('rejected');
    const [status, runList, rejected] = await Promise.all([
      tenantStatus(deps, tenant),
      recentRuns(deps.db, tenant.id, 10),
      rejectedPage(deps.db, tenant.id, cursor === '' ? undefined : cursor, PAGE_SIZE),
    ]);
    const since = new Date(deps.clock().getTime() - status.windowHours * 3_600_000);
    const rejectedCounts = await rejectedSince(deps.db, tenant.id, since);
    return render(c, {
      title: 'Status',
      active: 'status',
      tenant,
      body: statusBody(c, tenant, status, runList, findingsOf(runList, 25), rejected, rejectedCounts, {
        flash:
          c.req.query('ran') === '1'
            ? 'Run requested. A worker picks it up within seconds; reload to see it.'
            : undefined,
        olderThan: cursor !== undefined && cursor !== '',
      }),
    });
  });

  ui.post('/status/run-now', async (c) => {
    const form = await c.req.parseBody();
    const tenant = await tenantFor(c, field(form, 'tenant', 64) || undefined);
    if (tenant === undefined) return c.redirect('/ui/operator', 303);
    await requestRun(deps, { principal: sessionOf(c).principal, requestId: c.get('requestId') }, tenant);
    const q = tenantQuery(c, tenant);
    return c.redirect(`/ui/status${q}${q === '' ? '?' : '&'}ran=1`, 303);
  });
}
