import { randomBytes } from 'node:crypto';
import { Hono } from 'hono';
import { getCookie } from 'hono/cookie';
import { html } from 'hono/html';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { cookieNames } from '../../ui/auth.ts';
import { page } from '../../ui/layout.ts';

/** The landing page's CSP: the /ui shell's inline style and script, by nonce; nothing else runs. */
function landingCsp(nonce: string): string {
  return `default-src 'none'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`;
}

/**
 * GET /: what this service is and where to go from here (sign in, the API reference, the OpenAPI
 * document, health and readiness). A browser that carries a session cookie goes straight to /ui, which
 * checks the session and sends it on to its home page or to sign-in.
 */
export function landingApp(deps: ApiDeps) {
  const cookies = cookieNames(deps.config.mode);
  const landing = new Hono<AppEnv>();

  landing.get('/', async (c) => {
    if (getCookie(c, cookies.session) !== undefined) return c.redirect('/ui', 303);
    const nonce = randomBytes(16).toString('base64');
    c.header('Content-Security-Policy', landingCsp(nonce));
    c.header('Cache-Control', 'no-store');
    const body = html`<h1>Vaikora → AWS Security Hub connector</h1>
<p class="lede">This service reads AI-agent risk signals from Vaikora for each tenant and imports them as
findings into the tenant's AWS Security Hub, in the AWS accounts and regions the tenant connects.</p>
<div class="card">
  <h2>People</h2>
  <p>Tenants and operators sign in with an API key to connect Vaikora and AWS accounts and to follow
  the status of imports.</p>
  <p><a class="button" href="/ui/login">Sign in</a></p>
</div>
<div class="card">
  <h2>Developers</h2>
  <ul>
    <li><a href="/docs">API reference</a>: every operation with its schemas and examples; try calls with your key.</li>
    <li><a href="/openapi.json">OpenAPI document</a> (OpenAPI 3.1, JSON) for generating clients.</li>
    <li><a href="/health">Health</a> (the process is up) and <a href="/ready">readiness</a> (the database answers and is migrated).</li>
  </ul>
</div>`;
    return c.html(page({ title: 'Welcome', nonce, active: 'none', body }));
  });

  return landing;
}
