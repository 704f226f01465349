import type { Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { createMiddleware } from 'hono/factory';
import { html } from 'hono/html';
import type { ApiDeps, Principal } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { createRateLimiter } from '../lib/rate-limit.ts';
import { clientAddress, principalResolver } from '../middleware/authenticate.ts';
import { peekSignInLink, redeemSignInLink, SIGN_IN_TOKEN_PATTERN } from '../services/sign-in-links.ts';
import { homeFor } from './checklist.ts';
import { field, render, type UiContext, type UiEnv } from './context.ts';
import { findTenant } from './data.ts';
import { randomToken, type SessionStore, tokensEqual } from './session.ts';

const MAX_KEY_LENGTH = 1024;
const KEY_CHARACTERS = /^[\x21-\x7e]+$/;
const LOGIN_COOKIE_MAX_AGE_S = 30 * 60;

/** Cookie names and attributes: `__Host-` and Secure in production; plain names over local http. */
export function cookieNames(mode: ApiDeps['config']['mode']) {
  const secure = mode === 'production';
  return {
    session: secure ? '__Host-vsh_session' : 'vsh_session',
    login: secure ? '__Host-vsh_login' : 'vsh_login',
    options: { httpOnly: true, sameSite: 'Strict', secure, path: '/' } as const,
  };
}

/** Where a signed-in principal lands: a tenant whose checklist is not complete, on the checklist. */
async function homeOf(c: UiContext, deps: ApiDeps): Promise<string> {
  const session = c.get('session');
  return session === undefined ? '/ui/login' : homeFor(deps.db, session.principal, deps.clock());
}

/** A local /ui path to return to after sign-in; anything else (other hosts, `//`, `/\`) goes home. */
function safeNext(next: string | undefined): string | undefined {
  if (next === undefined || next.length > 500) return undefined;
  return /^\/ui(?:\/[A-Za-z0-9/_-]*)?(?:\?[A-Za-z0-9=&_%.-]*)?$/.test(next) ? next : undefined;
}

/**
 * Loads the session named by the cookie from the database, in one query that also re-checks its principal
 * (a revoked key, an offboarded tenant or a changed operator key ends the session at once, on every
 * instance) and reads a tenant's own row. Pages other than sign-in then require one.
 */
export function sessionMiddleware(deps: ApiDeps, store: SessionStore) {
  const names = cookieNames(deps.config.mode);
  return createMiddleware<UiEnv>(async (c, next) => {
    const found = await store.find(deps, getCookie(c, names.session), deps.clock().getTime());
    const session = found?.session;
    c.set('session', session);
    if (session !== undefined) {
      c.set('principal', session.principal);
      if (session.principal.kind === 'tenant') c.set('ownTenant', found?.tenant);
    }
    const path = c.req.path;
    const open = path === '/ui/login' || path === '/ui/login/' || path === '/ui/login/link';
    if (session === undefined && !open) {
      if (c.req.method === 'GET') {
        const next = safeNext(`${path}${new URL(c.req.url).search}`);
        return c.redirect(
          next === undefined ? '/ui/login' : `/ui/login?next=${encodeURIComponent(next)}`,
          303,
        );
      }
      throw new ApiError('UNAUTHORIZED', 'your session has ended; sign in again');
    }
    await next();
  });
}

/** Refuses every POST of a signed-in page whose form does not carry the session's CSRF token. */
export function csrfMiddleware() {
  return createMiddleware<UiEnv>(async (c, next) => {
    const session = c.get('session');
    if (c.req.method === 'POST' && session !== undefined && !c.req.path.startsWith('/ui/login')) {
      const form = await c.req.parseBody();
      if (!tokensEqual(field(form, 'csrf', 200), session.csrfToken)) {
        throw new ApiError(
          'FORBIDDEN',
          'the form has expired or did not come from this site; reload the page and try again',
        );
      }
    }
    await next();
  });
}

function loginPage(o: { token: string; next: string | undefined; error?: string; info?: string }) {
  return html`<div class="login">
<h1>Sign in</h1>
<p class="lede">Paste your tenant API key (it starts with <code>vsh_</code>) or the operator key. The key is checked once and never stored in your browser.</p>
${o.info === undefined ? '' : html`<p class="alert info" role="status">${o.info}</p>`}
${o.error === undefined ? '' : html`<p class="alert bad" role="alert" id="key-error">${o.error}</p>`}
<div class="card">
<form class="stack" method="post" action="/ui/login">
  <input type="hidden" name="csrf" value="${o.token}">
  ${o.next === undefined ? '' : html`<input type="hidden" name="next" value="${o.next}">`}
  <div>
    <label for="key">API key</label>
    <input id="key" name="key" type="password" autocomplete="off" spellcheck="false" required
      ${o.error === undefined ? '' : html`aria-invalid="true" aria-describedby="key-error"`}>
  </div>
  <div><button type="submit">Sign in</button></div>
</form>
</div>
</div>`;
}

/**
 * GET/POST /ui/login and /ui/logout. Failed sign-ins are limited per address like the API's (in memory:
 * a wrong key costs the same whatever it is); successful ones per address and key in the database.
 */
export function registerAuthRoutes(ui: Hono<UiEnv>, deps: ApiDeps, store: SessionStore): void {
  const names = cookieNames(deps.config.mode);
  const principalFor = principalResolver(deps);
  const failures = createRateLimiter({
    perMinute: deps.config.authFailuresPerMinute,
    burst: deps.config.authFailuresPerMinute,
  });

  const showLogin = (
    c: UiContext,
    o: { error?: string; info?: string; status?: 200 | 401 | 403 | 429 | 503; next?: string | undefined },
  ) => {
    // Sign-in has no session yet, so its CSRF token is a double-submit cookie (SameSite=Strict as well).
    const token = randomToken();
    setCookie(c, names.login, token, { ...names.options, maxAge: LOGIN_COOKIE_MAX_AGE_S });
    const next = safeNext(o.next ?? c.req.query('next') ?? undefined);
    return render(c, {
      title: 'Sign in',
      active: 'none',
      status: o.status ?? 200,
      body: loginPage({ ...o, token, next }),
    });
  };

  /**
   * Starts a session for a principal exactly as every sign-in does (the per-key limits, a new token, the
   * browser's previous session ended so no fixation), then goes to `next` or home.
   */
  const startSession = async (
    c: UiContext,
    principal: Principal,
    next: string | undefined,
    refuse: (o: {
      error: string;
      status: 429 | 503;
      next?: string | undefined;
    }) => Response | Promise<Response>,
  ) => {
    const started = await store.start(deps, principal, {
      client: clientAddress(c.env),
      nowMs: deps.clock().getTime(),
    });
    if (!started.ok) {
      if (started.reason === 'full') {
        return refuse({ error: 'Too many sessions are open right now. Try again later.', status: 503, next });
      }
      c.header('Retry-After', String(started.retryAfterSeconds));
      return refuse({
        error: 'Too many sign-ins with this key from here. Wait a minute and try again.',
        status: 429,
        next,
      });
    }
    // A new token on every sign-in (no fixation); the session this browser had before ends.
    await store.end(deps, getCookie(c, names.session));
    setCookie(c, names.session, started.token, names.options);
    deleteCookie(c, names.login, { path: '/', secure: names.options.secure });
    return c.redirect(next ?? (await homeFor(deps.db, principal, deps.clock())), 303);
  };

  ui.get('/login', async (c) => {
    if (c.get('session') !== undefined) return c.redirect(await homeOf(c, deps), 303);
    return showLogin(c, c.req.query('signedOut') === '1' ? { info: 'You are signed out.' } : {});
  });

  ui.post('/login', async (c) => {
    const form = await c.req.parseBody();
    const next = safeNext(field(form, 'next', 600) || undefined);
    if (!tokensEqual(field(form, 'csrf', 200), getCookie(c, names.login))) {
      return showLogin(c, { error: 'The sign-in form expired. Please try again.', status: 403, next });
    }
    const key = field(form, 'key', MAX_KEY_LENGTH + 1).trim();
    const principal =
      key.length > 0 && key.length <= MAX_KEY_LENGTH && KEY_CHARACTERS.test(key)
        ? await principalFor(key)
        : undefined;
    if (principal === undefined) {
      const limited = failures.take(clientAddress(c.env), deps.clock().getTime());
      if (!limited.ok) {
        c.header('Retry-After', String(limited.retryAfterSeconds));
        return showLogin(c, {
          error: 'Too many failed attempts. Wait a minute and try again.',
          status: 429,
          next,
        });
      }
      return showLogin(c, {
        error: 'That key is not valid. Check that you pasted all of it.',
        status: 401,
        next,
      });
    }
    return startSession(c, principal, next, (o) => showLogin(c, o));
  });

  const linkPage = (c: UiContext, o: { token: string; tenantName: string }) => {
    const csrf = randomToken();
    setCookie(c, names.login, csrf, { ...names.options, maxAge: LOGIN_COOKIE_MAX_AGE_S });
    return render(c, {
      title: `Continue as ${o.tenantName}`,
      active: 'none',
      body: html`<div class="login">
<h1>Continue as ${o.tenantName}</h1>
<p class="lede">This one-time link signs you in to ${o.tenantName}'s connector pages. It works once; after that, sign in with an API key or ask for a new link.</p>
<div class="card">
<form method="post" action="/ui/login/link">
  <input type="hidden" name="csrf" value="${csrf}">
  <input type="hidden" name="token" value="${o.token}">
  <button type="submit" id="continue">Continue as ${o.tenantName}</button>
</form>
</div>
</div>`,
    });
  };

  const deadLink = (c: UiContext, status: 403 | 410 | 429 | 503 = 410, reason?: string) =>
    render(c, {
      title: 'This sign-in link cannot be used',
      active: 'none',
      status,
      body: html`<div class="login">
<h1>This sign-in link cannot be used</h1>
<div class="card" role="alert">
<p>${reason ?? 'The link was already used, has expired, or is not a link we issued. Each link signs in once, and only until it expires.'}</p>
<p>Ask your operator for a new sign-in link, or sign in with your tenant API key.</p>
</div>
<p><a class="button" href="/ui/login">Sign in with an API key</a></p>
</div>`,
    });

  // The link's GET only shows a button: link previewers and scanners fetch GETs, and must not use it up.
  ui.get('/login/link', async (c) => {
    const token = c.req.query('token') ?? '';
    const link = SIGN_IN_TOKEN_PATTERN.test(token)
      ? await peekSignInLink(deps, token, deps.clock().getTime())
      : undefined;
    if (link === undefined) return deadLink(c);
    return linkPage(c, { token, tenantName: link.tenantName });
  });

  ui.post('/login/link', async (c) => {
    const form = await c.req.parseBody();
    const token = field(form, 'token', 256);
    if (!tokensEqual(field(form, 'csrf', 200), getCookie(c, names.login))) {
      return deadLink(
        c,
        403,
        'The page expired or did not come from this site. Open the link from your message again.',
      );
    }
    const principal = SIGN_IN_TOKEN_PATTERN.test(token)
      ? await redeemSignInLink(deps, token, deps.clock().getTime())
      : undefined;
    if (principal === undefined) {
      const limited = failures.take(clientAddress(c.env), deps.clock().getTime());
      if (!limited.ok) {
        c.header('Retry-After', String(limited.retryAfterSeconds));
        return deadLink(c, 429, 'Too many failed attempts. Wait a minute and try again.');
      }
      return deadLink(c);
    }
    const tenantName =
      principal.kind === 'tenant'
        ? ((await findTenant(deps.db, principal.tenantId))?.name ?? 'tenant')
        : 'tenant';
    // The link is spent either way; a refused session start shows why, and the key still signs in.
    return startSession(c, principal, undefined, (o) =>
      deadLink(
        c,
        o.status,
        `${o.error} This link is now used up: sign in with ${tenantName}'s API key, or ask for a new link.`,
      ),
    );
  });

  ui.get('/logout', (c) => {
    const session = c.get('session');
    if (session === undefined) return c.redirect('/ui/login', 303);
    return render(c, {
      title: 'Sign out',
      active: 'none',
      body: html`<h1>Sign out</h1>
<div class="card"><form method="post" action="/ui/logout">
<input type="hidden" name="csrf" value="${session.csrfToken}">
<p>End this session on this browser?</p>
<button type="submit">Sign out</button>
</form></div>`,
    });
  });

  ui.post('/logout', async (c) => {
    await store.end(deps, getCookie(c, names.session));
    deleteCookie(c, names.session, { path: '/', secure: names.options.secure });
    return c.redirect('/ui/login?signedOut=1', 303);
  });

  ui.get('/', async (c) => c.redirect(await homeOf(c, deps), 303));
}
