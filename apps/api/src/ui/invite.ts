import type { Tenant } from '@vsh/db';
import type { Hono } from 'hono';
import { html } from 'hono/html';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { ServiceError } from '../services/errors.ts';
import { createSignInLink } from '../services/sign-in-links.ts';
import { createTenant, createTenantSchema } from '../services/tenants.ts';
import { field, pageActor, render, sessionOf, tenantFor, type UiContext, type UiEnv } from './context.ts';
import { codeBlock, csrfField, type Markup, when } from './layout.ts';

interface InviteForm {
  name: string;
  plan: string;
  errors: Partial<Record<'name' | 'plan', string>>;
}

function requireOperator(c: UiContext): void {
  if (sessionOf(c).principal.kind !== 'operator') {
    throw new ApiError('FORBIDDEN', 'this page is for the operator only');
  }
}

function inviteForm(c: UiContext, form: InviteForm): Markup {
  const err = form.errors;
  return html`<p><a href="/ui/operator">← All tenants</a></p>
<h1>Invite a tenant</h1>
<p class="lede">Creates the tenant with its first API key and a one-time sign-in link. Send the link to the customer; they sign in with it and the checklist leads them through Vaikora and AWS.</p>
<section class="card" aria-labelledby="invite-h">
  <h2 id="invite-h">The new tenant</h2>
  <form class="stack" method="post" action="/ui/operator/tenants" data-busy="Creating…">
    ${csrfField(sessionOf(c).csrfToken)}
    <div>
      <label for="name">Name <span class="hint" id="name-hint">The customer's organisation, as they call it, e.g. Acme Corp</span></label>
      <input id="name" name="name" type="text" autocomplete="organization" required value="${form.name}"
        aria-describedby="name-hint${err.name === undefined ? '' : ' name-error'}"
        ${err.name === undefined ? '' : html`aria-invalid="true"`}>
      ${err.name === undefined ? '' : html`<p class="fix" id="name-error">${err.name}</p>`}
    </div>
    <div>
      <label for="plan">Plan <span class="hint" id="plan-hint">Optional: lower-case letters, digits, _ or -, e.g. standard</span></label>
      <input id="plan" name="plan" type="text" autocomplete="off" value="${form.plan}"
        aria-describedby="plan-hint${err.plan === undefined ? '' : ' plan-error'}"
        ${err.plan === undefined ? '' : html`aria-invalid="true"`}>
      ${err.plan === undefined ? '' : html`<p class="fix" id="plan-error">${err.plan}</p>`}
    </div>
    <div><button type="submit" id="create-tenant">Create tenant and sign-in link</button></div>
  </form>
</section>`;
}

/** The operator's form that makes a new one-time sign-in link for a tenant (shown on its checklist). */
export function newLinkForm(c: UiContext, tenant: Tenant): Markup {
  return html`<section class="card" aria-labelledby="new-link-h">
  <h2 id="new-link-h">Sign-in link</h2>
  <p class="muted">A link was lost or has expired? Make a new one-time link that signs in as ${tenant.name}'s newest API key.</p>
  <form method="post" action="/ui/operator/tenants/${tenant.id}/sign-in-links">
    ${csrfField(sessionOf(c).csrfToken)}
    <button type="submit" class="secondary" id="new-sign-in-link">Create a new sign-in link</button>
  </form>
</section>`;
}

/** The operator's invite: a form that creates a tenant, then its key and one-time sign-in link, shown once. */
export function registerInviteRoutes(ui: Hono<UiEnv>, deps: ApiDeps): void {
  ui.get('/operator/tenants/new', (c) => {
    requireOperator(c);
    return render(c, {
      title: 'Invite a tenant',
      active: 'operator',
      body: inviteForm(c, { name: '', plan: '', errors: {} }),
    });
  });

  ui.post('/operator/tenants', async (c) => {
    requireOperator(c);
    const form = await c.req.parseBody();
    const name = field(form, 'name', 300).trim();
    const plan = field(form, 'plan', 100).trim();
    const parsed = createTenantSchema.safeParse({ name, ...(plan === '' ? {} : { plan }) });
    if (!parsed.success) {
      const errors: InviteForm['errors'] = {};
      for (const issue of parsed.error.issues) {
        const key = issue.path[0] === 'plan' ? 'plan' : 'name';
        errors[key] ??= `${key === 'name' ? 'The name' : 'The plan'} ${issue.message}.`;
      }
      return render(c, {
        title: 'Invite a tenant',
        active: 'operator',
        status: 400,
        body: inviteForm(c, { name, plan, errors }),
      });
    }
    const actor = pageActor(c);
    const { tenant, apiKey } = await createTenant(deps, actor, parsed.data);
    // The tenant exists from here on: a link that cannot be made (no public base URL) must not hide the key.
    const link = await createSignInLink(deps, actor, tenant, { apiKeyId: apiKey.row.id }).catch(
      (err: unknown) => {
        if (err instanceof ServiceError && err.code === 'not_configured') return undefined;
        throw err;
      },
    );
    // Rendered in this answer, never redirected to: the key and the link exist here and nowhere else
    // (the page is no-store like every page).
    return render(c, {
      title: `Tenant ${tenant.name} created`,
      active: 'operator',
      status: 201,
      body: html`<p><a href="/ui/operator">← All tenants</a></p>
<h1>${tenant.name} is ready</h1>
<p class="lede">Tenant id <code id="tenant-id">${tenant.id}</code>. Send the customer the sign-in link; keep the API key for their automation or hand it over securely.</p>
<p class="alert bad" role="alert"><strong>Copy these now.</strong> The API key and the sign-in link are shown once and cannot be shown again. If they are lost, create a new key or a new link for this tenant.</p>
<section class="card" aria-labelledby="link-h">
  <h2 id="link-h">One-time sign-in link</h2>
  ${
    link === undefined
      ? html`<p class="alert info">Sign-in links need this deployment's public URL (PUBLIC_BASE_URL), which is not set. The customer can sign in with the API key below.</p>`
      : html`<p class="muted">Works once, until ${when(link.expiresAt)}.</p>
  ${codeBlock('sign-in-link', 'Sign-in link', link.url)}`
  }
</section>
<section class="card" aria-labelledby="key-h">
  <h2 id="key-h">API key</h2>
  <p class="muted">For the API and the CLI (<code>Authorization: Bearer …</code>); it also signs in on the sign-in page.</p>
  ${codeBlock('api-key', 'API key', apiKey.key)}
</section>
<p class="row"><a class="button secondary" href="/ui/start?tenant=${encodeURIComponent(tenant.id)}">See ${tenant.name}'s checklist</a>
<a href="/ui/operator/tenants/new">Invite another tenant</a></p>`,
    });
  });

  ui.post('/operator/tenants/:tenantId/sign-in-links', async (c) => {
    requireOperator(c);
    const tenant = await tenantFor(c, c.req.param('tenantId').slice(0, 64));
    if (tenant === undefined) throw new ApiError('NOT_FOUND', 'tenant not found');
    const link = await createSignInLink(deps, pageActor(c), tenant);
    return render(c, {
      title: `Sign-in link for ${tenant.name}`,
      active: 'operator',
      status: 201,
      body: html`<p><a href="/ui/start?tenant=${encodeURIComponent(tenant.id)}">← ${tenant.name}'s checklist</a></p>
<h1>New sign-in link for ${tenant.name}</h1>
<p class="alert bad" role="alert"><strong>Copy it now.</strong> The link is shown once. It works once, until ${when(link.expiresAt)}.</p>
<section class="card" aria-labelledby="link-h">
  <h2 id="link-h">One-time sign-in link</h2>
  ${codeBlock('sign-in-link', 'Sign-in link', link.url)}
</section>`,
    });
  });
}
