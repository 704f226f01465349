import { randomBytes } from 'node:crypto';
import { Hono } from 'hono';
import { html } from 'hono/html';
import { HTTPException } from 'hono/http-exception';
import type { ApiDeps } from '../deps.ts';
import { type ApiErrorCode, asApiError } from '../errors.ts';
import { csrfMiddleware, registerAuthRoutes, sessionMiddleware } from './auth.ts';
import { registerChecklistRoutes, registerRunNowGuard } from './checklist.ts';
import { render, type UiContext, type UiEnv } from './context.ts';
import { registerInviteRoutes } from './invite.ts';
import { registerOnboardingRoutes } from './onboarding.ts';
import { registerOperatorRoutes } from './operator.ts';
import { createSessionStore, type SessionStore } from './session.ts';
import { registerStatusRoutes } from './status.ts';
import { registerVaikoraRoutes } from './vaikora.ts';

const TITLES: Partial<Record<ApiErrorCode, string>> = {
  NOT_FOUND: 'Not found',
  FORBIDDEN: 'Not allowed',
  UNAUTHORIZED: 'Please sign in',
  VALIDATION_FAILED: 'Something in the request is not right',
  RATE_LIMITED: 'Too many requests',
  TENANT_OFFBOARDED: 'This tenant is offboarded',
  NOT_CONFIGURED: 'Not set up yet',
  CONFLICT: 'That conflicts with what exists',
  PAYLOAD_TOO_LARGE: 'The form is too large',
  NOT_READY: 'Not ready yet',
  INTERNAL: 'Something went wrong',
};

const HTTP_CODES: Partial<Record<number, ApiErrorCode>> = {
  400: 'VALIDATION_FAILED',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  429: 'RATE_LIMITED',
};

type PageStatus = 400 | 401 | 403 | 404 | 409 | 410 | 422 | 429 | 500 | 503;

function errorPage(c: UiContext, code: ApiErrorCode, message: string, status: number) {
  const shown: PageStatus =
    ([400, 401, 403, 404, 409, 410, 422, 429, 503] as const).find((s) => s === status) ?? 500;
  const session = c.get('session');
  return render(c, {
    title: TITLES[code] ?? 'Error',
    active: 'none',
    status: shown,
    body: html`<h1>${TITLES[code] ?? 'Error'}</h1>
<div class="card" role="alert">
<p>${message}</p>
<p class="muted">Error code <code>${code}</code> · request id <code>${c.get('requestId') ?? 'unknown'}</code></p>
</div>
<p>${session === undefined ? html`<a href="/ui/login">Sign in</a>` : html`<a href="/ui">Back to the start page</a>`}</p>`,
  });
}

export interface UiOptions {
  /** Defaults: 12 h absolute, 1 h idle, 10,000 sessions. */
  sessions?: SessionStore;
}

/**
 * The web pages under /ui: sign-in, onboarding, tenant status, operator overview. Server-rendered HTML
 * from the same service functions the API routes use; sessions and CSRF as in ADR 0090.
 */
export function uiApp(deps: ApiDeps, options: UiOptions = {}): Hono<UiEnv> {
  const store =
    options.sessions ??
    createSessionStore({ absoluteTtlMs: 12 * 3_600_000, idleTtlMs: 3_600_000, maxSessions: 10_000 });
  const ui = new Hono<UiEnv>();

  ui.use('*', async (c, next) => {
    const nonce = randomBytes(16).toString('base64');
    c.set('nonce', nonce);
    c.set('session', undefined);
    c.set('ownTenant', undefined);
    await next();
    c.header(
      'Content-Security-Policy',
      `default-src 'none'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
    );
    c.header('Cache-Control', 'no-store');
  });
  ui.use('*', sessionMiddleware(deps, store));
  ui.use('*', csrfMiddleware());

  registerAuthRoutes(ui, deps, store);
  registerChecklistRoutes(ui, deps);
  registerVaikoraRoutes(ui, deps);
  registerOnboardingRoutes(ui, deps);
  registerRunNowGuard(ui, deps);
  registerStatusRoutes(ui, deps);
  registerInviteRoutes(ui, deps);
  registerOperatorRoutes(ui, deps);
  ui.all('*', (c) => errorPage(c, 'NOT_FOUND', 'There is no page at this address.', 404));

  ui.onError((err, c) => {
    const apiError = asApiError(err);
    if (apiError !== undefined) {
      if (apiError.code === 'UNAUTHORIZED') return c.redirect('/ui/login', 303);
      for (const [name, value] of Object.entries(apiError.headers)) c.header(name, value);
      return errorPage(c, apiError.code, apiError.message, apiError.status);
    }
    if (err instanceof HTTPException) {
      const code = HTTP_CODES[err.status];
      if (code !== undefined) return errorPage(c, code, 'The request could not be read.', err.status);
    }
    const id = c.get('requestId') ?? 'unknown';
    deps.logger.error({ requestId: id, err }, 'unexpected error in a page');
    return errorPage(c, 'INTERNAL', `An unexpected error happened. Quote request id ${id} to support.`, 500);
  });
  return ui;
}
