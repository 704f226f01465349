import { html, raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { Principal } from '../deps.ts';

/** What hono/html returns: escaped markup, safe to nest. */
export type Markup = HtmlEscapedString | Promise<HtmlEscapedString>;

// One small stylesheet inline: no CDN, no build step, and it travels with the nonce-locked CSP.
const STYLES = `
:root{--bg:#f5f7fa;--card:#fff;--text:#17202b;--muted:#4f5b69;--line:#d9dfe7;--brand:#1f4fd1;--brand-dark:#173c9f;
--ok-bg:#e3f5ea;--ok:#14642f;--warn-bg:#fff3d6;--warn:#7a4b00;--bad-bg:#fde5e4;--bad:#a1211b;--neutral-bg:#eceff3;--neutral:#37414d;
--focus:#ffbf47;--radius:10px;--shadow:0 1px 2px rgba(16,24,40,.06),0 1px 3px rgba(16,24,40,.08)}
*{box-sizing:border-box}
html{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif;font-size:16px;line-height:1.5;color:var(--text);background:var(--bg)}
body{margin:0}
a{color:var(--brand)}a:hover{color:var(--brand-dark)}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px;border-radius:4px}
.skip{position:absolute;left:-999px;top:8px;background:var(--text);color:#fff;padding:8px 14px;border-radius:6px;z-index:10}
.skip:focus{left:8px}
header.top{background:#0f1b2d;color:#fff}
header.top .bar{max-width:1180px;margin:0 auto;padding:12px 24px;display:flex;gap:24px;align-items:center;flex-wrap:wrap}
.brand{font-weight:700;letter-spacing:.2px;color:#fff;text-decoration:none;font-size:1.05rem}
.brand span{color:#9db7ff;font-weight:600}
nav.main ul{list-style:none;display:flex;gap:4px;margin:0;padding:0}
nav.main a{color:#dfe7f5;text-decoration:none;padding:6px 12px;border-radius:6px;display:inline-block}
nav.main a:hover{background:rgba(255,255,255,.1);color:#fff}
nav.main a[aria-current=page]{background:rgba(255,255,255,.16);color:#fff;font-weight:600}
.who{margin-left:auto;display:flex;gap:12px;align-items:center;color:#c8d3e6;font-size:.9rem}
.who form{margin:0}
.who button{background:transparent;color:#fff;border:1px solid rgba(255,255,255,.4);padding:5px 12px;font-size:.875rem}
.who button:hover{background:rgba(255,255,255,.12)}
main{max-width:1180px;margin:0 auto;padding:28px 24px 64px}
main:focus{outline:none}
h1{font-size:1.75rem;margin:0 0 4px;line-height:1.25}
h1 code{font-size:inherit;background:none;padding:0}
h2{font-size:1.2rem;margin:0 0 12px}
h3{font-size:1rem;margin:16px 0 8px}
.lede{color:var(--muted);margin:0 0 24px;max-width:70ch}
.card{background:var(--card);border:1px solid var(--line);border-radius:var(--radius);box-shadow:var(--shadow);padding:20px 22px;margin:0 0 20px}
.grid{display:grid;gap:16px;grid-template-columns:repeat(auto-fit,minmax(160px,1fr));margin:0 0 20px}
.stat{background:var(--card);border:1px solid var(--line);border-radius:var(--radius);padding:14px 16px;box-shadow:var(--shadow)}
.stat dt{color:var(--muted);font-size:.85rem}
.stat dd{margin:2px 0 0;font-size:1.45rem;font-weight:650}
.stat dd small{font-size:.8rem;font-weight:400;color:var(--muted);display:block}
.pill{display:inline-flex;align-items:center;gap:5px;padding:2px 10px;border-radius:999px;font-size:.8rem;font-weight:600;border:1px solid transparent;white-space:nowrap}
.pill.ok{background:var(--ok-bg);color:var(--ok);border-color:#b5e0c3}
.pill.warn{background:var(--warn-bg);color:var(--warn);border-color:#f1d38c}
.pill.bad{background:var(--bad-bg);color:var(--bad);border-color:#f3b6b2}
.pill.neutral{background:var(--neutral-bg);color:var(--neutral);border-color:#d3d9e1}
table{width:100%;border-collapse:collapse;font-size:.92rem}
th,td{text-align:left;padding:9px 10px;border-bottom:1px solid var(--line);vertical-align:top}
thead th{font-size:.82rem;font-weight:650;color:var(--muted);background:#f9fafc;white-space:nowrap}
tbody th{font-weight:600}
tbody tr:hover{background:#fafbfd}
th a{color:inherit;text-decoration:none}th a:hover{text-decoration:underline}
.table-wrap{overflow-x:auto}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.nowrap{white-space:nowrap}
.muted{color:var(--muted)}
.empty{color:var(--muted);padding:8px 0;margin:0}
form.stack{display:grid;gap:14px;max-width:560px}
label{font-weight:600;display:block;margin-bottom:4px}
.hint{display:block;color:var(--muted);font-size:.875rem;font-weight:400;margin-top:2px}
input[type=text],input[type=password]{width:100%;padding:9px 11px;font:inherit;border:1px solid #9aa6b5;border-radius:8px;background:#fff;color:var(--text)}
select{padding:8px 10px;font:inherit;border:1px solid #9aa6b5;border-radius:8px;background:#fff;color:var(--text)}
fieldset{border:1px solid var(--line);border-radius:8px;padding:12px 14px;margin:0;display:grid;gap:10px}
fieldset[aria-invalid=true]{border-color:var(--bad);box-shadow:0 0 0 1px var(--bad)}
legend{font-weight:650;padding:0 4px}
.check{display:flex;gap:8px;align-items:center}.check label{margin:0;font-weight:400}
.check input{width:18px;height:18px;margin:0}
input[aria-invalid=true],select[aria-invalid=true]{border-color:var(--bad);box-shadow:0 0 0 1px var(--bad)}
button,.button{font:inherit;font-weight:600;display:inline-flex;align-items:center;gap:8px;padding:9px 16px;border-radius:8px;border:1px solid var(--brand);background:var(--brand);color:#fff;text-decoration:none;cursor:pointer}
button:hover,.button:hover{background:var(--brand-dark);color:#fff}
button.secondary,.button.secondary{background:#fff;color:var(--brand)}
button.secondary:hover,.button.secondary:hover{background:#eef3ff;color:var(--brand-dark)}
button.small{padding:4px 10px;font-size:.8rem}
button[disabled]{opacity:.7;cursor:progress}
.row{display:flex;gap:12px;align-items:center;flex-wrap:wrap}
.between{justify-content:space-between}
.alert{border-radius:8px;padding:12px 14px;margin:0 0 16px;border:1px solid}
.alert.bad{background:var(--bad-bg);border-color:#f3b6b2;color:#5f120e}
.alert.ok{background:var(--ok-bg);border-color:#b5e0c3;color:#0d3f1e}
.alert.info{background:#e8efff;border-color:#bfd0fb;color:#14306f}
.code{position:relative;margin:6px 0 14px}
pre,code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:.85rem}
pre{background:#0f1b2d;color:#e6edf7;padding:14px 16px;border-radius:8px;overflow:auto;margin:0;max-height:340px;white-space:pre-wrap;word-break:break-all}
.code button{position:absolute;top:8px;right:8px;background:#2a3a55;border-color:#4a5d7e}
.code button:hover{background:#3a4f73}
td code,dd code{background:#eef1f5;padding:1px 5px;border-radius:4px;overflow-wrap:anywhere}
ol.steps{padding-left:1.2rem;margin:0}ol.steps>li{margin:0 0 18px}
ul.checks{list-style:none;padding:0;margin:0}
ul.checks li{display:grid;grid-template-columns:110px 1fr;gap:12px;padding:10px 0;border-bottom:1px solid var(--line)}
ul.checks li:last-child{border-bottom:0}
.fix{margin:4px 0 0;color:#5f120e}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:6px 16px;margin:0}
dl.kv dt{color:var(--muted)}dl.kv dd{margin:0}
.pager{display:flex;gap:12px;margin-top:12px}
.charts{display:grid;gap:16px;grid-template-columns:repeat(auto-fit,minmax(320px,1fr))}.charts figure{margin:0}
.chart{width:100%;height:auto;display:block}.live-age{margin:0 0 12px;font-size:.85rem}
.sr-only{position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0,0,0,0);white-space:nowrap;border:0}
.login{max-width:460px;margin:48px auto}
footer{max-width:1180px;margin:0 auto;padding:0 24px 32px;color:var(--muted);font-size:.85rem}
@media (max-width:640px){ul.checks li{grid-template-columns:1fr}.who{margin-left:0}}
`;

// Copy buttons and a busy state for long submits; the pages work the same without it.
const SCRIPT = `
document.querySelectorAll('button[data-copy]').forEach(function(b){
  b.hidden=false;
  b.addEventListener('click',function(){
    var el=document.getElementById(b.getAttribute('data-copy'));
    var live=document.getElementById('copy-status');
    if(!el||!navigator.clipboard)return;
    navigator.clipboard.writeText(el.textContent||'').then(function(){
      b.textContent='Copied';if(live)live.textContent='Copied to the clipboard';
      setTimeout(function(){b.textContent='Copy'},2000);
    });
  });
});
// "Test connection" and similar: post the form in the background and swap in the answer's region, so
// what the person typed (a key) stays in the form; without scripts the button posts the page.
document.querySelectorAll('button[data-fragment]').forEach(function(b){
  b.addEventListener('click',function(e){
    var f=b.form,id=b.getAttribute('data-fragment'),target=document.getElementById(id);
    if(!f||!target||!window.fetch||!window.DOMParser)return;
    e.preventDefault();
    var label=b.textContent;b.setAttribute('aria-disabled','true');b.textContent=b.getAttribute('data-busy-label')||label;
    fetch(b.getAttribute('formaction')||f.action,{method:'POST',body:new FormData(f),credentials:'same-origin'})
      .then(function(r){return r.text();})
      .then(function(t){
        var n=new DOMParser().parseFromString(t,'text/html').getElementById(id);
        if(n)target.replaceWith(document.importNode(n,true));
      })
      .catch(function(){var live=document.getElementById('copy-status');if(live)live.textContent='The test could not be sent; try again.';})
      .finally(function(){b.removeAttribute('aria-disabled');b.textContent=label;});
  });
});
document.querySelectorAll('form[data-busy]').forEach(function(f){
  f.addEventListener('submit',function(){
    var b=f.querySelector('button[type=submit]');
    if(b){b.setAttribute('aria-disabled','true');b.textContent=f.getAttribute('data-busy');}
    f.setAttribute('aria-busy','true');
  });
});
`;

export type NavItem = 'start' | 'vaikora' | 'onboarding' | 'status' | 'operator' | 'none';

export interface PageOptions {
  title: string;
  nonce: string;
  active: NavItem;
  /** Absent on the sign-in and error pages of a visitor without a session. */
  session?: { principal: Principal; csrfToken: string; label: string } | undefined;
  /** Appended to nav links so an operator keeps the tenant they are looking at. */
  tenantQuery?: string | undefined;
  body: Markup;
}

function navLink(href: string, label: string, current: boolean): Markup {
  return html`<li><a href="${href}" ${current ? html`aria-current="page"` : ''}>${label}</a></li>`;
}

/** The page shell: skip link, header with navigation and sign-out, main landmark, footer. */
export function page(options: PageOptions): Markup {
  const { session } = options;
  const q = options.tenantQuery ?? '';
  const links =
    session === undefined
      ? []
      : [
          ...(session.principal.kind === 'tenant' || q !== ''
            ? [
                navLink(`/ui/start${q}`, 'Get started', options.active === 'start'),
                navLink(`/ui/vaikora${q}`, 'Vaikora', options.active === 'vaikora'),
                navLink(`/ui/onboarding${q}`, 'AWS accounts', options.active === 'onboarding'),
                navLink(`/ui/status${q}`, 'Status', options.active === 'status'),
              ]
            : []),
          ...(session.principal.kind === 'operator'
            ? [navLink('/ui/operator', 'All tenants', options.active === 'operator')]
            : []),
        ];
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${options.title} · Vaikora → Security Hub</title>
<style nonce="${options.nonce}">${raw(STYLES)}</style>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <div class="bar">
    <a class="brand" href="/ui">Vaikora <span>→ Security Hub</span></a>
    ${
      session === undefined
        ? ''
        : html`<nav class="main" aria-label="Main"><ul>${links}</ul></nav>
    <div class="who">
      <span>Signed in as ${session.label}</span>
      <form method="post" action="/ui/logout">
        <input type="hidden" name="csrf" value="${session.csrfToken}">
        <button type="submit">Sign out</button>
      </form>
    </div>`
    }
  </div>
</header>
<main id="main" tabindex="-1">
${options.body}
</main>
<footer>Hosted by Data443 · <a href="/docs">API reference</a></footer>
<p id="copy-status" class="sr-only" aria-live="polite"></p>
<script nonce="${options.nonce}">${raw(SCRIPT)}</script>
</body>
</html>`;
}

export type Tone = 'ok' | 'warn' | 'bad' | 'neutral';

const GLYPHS: Record<Tone, string> = { ok: '✓', warn: '!', bad: '✕', neutral: '•' };

/** A status pill: a glyph and a text label, so the state never depends on colour alone. */
export function pill(tone: Tone, label: string): Markup {
  return html`<span class="pill ${tone}"><span aria-hidden="true">${GLYPHS[tone]}</span>${label}</span>`;
}

/** A code block with a copy button that appears only when scripts run. */
export function codeBlock(id: string, label: string, text: string): Markup {
  return html`<div class="code">
<pre id="${id}" aria-label="${label}" tabindex="0">${text}</pre>
<button type="button" class="small" data-copy="${id}" hidden aria-label="Copy ${label}">Copy</button>
</div>`;
}

/** The CSRF field every form of a signed-in page carries. */
export function csrfField(token: string): Markup {
  return html`<input type="hidden" name="csrf" value="${token}">`;
}

/** A date as a <time> element in UTC, or a dash. */
export function when(value: string | Date | null | undefined): Markup {
  if (value === null || value === undefined) return html`<span class="muted">—</span>`;
  const date = typeof value === 'string' ? new Date(value) : value;
  if (Number.isNaN(date.getTime())) return html`<span class="muted">—</span>`;
  const text = `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
  return html`<time class="nowrap" datetime="${date.toISOString()}">${text}</time>`;
}

/** A duration in seconds for a person: 42 s, 5 min, 3 h. */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '—';
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}
