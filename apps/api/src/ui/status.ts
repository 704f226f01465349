import { createHash } from 'node:crypto';
import { HEALTH_LABELS, type HealthStatus, partitionOfRegion } from '@vsh/core';
import {
  type DestinationRunStats,
  escapeControlCharacters,
  type RecentFinding,
  type RejectedRecord,
  type Run,
  type RunStatus,
  type Tenant,
} from '@vsh/db';
import type { Hono } from 'hono';
import { html, raw } from 'hono/html';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { iso } from '../services/common.ts';
import { type DestinationForecast, type TenantForecast, tenantForecast } from '../services/forecast.ts';
import type { Health } from '../services/health.ts';
import {
  activityHours,
  liveVersion,
  rawTruncated,
  rejectedPage,
  requestRun,
  statusFacts,
  type TenantStatus,
  WINDOW_HOURS,
} from '../services/status.ts';
import { activityCharts } from './chart.ts';
import { type Checklist, checklistCard, checklistFrom } from './checklist.ts';
import {
  field,
  pageActor,
  render,
  sessionOf,
  tenantFor,
  tenantQuery,
  type UiContext,
  type UiEnv,
} from './context.ts';
import {
  type ActivityBucket,
  activityOf,
  findingsOf,
  type RejectedSummary,
  recentRuns,
  rejectedSince,
} from './data.ts';
import { csrfField, duration, type Markup, pill, type Tone, when } from './layout.ts';
import { destinationPill } from './onboarding.ts';
import { orgAccountsSection } from './org-accounts.ts';

/** How often an open status page asks for fresh numbers. */
const LIVE_POLL_MS = 5000;

const RUN_PILLS: Record<RunStatus, [Tone, string]> = {
  ok: ['ok', 'OK'],
  partial: ['warn', 'Partial'],
  failed: ['bad', 'Failed'],
  running: ['neutral', 'Running'],
};

const HEALTH_TONES: Record<HealthStatus, Tone> = {
  failing: 'bad',
  attention: 'warn',
  setup: 'neutral',
  healthy: 'ok',
  offboarded: 'neutral',
};

/** The pill of a shared health word (ADR 0100); `data-health` carries the word for tests and scripts. */
export function healthPill(status: HealthStatus): Markup {
  return html`<span data-health="${status}">${pill(HEALTH_TONES[status], HEALTH_LABELS[status])}</span>`;
}

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

type Status = TenantStatus;

/**
 * The Security Hub console's findings list filtered on one finding id. The console keeps its filter in the
 * hash as `search=Id=\operator\:EQUALS\:<id>`, the value URL-encoded and the whole `search` encoded again
 * (the form the console itself writes when you filter on Id; see ADR 0100). GovCloud and China have their
 * own console hosts.
 */
export function securityHubFindingUrl(region: string, findingId: string): string {
  const partition = partitionOfRegion(region);
  const host =
    partition === 'aws-us-gov'
      ? 'console.amazonaws-us-gov.com'
      : partition === 'aws-cn'
        ? 'console.amazonaws.cn'
        : `${region}.console.aws.amazon.com`;
  const search = encodeURIComponent(`Id=${encodeURIComponent(`\\operator\\:EQUALS\\:${findingId}`)}`);
  return `https://${host}/securityhub/home?region=${encodeURIComponent(region)}#/findings?search=${search}`;
}

/**
 * What one run did for one destination in plain words, parts that add up to what it read (ADR 0100);
 * null for runs recorded before the worker itemised its counts.
 */
export function countsInWords(stats: DestinationRunStats): string | null {
  if (stats.read === undefined) return null;
  const parts = [`${stats.read} ${stats.read === 1 ? 'action' : 'actions'} read`];
  if (stats.alreadySent) parts.push(`${stats.alreadySent} already handled by an earlier run`);
  if (stats.otherAgent) parts.push(`${stats.otherAgent} of agents not routed to this account`);
  if (stats.skipped) parts.push(`${stats.skipped} below your thresholds`);
  if (stats.rejected) parts.push(`${stats.rejected} rejected (see Rejected records)`);
  parts.push(`${stats.imported} imported`);
  if (stats.notSent) parts.push(`${stats.notSent} not sent yet (the next run tries again)`);
  return parts.join('; ');
}

function runCounts(run: Run, accounts: ReadonlyMap<string, string>): Markup {
  const entries = Object.entries(run.destinationStats);
  const lines = entries.flatMap(([id, stats]) => {
    const words = countsInWords(stats);
    if (words === null) return [];
    const account = accounts.get(id) ?? 'removed account';
    return [
      html`<div data-destination="${id}">${entries.length > 1 ? html`<code>${account}</code>: ` : ''}${words}</div>`,
    ];
  });
  // A quiet run (ADR 0136) read only what earlier runs handled: said so, beside what it read.
  const quiet = html`<div class="muted" data-quiet>nothing new in Vaikora: nothing written or sent</div>`;
  if (lines.length > 0) return run.quiet ? html`${lines}${quiet}` : html`${lines}`;
  if (run.status === 'running') return html`<span class="muted">in progress</span>`;
  if (run.quiet) return quiet;
  // Runs recorded before ADR 0100 only have run-wide totals, which do not add up: shown as they are.
  return html`${run.actionsRead} read (every page, each time); ${run.findingsImported} imported; ${run.actionsSkipped} below thresholds; ${run.recordsRejected} newly rejected`;
}

function runError(run: Run): Markup {
  if (run.errorCode !== null) return html`<code>${run.errorCode}</code> ${run.errorMessage ?? ''}`;
  if (run.status === 'ok') return html`<span class="muted">—</span>`;
  if (run.status === 'running') return html`<span class="muted">in progress</span>`;
  return html`<span class="muted">no reason was recorded (a run from before reasons were always kept)</span>`;
}

interface LiveData {
  status: Status;
  health: Health;
  runList: Run[];
  findings: RecentFinding[];
  rejectedCounts: RejectedSummary;
  activity: ActivityBucket[];
  /** The onboarding checklist, shown at the top until every step is done. */
  checklist: Checklist;
  /** Findings per month and the Security Hub bill for them, per destination (ADR 0117). */
  forecast: TenantForecast;
}

/** Everything on the status page that changes while it is open: the page swaps this element in place. */
function liveSection(
  c: UiContext,
  tenant: Tenant,
  d: LiveData,
  /** The newest rejected records, kept live with the counts above them; absent while paging older ones. */
  rejected?: { items: RejectedRecord[]; nextCursor: string | null },
): Markup {
  const { status, health, runList, findings, rejectedCounts, activity } = d;
  const q = tenantQuery(c, tenant);
  const accounts = new Map(status.destinations.map((dst) => [dst.id, dst.accountId]));
  const liveUrl = `/ui/status/live${q}${rejected === undefined ? `${q === '' ? '?' : '&'}rejected=static` : ''}`;
  return html`<div id="live" data-live-url="${liveUrl}">
${d.checklist.complete ? '' : checklistCard(c, tenant, d.checklist)}
<section class="card" aria-labelledby="health-h">
  <h2 id="health-h">Health</h2>
  <p>${healthPill(health.status)}</p>
  ${health.reasons.length === 0 ? '' : html`<ul id="health-reasons">${health.reasons.map((r) => html`<li>${r}</li>`)}</ul>`}
</section>
<dl class="grid" aria-label="Summary">
  <div class="stat"><dt>Last run</dt><dd>${status.lastRun === null ? html`<span class="muted">none yet</span>` : html`${runPill(status.lastRun.status)} <small>${when(status.lastRun.startedAt)}</small>`}</dd></div>
  <div class="stat"><dt>Lag behind Vaikora</dt><dd>${duration(status.cursorLagSeconds)}</dd></div>
  <div class="stat"><dt>Findings imported</dt><dd>${status.counts.imported}</dd></div>
  <div class="stat"><dt>Records rejected</dt><dd>${rejectedCounts.total} <small>distinct records, each counted once however often it was read again</small></dd></div>
  <div class="stat"><dt>Actions skipped</dt><dd>${status.counts.skipped} <small>below thresholds</small></dd></div>
  <div class="stat"><dt>Runs</dt><dd>${status.counts.runs} <small>${status.counts.failedRuns} failed</small></dd></div>
</dl>
<section class="card" aria-labelledby="activity-h">
  <h2 id="activity-h">Activity, last ${activity.length} hours</h2>
  ${activityCharts(activity)}
</section>
<section class="card" aria-labelledby="findings-h">
  <h2 id="findings-h">Recent findings sent to Security Hub</h2>
  ${
    findings.length === 0
      ? html`<p class="empty">No finding sent by the recent runs.</p>`
      : html`<div class="table-wrap"><table id="findings">
<caption class="sr-only">Findings the recent runs imported, newest first</caption>
<thead><tr><th scope="col">Time</th><th scope="col">Severity</th><th scope="col">Title</th><th scope="col">Region</th><th scope="col">Finding</th></tr></thead>
<tbody>${findings.map(
          (f) =>
            html`<tr data-finding="${f.id}"><td>${when(f.time)}</td><td>${severityPill(f.severity)}</td><th scope="row">${f.title}</th><td class="nowrap">${f.region}</td><td><a href="${securityHubFindingUrl(f.region, f.id)}" target="_blank" rel="noopener noreferrer">Open in Security Hub<span class="sr-only"> (opens in a new tab)</span></a><br><code>${f.id}</code></td></tr>`,
        )}</tbody></table></div>`
  }
</section>
<section class="card" aria-labelledby="runs-h">
  <h2 id="runs-h">Recent runs</h2>
  ${
    runList.length === 0
      ? html`<p class="empty">No run yet. Use “Run now” or wait for the schedule.</p>`
      : html`<p class="muted">For each AWS account, every action a run read is counted once: already handled by an earlier run, below your thresholds, rejected, imported, or not sent yet.</p>
<div class="table-wrap"><table id="runs">
<caption class="sr-only">The latest ${runList.length} runs, newest first</caption>
<thead><tr><th scope="col">Started</th><th scope="col">Status</th><th scope="col">What happened</th><th scope="col" class="num">Throttles</th><th scope="col" class="num">Lag</th><th scope="col">Why not OK</th></tr></thead>
<tbody>${runList.map(
          (run) => html`<tr data-run="${run.id}">
<th scope="row">${when(run.startedAt)}</th><td>${runPill(run.status)}</td>
<td>${runCounts(run, accounts)}</td><td class="num">${run.throttles}</td><td class="num">${duration(run.lagSeconds)}</td>
<td>${runError(run)}</td>
</tr>`,
        )}</tbody></table></div>`
  }
</section>
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
          (dst) => html`<tr>
<th scope="row"><code>${dst.accountId}</code></th><td>${dst.regions.join(', ')}</td><td>${destinationPill(dst.state)}</td>
<td class="num">${dst.counts.imported}</td><td class="num">${rejectedCounts.byDestination.get(dst.id) ?? 0}</td><td class="num">${dst.counts.skipped}</td>
<td class="num">${duration(dst.cursorLagSeconds)}</td>
<td>${dst.lastRun === null ? html`<span class="muted">—</span>` : html`${runPill(dst.lastRun.status)} ${when(dst.lastRun.startedAt)}`}</td>
<td>${dst.lastRunError ?? dst.lastError ?? html`<span class="muted">none</span>`}</td>
</tr>`,
        )}</tbody></table></div>`
  }
</section>
${forecastSection(d.forecast)}
${rejected === undefined ? '' : rejectedSection(c, tenant, status, rejected, false)}
</div>`;
}

const COUNT = new Intl.NumberFormat('en-US');
const USD = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });

/** What a destination's rate is measured over, in plain words. */
function forecastBasis(d: DestinationForecast, windowDays: number): Markup {
  if (d.basis === 'none')
    return html`<span class="muted">no run reached it in the last ${windowDays} days</span>`;
  if (d.basis === 'window') return html`the last ${windowDays} days`;
  return html`over the last ${duration(Math.round(d.observedHours * 3600))}, its first run's 24 h look-back included <small>(early estimate)</small>`;
}

/**
 * Each destination's findings per month at the recent rate and what Security Hub bills for them, so a
 * tenant can tune its thresholds before the bill arrives (ADR 0117).
 */
function forecastSection(forecast: TenantForecast): Markup {
  const { windowDays, price } = forecast;
  return html`<section class="card" aria-labelledby="forecast-h" id="forecast">
  <h2 id="forecast-h">Security Hub cost forecast</h2>
  ${
    forecast.destinations.length === 0
      ? html`<p class="empty">No AWS account yet, so nothing to forecast.</p>`
      : html`<p class="muted">At the last ${windowDays} days' rate, for a 30-day month. Security Hub bills each finding it takes (an update of one already there included) in each region, after ${COUNT.format(price.freeEventsPerAccountRegionMonth)} free a month per account and region, then ${USD.format(price.usdPerEvent * 1000)} per 1,000 (us-east-1 list price, checked ${price.checkedOn}). Raise your thresholds to send fewer.</p>
<div class="table-wrap"><table id="forecast-table">
<caption class="sr-only">Findings per month and their Security Hub cost, per AWS account</caption>
<thead><tr><th scope="col">Account</th><th scope="col">Regions</th><th scope="col">Measured over</th><th scope="col" class="num">Findings a month</th><th scope="col" class="num">Cost a month</th><th scope="col" class="num" title="If other sources already use the account's free tier">Without the free tier</th></tr></thead>
<tbody>${forecast.destinations.map(
          (d) => html`<tr data-forecast="${d.id}">
<th scope="row"><code>${d.accountId}</code></th><td>${d.regions.join(', ')}</td><td>${forecastBasis(d, windowDays)}</td>
<td class="num" data-findings="${d.findingsPerMonth}">${COUNT.format(d.findingsPerMonth)}</td>${
            d.delivery === 'security_lake'
              ? html`<td class="num" data-usd="0" colspan="2">Security Lake: not billed by Security Hub</td>`
              : html`<td class="num" data-usd="${d.usdPerMonth}">${USD.format(d.usdPerMonth)}</td><td class="num">${USD.format(d.usdPerMonthWithoutFreeTier)}</td>`
          }
</tr>`,
        )}</tbody>
${forecast.destinations.length > 1 ? html`<tfoot><tr><th scope="row" colspan="3">All accounts</th><td class="num" data-findings="${forecast.totals.findingsPerMonth}">${COUNT.format(forecast.totals.findingsPerMonth)}</td><td class="num" data-usd="${forecast.totals.usdPerMonth}">${USD.format(forecast.totals.usdPerMonth)}</td><td class="num">${USD.format(forecast.totals.usdPerMonthWithoutFreeTier)}</td></tr></tfoot>` : ''}
</table></div>`
  }
</section>`;
}

function rejectedSection(
  c: UiContext,
  tenant: Tenant,
  status: Status,
  rejected: { items: RejectedRecord[]; nextCursor: string | null },
  olderThan: boolean,
): Markup {
  const q = tenantQuery(c, tenant);
  const sep = q === '' ? '?' : '&';
  const accounts = new Map(status.destinations.map((d) => [d.id, d.accountId]));
  return html`<section class="card" aria-labelledby="rejected-h">
  <h2 id="rejected-h">Rejected records</h2>
  <p class="muted">Records from Vaikora that could not become findings, with the reason. They do not stop ingestion. Each is listed once per stream; a record read again by a later run counts as seen again.</p>
  ${
    rejected.items.length === 0
      ? html`<p class="empty">${olderThan ? 'No older rejected record.' : 'No rejected record.'}</p>`
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
    ${olderThan ? html`<a href="/ui/status${q}#rejected-h">Newest</a>` : ''}
    ${rejected.nextCursor === null ? '' : html`<a href="/ui/status${q}${sep}rejected=${encodeURIComponent(rejected.nextCursor)}#rejected-h">Older records</a>`}
  </nav>
</section>`;
}

// Polls the live fragment every few seconds while the tab is visible (not at all while hidden), asks with
// the last ETag so an unchanged page costs a 304, and swaps `#live` in place keeping open <details>.
// Without scripts the page is the same, only static. No framework, no CDN: it runs under the page's nonce.
const LIVE_SCRIPT = `
(function(){
var live=document.getElementById('live'),age=document.getElementById('live-age');
if(!live||!age||!window.fetch||!window.DOMParser)return;
var url=live.getAttribute('data-live-url'),last=Date.now(),etag=null,busy=false,stopped=false;
age.hidden=false;
function tick(){
  if(stopped)return;
  if(document.hidden){age.textContent='Updates paused while this tab is hidden';return;}
  var s=Math.round((Date.now()-last)/1000);
  age.textContent=s<2?'Updated just now':'Updated '+s+' s ago';
}
function poll(){
  if(busy||stopped||document.hidden)return;
  busy=true;
  var h={'accept':'text/html'};if(etag)h['if-none-match']=etag;
  fetch(url,{credentials:'same-origin',headers:h,redirect:'manual'}).then(function(r){
    if(r.status===304){last=Date.now();return;}
    if(r.status!==200){stopped=true;age.textContent='Live updates stopped (signed out?). Reload the page.';return;}
    etag=r.headers.get('etag');
    return r.text().then(function(t){
      var n=new DOMParser().parseFromString(t,'text/html').getElementById('live');
      if(!n)return;
      live.querySelectorAll('details[id]').forEach(function(d){var o=n.querySelector('#'+d.id);if(o)o.open=d.open;});
      live.replaceWith(document.importNode(n,true));
      live=document.getElementById('live');last=Date.now();
    });
  }).catch(function(){age.textContent='Could not update; trying again';}).finally(function(){busy=false;tick();});
}
setInterval(tick,1000);
setInterval(poll,${LIVE_POLL_MS});
document.addEventListener('visibilitychange',function(){tick();if(!document.hidden)poll();});
tick();
})();
`;

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

/**
 * Everything the live section shows, in one pass (ADR 0109): the status facts (health and checklist derived
 * from them, the activity chart from the window's runs), the latest runs and the window's rejected counts.
 */
async function liveData(deps: ApiDeps, tenant: Tenant): Promise<LiveData> {
  const now = deps.clock();
  const since = new Date(now.getTime() - WINDOW_HOURS * 3_600_000);
  const [facts, runList, rejectedCounts, hourly, forecast] = await Promise.all([
    statusFacts(deps, tenant),
    recentRuns(deps.db, tenant.id, 10),
    rejectedSince(deps.db, tenant.id, since),
    activityHours(deps.db, tenant.id, since),
    tenantForecast(deps, tenant),
  ]);
  return {
    status: facts.status,
    health: facts.health,
    runList,
    findings: findingsOf(runList, 25),
    rejectedCounts,
    activity: activityOf(hourly, now),
    checklist: checklistFrom(facts.health),
    forecast,
  };
}

/** The tenant status page (live: it polls `/ui/status/live`), its live fragment and its "Run now" button. */
export function registerStatusRoutes(ui: Hono<UiEnv>, deps: ApiDeps): void {
  ui.get('/status', async (c) => {
    const tenant = await tenantFor(c, c.req.query('tenant'));
    if (tenant === undefined) return c.redirect('/ui/operator', 303);
    const cursor = c.req.query('rejected');
    const olderRejected = cursor !== undefined && cursor !== '';
    const [data, rejected] = await Promise.all([
      liveData(deps, tenant),
      rejectedPage(deps.db, tenant.id, cursor === '' ? undefined : cursor, PAGE_SIZE),
    ]);
    const flash =
      c.req.query('ran') === '1'
        ? 'Run requested. A worker picks it up within seconds; this page updates by itself.'
        : undefined;
    return render(c, {
      title: 'Status',
      active: 'status',
      tenant,
      body: html`<div class="row between">
  <div><h1>Status</h1><p class="lede">What the connector is doing for ${tenant.name}. Counts cover the last ${data.status.windowHours} hours.</p></div>
  <form method="post" action="/ui/status/run-now">
    ${csrfField(sessionOf(c).csrfToken)}${sessionOf(c).principal.kind === 'operator' ? html`<input type="hidden" name="tenant" value="${tenant.id}">` : ''}
    <button type="submit" class="secondary" id="run-now">Run now</button>
  </form>
</div>
<div role="status" aria-live="polite">${flash === undefined ? '' : html`<p class="alert ok">${flash}</p>`}</div>
<p class="muted live-age" id="live-age" aria-live="off" hidden>Updated just now</p>
${
  olderRejected
    ? html`${liveSection(c, tenant, data)}
${rejectedSection(c, tenant, data.status, rejected, true)}`
    : liveSection(c, tenant, data, rejected)
}
${orgAccountsSection(deps, tenant)}
<script nonce="${c.get('nonce')}">${raw(LIVE_SCRIPT)}</script>`,
    });
  });

  ui.get('/status/live', async (c) => {
    const tenant = await tenantFor(c, c.req.query('tenant'));
    if (tenant === undefined) throw new ApiError('NOT_FOUND', 'choose a tenant first');
    const withRejected = c.req.query('rejected') !== 'static';
    // The ETag is made from cheap facts, not from the rendered fragment, so an unchanged page costs one
    // query and no rendering; the minute stands for what changes with time alone (window counts, "no run
    // for ...", the hourly chart), so a page is at most a minute behind those (ADR 0109).
    const version = await liveVersion(deps.db, tenant.id);
    const minute = Math.floor(deps.clock().getTime() / 60_000);
    const etag = `"${createHash('sha256')
      .update(
        [
          version,
          tenant.id,
          tenant.state,
          iso(tenant.updatedAt),
          tenantQuery(c, tenant),
          withRejected,
          minute,
        ].join('\u0000'),
      )
      .digest('base64url')
      .slice(0, 27)}"`;
    c.header('etag', etag);
    c.header('cache-control', 'private, no-cache');
    if (c.req.header('if-none-match') === etag) return c.body(null, 304);
    const [data, rejected] = await Promise.all([
      liveData(deps, tenant),
      withRejected ? rejectedPage(deps.db, tenant.id, undefined, PAGE_SIZE) : Promise.resolve(undefined),
    ]);
    return c.html((await liveSection(c, tenant, data, rejected)).toString());
  });

  ui.post('/status/run-now', async (c) => {
    const form = await c.req.parseBody();
    const tenant = await tenantFor(c, field(form, 'tenant', 64) || undefined);
    if (tenant === undefined) return c.redirect('/ui/operator', 303);
    await requestRun(deps, pageActor(c), tenant);
    const q = tenantQuery(c, tenant);
    return c.redirect(`/ui/status${q}${q === '' ? '?' : '&'}ran=1`, 303);
  });
}
