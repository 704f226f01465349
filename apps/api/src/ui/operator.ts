import type { HealthStatus } from '@vsh/core';
import type { Hono } from 'hono';
import { html } from 'hono/html';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { render, sessionOf, type UiEnv } from './context.ts';
import {
  OVERVIEW_SORTS,
  type OverviewPosition,
  type OverviewSort,
  overviewPage,
  sortHealth,
  type TenantHealth,
} from './data.ts';
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

/** The column headings; a heading sorts the rows of the page shown (`here`: its after/before query). */
function header(sort: OverviewSort, descending: boolean, here: string): Markup {
  return html`<tr>${COLUMNS.map((col) => {
    const cls = col.numeric === true ? 'num' : '';
    if (col.sort === undefined) return html`<th scope="col" class="${cls}">${col.label}</th>`;
    const current = col.sort === sort;
    const nextDir = current && !descending ? 'desc' : 'asc';
    const ariaSort = current ? (descending ? 'descending' : 'ascending') : 'none';
    const arrow = current ? (descending ? ' ↓' : ' ↑') : '';
    return html`<th scope="col" class="${cls}" aria-sort="${ariaSort}"><a href="/ui/operator?sort=${col.sort}&amp;dir=${nextDir}${here}">${col.label}<span aria-hidden="true">${arrow}</span><span class="sr-only">, sort ${nextDir === 'asc' ? 'ascending' : 'descending'}</span></a></th>`;
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

/** A link to another page of the overview, keeping the sort of the rows on it. */
function pageLink(
  rel: 'prev' | 'next',
  cursor: string | null,
  sort: OverviewSort,
  descending: boolean,
): Markup {
  const label = rel === 'prev' ? '← Previous tenants' : 'Next tenants →';
  if (cursor === null) return html`<span class="muted">${label}</span>`;
  const where = rel === 'prev' ? 'before' : 'after';
  const href = `/ui/operator?sort=${sort}&dir=${descending ? 'desc' : 'asc'}&${where}=${encodeURIComponent(cursor)}`;
  return html`<a rel="${rel}" id="${rel === 'prev' ? 'previous-page' : 'next-page'}" href="${href}">${label}</a>`;
}

/** Where a request asks the overview to start: `after` or `before` a cursor, else the first page. */
function positionOf(after: string | undefined, before: string | undefined): OverviewPosition {
  if (after !== undefined && after !== '') return { after };
  if (before !== undefined && before !== '') return { before };
  return {};
}

/** The query that keeps a position in links (HTML-escaped by the template that writes it). */
function positionQuery(position: OverviewPosition): string {
  if ('after' in position) return `&after=${encodeURIComponent(position.after)}`;
  if ('before' in position) return `&before=${encodeURIComponent(position.before)}`;
  return '';
}

/**
 * The operator overview: tenants by name, OVERVIEW_PAGE_SIZE a page (keyset, ADR 0109), each page's health
 * from grouped queries over its tenants only; the rows of a page are sorted on the server, failing first.
 */
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
    const position = positionOf(c.req.query('after'), c.req.query('before'));
    const here = positionQuery(position);
    const load = () => overviewPage(deps.db, deps.clock(), position);
    // Up to a second old, as a tenant read (ADR 0113): the page is the same for every operator.
    const page = (await deps.tenantReadCache?.read(`overview${here}`, 'listing', load)) ?? (await load());
    const rows = sortHealth(page.rows, sort, descending);
    const tally = (health: HealthStatus) => rows.filter((r) => r.health === health).length;
    const pager =
      page.previous === null && page.next === null
        ? ''
        : html`<nav class="row between" aria-label="Pages of tenants">${pageLink('prev', page.previous, sort, descending)}${pageLink('next', page.next, sort, descending)}</nav>`;
    return render(c, {
      title: 'All tenants',
      active: 'operator',
      body: html`<div class="row between"><h1>All tenants</h1><a class="button" id="invite-tenant" href="/ui/operator/tenants/new">Invite a tenant</a></div>
<p class="lede">Tenants by name, ${rows.length === page.total ? 'all of them' : `${rows.length} of ${page.total} on this page`}; on each page failing ones come first. Select a column heading to sort the page; select a tenant to see its status.</p>
<dl class="grid" aria-label="Summary of this page">
  <div class="stat"><dt>Failing</dt><dd>${tally('failing')}</dd></div>
  <div class="stat"><dt>Needs attention</dt><dd>${tally('attention')}</dd></div>
  <div class="stat"><dt>Setting up</dt><dd>${tally('setup')}</dd></div>
  <div class="stat"><dt>Healthy</dt><dd>${tally('healthy')}</dd></div>
  <div class="stat"><dt>Tenants</dt><dd>${page.total}</dd></div>
</dl>
<section class="card" aria-labelledby="tenants-h">
  <h2 id="tenants-h">Tenants</h2>
  ${pager}
  ${
    rows.length === 0
      ? html`<p class="empty">No tenant yet.</p>`
      : html`<div class="table-wrap"><table id="tenants">
<caption class="sr-only">Tenants of this page, sorted by ${sort} ${descending ? 'descending' : 'ascending'}</caption>
<thead>${header(sort, descending, here)}</thead>
<tbody>${rows.map(row)}</tbody></table></div>`
  }
  ${pager}
</section>`,
    });
  });
}
