import type { HealthStatus } from '@vsh/core';
import type { Hono } from 'hono';
import { html } from 'hono/html';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { render, sessionOf, type UiEnv } from './context.ts';
import { OVERVIEW_SORTS, type OverviewSort, sortHealth, type TenantHealth, tenantsHealth } from './data.ts';
import { duration, type Markup, when } from './layout.ts';
import { healthPill, runPill } from './status.ts';

const COLUMNS: Array<{ sort: OverviewSort | undefined; label: string; numeric?: boolean }> = [
  { sort: 'name', label: 'Tenant' },
  { sort: 'health', label: 'Health' },
  { sort: undefined, label: 'Destinations' },
  { sort: 'lastRun', label: 'Last run' },
  { sort: 'lag', label: 'Lag', numeric: true },
  { sort: 'imported', label: 'Imported, 24 h', numeric: true },
  { sort: undefined, label: 'Failed runs, 24 h', numeric: true },
];

function header(sort: OverviewSort, descending: boolean): Markup {
  return html`<tr>${COLUMNS.map((col) => {
    const cls = col.numeric === true ? 'num' : '';
    if (col.sort === undefined) return html`<th scope="col" class="${cls}">${col.label}</th>`;
    const current = col.sort === sort;
    const nextDir = current && !descending ? 'desc' : 'asc';
    const ariaSort = current ? (descending ? 'descending' : 'ascending') : 'none';
    const arrow = current ? (descending ? ' ↓' : ' ↑') : '';
    return html`<th scope="col" class="${cls}" aria-sort="${ariaSort}"><a href="/ui/operator?sort=${col.sort}&amp;dir=${nextDir}">${col.label}<span aria-hidden="true">${arrow}</span><span class="sr-only">, sort ${nextDir === 'asc' ? 'ascending' : 'descending'}</span></a></th>`;
  })}</tr>`;
}

function row(t: TenantHealth): Markup {
  return html`<tr data-tenant="${t.id}">
<th scope="row"><a href="/ui/status?tenant=${encodeURIComponent(t.id)}">${t.name}</a><br><code class="muted">${t.id}</code></th>
<td>${healthPill(t.health)}${t.reasons.length === 0 ? '' : html`<br><span class="muted">${t.reasons.join('; ')}</span>`}</td>
<td>${t.destinations.working} of ${t.destinations.total} working${t.destinations.pending > 0 ? html`<br><span class="muted">${t.destinations.pending} pending</span>` : ''}</td>
<td>${t.lastRun === null ? html`<span class="muted">none</span>` : html`${runPill(t.lastRun.status)}<br>${when(t.lastRun.startedAt)}`}</td>
<td class="num">${duration(t.lastRun?.lagSeconds)}</td>
<td class="num">${t.imported24h}</td>
<td class="num">${t.failedRuns24h}</td>
</tr>`;
}

/** The operator overview: every tenant's health, failing ones first, sortable on the server. */
export function registerOperatorRoutes(ui: Hono<UiEnv>, deps: ApiDeps): void {
  ui.get('/operator', async (c) => {
    if (sessionOf(c).principal.kind !== 'operator') {
      throw new ApiError('FORBIDDEN', 'this page is for the operator only');
    }
    const sortParam = c.req.query('sort') ?? 'health';
    const sort = (OVERVIEW_SORTS as readonly string[]).includes(sortParam)
      ? (sortParam as OverviewSort)
      : 'health';
    const descending = c.req.query('dir') === 'desc';
    const rows = sortHealth(await tenantsHealth(deps.db, deps.clock()), sort, descending);
    const tally = (health: HealthStatus) => rows.filter((r) => r.health === health).length;
    return render(c, {
      title: 'All tenants',
      active: 'operator',
      body: html`<div class="row between"><h1>All tenants</h1><a class="button" id="invite-tenant" href="/ui/operator/tenants/new">Invite a tenant</a></div>
<p class="lede">Every tenant's health, failing ones first. Select a column heading to sort; select a tenant to see its status.</p>
<dl class="grid" aria-label="Summary">
  <div class="stat"><dt>Failing</dt><dd>${tally('failing')}</dd></div>
  <div class="stat"><dt>Needs attention</dt><dd>${tally('attention')}</dd></div>
  <div class="stat"><dt>Setting up</dt><dd>${tally('setup')}</dd></div>
  <div class="stat"><dt>Healthy</dt><dd>${tally('healthy')}</dd></div>
  <div class="stat"><dt>Tenants</dt><dd>${rows.length}</dd></div>
</dl>
<section class="card" aria-labelledby="tenants-h">
  <h2 id="tenants-h">Tenants</h2>
  ${
    rows.length === 0
      ? html`<p class="empty">No tenant yet.</p>`
      : html`<div class="table-wrap"><table id="tenants">
<caption class="sr-only">Tenants, sorted by ${sort} ${descending ? 'descending' : 'ascending'}</caption>
<thead>${header(sort, descending)}</thead>
<tbody>${rows.map(row)}</tbody></table></div>`
  }
</section>`,
    });
  });
}
