import { html } from 'hono/html';
import type { ActivityBucket } from './data.ts';
import { duration, type Markup } from './layout.ts';

// Hand-drawn SVG rather than a chart library: two small charts, rendered on the server, work without
// scripts, need no CDN and pass the page's CSP (presentation attributes, no inline styles).

const WIDTH = 720;
const HEIGHT = 200;
const PAD = { top: 16, right: 12, bottom: 34, left: 48 };
const PLOT_W = WIDTH - PAD.left - PAD.right;
const PLOT_H = HEIGHT - PAD.top - PAD.bottom;
const IMPORTED = '#1f4fd1';
const REJECTED = '#a1211b';
const LAG = '#7a4b00';

const hourLabel = (date: Date) => `${date.toISOString().slice(11, 13)}:00`;

/** A note in the middle of an empty plot, so a blank chart does not read as broken. */
function emptyNote(text: string): Markup {
  return html`<text x="${PAD.left + PLOT_W / 2}" y="${PAD.top + PLOT_H / 2}" text-anchor="middle" font-size="13" fill="#4f5b69">${text}</text>`;
}

/** A "nice" upper bound for an axis: 1, 2 or 5 times a power of ten, at least `max`. */
export function niceMax(max: number): number {
  if (max <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) if (step * power >= max) return step * power;
  return 10 * power;
}

function axes(label: string, x: (i: number) => number, buckets: readonly ActivityBucket[]): Markup {
  const ticks = buckets.flatMap((b, i) => (i % 4 === 0 || i === buckets.length - 1 ? [{ b, i }] : []));
  return html`<line x1="${PAD.left}" y1="${PAD.top + PLOT_H}" x2="${WIDTH - PAD.right}" y2="${PAD.top + PLOT_H}" stroke="#9aa6b5"/>
<line x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${PAD.top + PLOT_H}" stroke="#9aa6b5"/>
<text x="${PAD.left - 6}" y="${PAD.top + 4}" text-anchor="end" font-size="11" fill="#4f5b69">${label}</text>
<text x="${PAD.left - 6}" y="${PAD.top + PLOT_H}" text-anchor="end" font-size="11" fill="#4f5b69">0</text>
${ticks.map(
  ({ b, i }) =>
    html`<text x="${x(i)}" y="${HEIGHT - PAD.bottom + 16}" text-anchor="middle" font-size="11" fill="#4f5b69">${hourLabel(b.start)}</text>`,
)}<text x="${WIDTH - PAD.right}" y="${HEIGHT - 4}" text-anchor="end" font-size="11" fill="#4f5b69">hour started (UTC)</text>`;
}

/** Findings imported and records rejected per hour, as grouped bars with a legend. */
function activitySvg(buckets: readonly ActivityBucket[]): Markup {
  const max = niceMax(Math.max(0, ...buckets.map((b) => Math.max(b.imported, b.rejected))));
  const slot = PLOT_W / buckets.length;
  const barW = Math.max(1, slot / 2 - 1);
  const y = (n: number) => PAD.top + PLOT_H - (n / max) * PLOT_H;
  const h = (n: number) => (n / max) * PLOT_H;
  const x = (i: number) => PAD.left + i * slot + slot / 2;
  const imported = buckets.reduce((sum, b) => sum + b.imported, 0);
  const rejected = buckets.reduce((sum, b) => sum + b.rejected, 0);
  return html`<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="chart-activity" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-labelledby="chart-activity-title chart-activity-desc">
<title id="chart-activity-title">Findings imported and records rejected per hour, last ${buckets.length} hours</title>
<desc id="chart-activity-desc">${imported} findings imported and ${rejected} new records rejected in all. The table below has every hour's numbers.</desc>
${axes(String(max), x, buckets)}
${imported + rejected === 0 ? emptyNote('Nothing imported or rejected in these hours') : ''}
${buckets.map(
  (
    b,
    i,
  ) => html`<g><title>${hourLabel(b.start)} UTC: ${b.imported} imported, ${b.rejected} rejected, ${b.runs} runs</title>
<rect x="${(x(i) - barW).toFixed(1)}" y="${y(b.imported).toFixed(1)}" width="${barW.toFixed(1)}" height="${h(b.imported).toFixed(1)}" fill="${IMPORTED}"/>
<rect x="${x(i).toFixed(1)}" y="${y(b.rejected).toFixed(1)}" width="${barW.toFixed(1)}" height="${h(b.rejected).toFixed(1)}" fill="${REJECTED}"/></g>`,
)}
<rect x="${PAD.left + 8}" y="${PAD.top - 12}" width="10" height="10" fill="${IMPORTED}"/><text x="${PAD.left + 22}" y="${PAD.top - 3}" font-size="11" fill="#17202b">imported</text>
<rect x="${PAD.left + 92}" y="${PAD.top - 12}" width="10" height="10" fill="${REJECTED}"/><text x="${PAD.left + 106}" y="${PAD.top - 3}" font-size="11" fill="#17202b">rejected</text>
</svg>`;
}

/** The worst lag behind Vaikora of each hour's runs, as a line with a dot per hour that had runs. */
function lagSvg(buckets: readonly ActivityBucket[]): Markup {
  const max = niceMax(Math.max(0, ...buckets.map((b) => b.maxLagSeconds ?? 0)));
  const slot = PLOT_W / buckets.length;
  const x = (i: number) => PAD.left + i * slot + slot / 2;
  const y = (n: number) => PAD.top + PLOT_H - (n / max) * PLOT_H;
  const points = buckets.flatMap((b, i) =>
    b.maxLagSeconds === null ? [] : [{ b, i, lag: b.maxLagSeconds }],
  );
  const path = points.map((p) => `${x(p.i).toFixed(1)},${y(p.lag).toFixed(1)}`).join(' ');
  const worst = points.reduce((m, p) => Math.max(m, p.lag), 0);
  return html`<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="chart-lag" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-labelledby="chart-lag-title chart-lag-desc">
<title id="chart-lag-title">Lag behind Vaikora per hour (the worst run of the hour), last ${buckets.length} hours</title>
<desc id="chart-lag-desc">${points.length === 0 ? 'No run recorded a lag in this window.' : `The worst lag was ${duration(worst)}.`} The table below has every hour's numbers.</desc>
${axes(duration(max), x, buckets)}
${points.length === 0 ? emptyNote('No run recorded a lag in these hours') : ''}
${points.length > 1 ? html`<polyline points="${path}" fill="none" stroke="${LAG}" stroke-width="2"/>` : ''}
${points.map(
  (p) =>
    html`<circle cx="${x(p.i).toFixed(1)}" cy="${y(p.lag).toFixed(1)}" r="3" fill="${LAG}"><title>${hourLabel(p.b.start)} UTC: ${duration(p.lag)}</title></circle>`,
)}
</svg>`;
}

/** The activity and lag charts of the status page, with the same numbers as a table for screen readers and without SVG. */
export function activityCharts(buckets: readonly ActivityBucket[]): Markup {
  return html`<div class="charts">
<figure>${activitySvg(buckets)}</figure>
<figure>${lagSvg(buckets)}</figure>
</div>
<details><summary>The numbers as a table</summary>
<div class="table-wrap"><table id="activity">
<caption class="sr-only">Per hour, last ${buckets.length} hours, oldest first</caption>
<thead><tr><th scope="col">Hour (UTC)</th><th scope="col" class="num">Runs</th><th scope="col" class="num">Imported</th><th scope="col" class="num">Rejected</th><th scope="col" class="num">Worst lag</th></tr></thead>
<tbody>${buckets.map(
    (b) =>
      html`<tr><th scope="row"><time datetime="${b.start.toISOString()}">${b.start.toISOString().slice(0, 10)} ${hourLabel(b.start)}</time></th><td class="num">${b.runs}</td><td class="num">${b.imported}</td><td class="num">${b.rejected}</td><td class="num">${duration(b.maxLagSeconds)}</td></tr>`,
  )}</tbody></table></div>
</details>`;
}
