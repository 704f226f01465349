import type { Tenant } from '@vsh/db';
import type { Context } from 'hono';
import type { AppEnv } from '../deps.ts';
import { ApiError, apiErrorOf } from '../errors.ts';
import type { Actor } from '../lib/audit.ts';
import { ServiceError } from '../services/errors.ts';
import { findTenant } from './data.ts';
import { type Markup, type NavItem, page } from './layout.ts';
import type { Session } from './session.ts';

/** Hono environment of the web pages: the API's, plus the page nonce and, once signed in, the session. */
export interface UiEnv {
  Variables: AppEnv['Variables'] & {
    nonce: string;
    session: Session | undefined;
    /** For a tenant principal, its own tenant (loaded once per request to label the header). */
    ownTenant: Tenant | undefined;
  };
}

export type UiContext = Context<UiEnv>;

/** The session of a page that requires one (the session middleware redirects before this can fail). */
export function sessionOf(c: UiContext): Session {
  const session = c.get('session');
  if (session === undefined) throw new ApiError('UNAUTHORIZED', 'sign in first');
  return session;
}

/**
 * The tenant a page is about: a tenant's own (asking for another answers NOT_FOUND, exactly like the API,
 * so a key learns nothing about other tenants), or for the operator the one named by `tenantId`.
 */
export async function tenantFor(c: UiContext, tenantId: string | undefined): Promise<Tenant | undefined> {
  const { principal } = sessionOf(c);
  if (principal.kind === 'tenant') {
    if (tenantId !== undefined && tenantId !== '' && tenantId !== principal.tenantId) {
      throw new ApiError('NOT_FOUND', 'tenant not found');
    }
    const own = c.get('ownTenant');
    if (own === undefined) throw new ApiError('NOT_FOUND', 'tenant not found');
    c.set('tenant', own);
    return own;
  }
  if (tenantId === undefined || tenantId === '') return undefined;
  const tenant = await findTenant(c.get('deps').db, tenantId);
  if (tenant === undefined) throw new ApiError('NOT_FOUND', 'tenant not found');
  c.set('tenant', tenant);
  return tenant;
}

/** The query string that keeps an operator on the tenant they are looking at; empty for a tenant. */
export function tenantQuery(c: UiContext, tenant: Tenant): string {
  return sessionOf(c).principal.kind === 'operator' ? `?tenant=${encodeURIComponent(tenant.id)}` : '';
}

/** Renders a page in the shell, with the session's header when there is one. */
export function render(
  c: UiContext,
  options: {
    title: string;
    active: NavItem;
    body: Markup;
    tenant?: Tenant | undefined;
    status?: 200 | 201 | 400 | 401 | 403 | 404 | 409 | 410 | 422 | 429 | 500 | 503;
  },
) {
  const session = c.get('session');
  const own = c.get('ownTenant');
  const label = session?.principal.kind === 'operator' ? 'Operator' : (own?.name ?? 'tenant');
  return c.html(
    page({
      title: options.title,
      nonce: c.get('nonce'),
      active: options.active,
      session:
        session === undefined
          ? undefined
          : { principal: session.principal, csrfToken: session.csrfToken, label },
      tenantQuery: options.tenant === undefined ? undefined : tenantQuery(c, options.tenant),
      body: options.body,
    }),
    options.status ?? 200,
  );
}

/** A form field as a string ('' when absent or a file), bounded so a huge field cannot reach a query. */
export function field(form: Record<string, unknown>, name: string, max = 4096): string {
  const value = form[name];
  return typeof value === 'string' ? value.slice(0, max) : '';
}

/** A repeated form field (checkbox lists; parse the body with `all: true`) as strings, bounded in count and length. */
export function fieldList(form: Record<string, unknown>, name: string): string[] {
  const value = form[name];
  const items = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return items
    .filter((v): v is string => typeof v === 'string')
    .slice(0, 200)
    .map((v) => v.slice(0, 256));
}

/** A service error's message without the `body.field: ` prefix the JSON API uses. */
export function plainMessage(message: string): string {
  return message.replace(/^(?:body|query|path)\.[A-Za-z[\]0-9.]+: /, '');
}

/** Who is acting on a page: the session's principal, in this request (for the services' audit entries). */
export function pageActor(c: UiContext): Actor {
  return { principal: sessionOf(c).principal, requestId: c.get('requestId') };
}

/** Sends an operator without a chosen tenant to the overview, where every tenant is linked. */
export async function requireTenant(c: UiContext, tenantId: string | undefined): Promise<Tenant> {
  const tenant = await tenantFor(c, tenantId);
  if (tenant === undefined)
    throw new ApiError('VALIDATION_FAILED', 'choose a tenant on the operator overview first');
  return tenant;
}

/** A service's refusal as a page shows it next to the form that caused it. */
export interface Refusal {
  error: ServiceError;
  /** The message for a person (no `body.field: ` prefix). */
  message: string;
  /** The status the page answers with: the API's for the same refusal (400, 409 or 422). */
  status: 400 | 409 | 422;
}

/**
 * The refusal a page shows in place, or undefined for what is not the person's to fix there (a missing
 * resource, an upstream failure, anything unexpected): the caller rethrows those to the error page. The
 * status comes from the API's one mapping (errors.ts), so a page and the API answer alike.
 */
export function refusalOf(err: unknown): Refusal | undefined {
  if (!(err instanceof ServiceError) || err.code === 'not_found') return undefined;
  const { status } = apiErrorOf(err);
  if (status >= 500) return undefined;
  return {
    error: err,
    message: plainMessage(err.message),
    status: status === 400 || status === 409 ? status : 422,
  };
}
