import { type AwsDestination, awsDestinations, type DestinationState, type Tenant } from '@vsh/db';
import { asc, eq } from 'drizzle-orm';
import type { Hono } from 'hono';
import { html } from 'hono/html';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { bodySchema, registerDestination } from '../routes/destinations/create-destination.ts';
import { findDestination } from '../routes/destinations/find.ts';
import { onboardingOf } from '../routes/destinations/shared.ts';
import { verifyDestinationRole } from '../routes/destinations/verify-destination.ts';
import {
  field,
  plainMessage,
  render,
  sessionOf,
  tenantFor,
  tenantQuery,
  type UiContext,
  type UiEnv,
} from './context.ts';
import { codeBlock, csrfField, type Markup, pill, type Tone, when } from './layout.ts';

const DESTINATION_PILLS: Record<DestinationState, [Tone, string]> = {
  pending: ['neutral', 'Pending'],
  verified: ['ok', 'Verified'],
  active: ['ok', 'Active'],
  degraded: ['warn', 'Degraded'],
  disabled: ['bad', 'Disabled'],
};

/** The pill of a destination state. */
export function destinationPill(state: DestinationState): Markup {
  const [tone, label] = DESTINATION_PILLS[state];
  return pill(tone, label);
}

function tenantField(c: UiContext, tenant: Tenant): Markup {
  return sessionOf(c).principal.kind === 'operator'
    ? html`<input type="hidden" name="tenant" value="${tenant.id}">`
    : html``;
}

/** Sends an operator without a chosen tenant to the overview, where every tenant is linked. */
async function requireTenant(c: UiContext, tenantId: string | undefined): Promise<Tenant> {
  const tenant = await tenantFor(c, tenantId);
  if (tenant === undefined)
    throw new ApiError('VALIDATION_FAILED', 'choose a tenant on the operator overview first');
  return tenant;
}

interface AddForm {
  accountId: string;
  regions: string;
  errors: Partial<Record<'accountId' | 'regions' | 'form', string>>;
}

function listPage(c: UiContext, tenant: Tenant, rows: AwsDestination[], form: AddForm): Markup {
  const q = tenantQuery(c, tenant);
  const session = sessionOf(c);
  const err = form.errors;
  return html`<h1>Onboarding</h1>
<p class="lede">Connect the AWS accounts where ${tenant.name} wants Vaikora findings. For each account: add it here, deploy one IAM role in it, then verify the role.</p>
<section class="card" aria-labelledby="accounts-h">
  <h2 id="accounts-h">AWS accounts</h2>
  ${
    rows.length === 0
      ? html`<p class="empty">No AWS account yet. Add the first one below.</p>`
      : html`<div class="table-wrap"><table>
<caption class="sr-only">AWS accounts of ${tenant.name}</caption>
<thead><tr><th scope="col">Account</th><th scope="col">Regions</th><th scope="col">State</th><th scope="col">Last verified</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
<tbody>${rows.map(
          (row) => html`<tr>
<th scope="row"><code>${row.accountId}</code></th>
<td>${row.regions.join(', ')}</td>
<td>${destinationPill(row.state)}</td>
<td>${when(row.lastVerifiedAt)}</td>
<td><a href="/ui/onboarding/destinations/${row.id}${q}">${row.state === 'pending' ? 'Set up and verify' : 'Details'}<span class="sr-only"> for account ${row.accountId}</span></a></td>
</tr>`,
        )}</tbody></table></div>`
  }
</section>
<section class="card" aria-labelledby="add-h">
  <h2 id="add-h">Add an AWS account</h2>
  ${err.form === undefined ? '' : html`<p class="alert bad" role="alert">${err.form}</p>`}
  <form class="stack" method="post" action="/ui/onboarding/destinations">
    ${csrfField(session.csrfToken)}${tenantField(c, tenant)}
    <div>
      <label for="accountId">AWS account id <span class="hint" id="accountId-hint">12 digits, e.g. 210987654321</span></label>
      <input id="accountId" name="accountId" type="text" inputmode="numeric" autocomplete="off" required
        value="${form.accountId}" aria-describedby="accountId-hint${err.accountId === undefined ? '' : ' accountId-error'}"
        ${err.accountId === undefined ? '' : html`aria-invalid="true"`}>
      ${err.accountId === undefined ? '' : html`<p class="fix" id="accountId-error">${err.accountId}</p>`}
    </div>
    <div>
      <label for="regions">Regions <span class="hint" id="regions-hint">Where Security Hub should receive findings, separated by commas, e.g. us-east-1, eu-west-1</span></label>
      <input id="regions" name="regions" type="text" autocomplete="off" required value="${form.regions}"
        aria-describedby="regions-hint${err.regions === undefined ? '' : ' regions-error'}"
        ${err.regions === undefined ? '' : html`aria-invalid="true"`}>
      ${err.regions === undefined ? '' : html`<p class="fix" id="regions-error">${err.regions}</p>`}
    </div>
    <div><button type="submit">Add account</button></div>
  </form>
</section>`;
}

interface VerifyForm {
  roleArn: string;
  error?: string | undefined;
}

function destinationPage(
  c: UiContext,
  deps: ApiDeps,
  tenant: Tenant,
  row: AwsDestination,
  form: VerifyForm,
): Markup {
  const q = tenantQuery(c, tenant);
  const onboarding = onboardingOf(deps.config, row);
  const verification = row.lastVerification;
  const failed = verification?.checks.filter((check) => !check.ok).length ?? 0;
  return html`<p><a href="/ui/onboarding${q}">← All AWS accounts</a></p>
<div class="row between"><h1>AWS account <code>${row.accountId}</code></h1>${destinationPill(row.state)}</div>
<p class="lede">Regions: ${row.regions.join(', ')}. Two steps: create the role in this account, then verify it.</p>
<section class="card" aria-labelledby="step1-h">
  <h2 id="step1-h">1. Create the role in account ${row.accountId}</h2>
  <p>Sign in to the AWS console of account ${row.accountId} and launch the stack. Every parameter is filled in; the ExternalId below ties the role to ${tenant.name} and only Data443's connector can use it.</p>
  <h3 id="external-id-h">ExternalId</h3>
  ${codeBlock('external-id', 'ExternalId', onboarding.externalId)}
  <p class="row"><a class="button" id="launch-stack" href="${onboarding.quickCreateUrl}" target="_blank" rel="noopener noreferrer">Launch Stack in CloudFormation<span class="sr-only"> (opens in a new tab)</span></a>
  <span class="muted">Stack name <code id="stack-name">${onboarding.stackName}</code></span></p>
  <h3>Or with the AWS CLI</h3>
  <p class="muted">Save the template as <code>vaikora-securityhub-role.yaml</code> (<a href="${onboarding.templateUrl}">download</a>), then run:</p>
  ${codeBlock('deploy-command', 'Deploy command', onboarding.deployCommand)}
  <h3>Trust policy the role gets</h3>
  ${codeBlock('trust-policy', 'Trust policy', JSON.stringify(onboarding.trustPolicy, null, 2))}
  <details>
    <summary>Stack parameters</summary>
    <div class="table-wrap"><table id="parameters">
      <caption class="sr-only">CloudFormation stack parameters</caption>
      <thead><tr><th scope="col">Parameter</th><th scope="col">Value</th></tr></thead>
      <tbody>${Object.entries(onboarding.parameters).map(
        ([name, value]) =>
          html`<tr><th scope="row">${name}</th><td><code data-param="${name}">${value}</code></td></tr>`,
      )}</tbody>
    </table></div>
  </details>
</section>
<section class="card" aria-labelledby="step2-h">
  <h2 id="step2-h">2. Verify the role</h2>
  <p>When the stack is complete, copy the <code>RoleArn</code> output and paste it here. We assume the role with the ExternalId, check that it refuses anyone without it, and check Security Hub in each region.</p>
  ${form.error === undefined ? '' : html`<p class="alert bad" role="alert" id="roleArn-error">${form.error}</p>`}
  <form class="stack" method="post" action="/ui/onboarding/destinations/${row.id}/verify" data-busy="Verifying… (up to a minute)">
    ${csrfField(sessionOf(c).csrfToken)}${tenantField(c, tenant)}
    <div>
      <label for="roleArn">Role ARN <span class="hint" id="roleArn-hint">Expected: <code>${onboarding.expectedRoleArn}</code></span></label>
      <input id="roleArn" name="roleArn" type="text" autocomplete="off" spellcheck="false" required value="${form.roleArn}"
        aria-describedby="roleArn-hint${form.error === undefined ? '' : ' roleArn-error'}"
        ${form.error === undefined ? '' : html`aria-invalid="true"`}>
    </div>
    <div><button type="submit" id="verify">Verify role</button></div>
  </form>
</section>
<section class="card" aria-labelledby="verification-h" id="verification">
  <h2 id="verification-h">Verification result</h2>
  <div aria-live="polite" role="status" id="verification-result">
  ${
    verification === null
      ? html`<p class="empty">Not verified yet.</p>`
      : html`<p>${
          verification.ok
            ? pill('ok', 'All checks passed')
            : pill('bad', `${failed} of ${verification.checks.length} checks failed`)
        } <span class="muted">checked ${when(verification.checkedAt)}</span></p>
<ul class="checks">${verification.checks.map(
          (check) => html`<li data-check="${check.name}">
<div>${check.ok ? pill('ok', 'Passed') : pill('bad', 'Failed')}</div>
<div><strong>${checkTitle(check.name)}</strong>${check.region === undefined ? '' : html` <span class="muted">(${check.region})</span>`}
<div>${check.message ?? ''}</div>
${!check.ok && check.fix !== undefined ? html`<p class="fix"><strong>How to fix:</strong> ${check.fix}</p>` : ''}</div>
</li>`,
        )}</ul>
${verification.ok ? html`<p><a class="button secondary" href="/ui/status${q}">See the status page</a></p>` : ''}`
  }
  </div>
</section>`;
}

const CHECK_TITLES: Record<string, string> = {
  ASSUME_ROLE: 'Data443 can assume the role with the ExternalId',
  EXTERNAL_ID_REQUIRED: 'The role refuses callers without the ExternalId',
  SECURITY_HUB: 'Security Hub is enabled and accepts findings',
};

function checkTitle(name: string): string {
  return CHECK_TITLES[name] ?? name;
}

async function destinationsOf(deps: ApiDeps, tenantId: string): Promise<AwsDestination[]> {
  return deps.db
    .select()
    .from(awsDestinations)
    .where(eq(awsDestinations.tenantId, tenantId))
    .orderBy(asc(awsDestinations.id))
    .limit(500);
}

/** The onboarding pages: a tenant's AWS accounts, adding one, and verifying its role. */
export function registerOnboardingRoutes(ui: Hono<UiEnv>, deps: ApiDeps): void {
  ui.get('/onboarding', async (c) => {
    const tenant = await tenantFor(c, c.req.query('tenant'));
    if (tenant === undefined) return c.redirect('/ui/operator', 303);
    const rows = await destinationsOf(deps, tenant.id);
    return render(c, {
      title: 'Onboarding',
      active: 'onboarding',
      tenant,
      body: listPage(c, tenant, rows, { accountId: '', regions: 'us-east-1', errors: {} }),
    });
  });

  ui.post('/onboarding/destinations', async (c) => {
    const form = await c.req.parseBody();
    const tenant = await requireTenant(c, field(form, 'tenant', 64) || undefined);
    const accountId = field(form, 'accountId', 64).trim();
    const regionsText = field(form, 'regions', 2000);
    const regions = regionsText.split(/[\s,]+/).filter((region) => region !== '');
    const parsed = bodySchema.safeParse({ accountId, regions });
    const errors: AddForm['errors'] = {};
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const key = issue.path[0] === 'accountId' ? 'accountId' : 'regions';
        errors[key] ??= issue.message;
      }
    } else {
      try {
        const row = await registerDestination(
          deps,
          { principal: sessionOf(c).principal, requestId: c.get('requestId') },
          tenant,
          parsed.data,
        );
        return c.redirect(`/ui/onboarding/destinations/${row.id}${tenantQuery(c, tenant)}`, 303);
      } catch (err) {
        if (!(err instanceof ApiError) || err.status >= 500 || err.code === 'NOT_FOUND') throw err;
        errors.form = plainMessage(err.message);
      }
    }
    const rows = await destinationsOf(deps, tenant.id);
    return render(c, {
      title: 'Onboarding',
      active: 'onboarding',
      tenant,
      status: errors.form === undefined ? 400 : 422,
      body: listPage(c, tenant, rows, { accountId, regions: regionsText, errors }),
    });
  });

  ui.get('/onboarding/destinations/:destinationId', async (c) => {
    const tenant = await requireTenant(c, c.req.query('tenant'));
    const row = await findDestination(deps.db, tenant.id, c.req.param('destinationId').slice(0, 64));
    return render(c, {
      title: `AWS account ${row.accountId}`,
      active: 'onboarding',
      tenant,
      body: destinationPage(c, deps, tenant, row, { roleArn: row.roleArn ?? '' }),
    });
  });

  ui.post('/onboarding/destinations/:destinationId/verify', async (c) => {
    const form = await c.req.parseBody();
    const tenant = await requireTenant(c, field(form, 'tenant', 64) || undefined);
    const destinationId = c.req.param('destinationId').slice(0, 64);
    const roleArn = field(form, 'roleArn', 2049).trim();
    try {
      if (roleArn.length > 2048)
        throw new ApiError('VALIDATION_FAILED', 'the role ARN is longer than 2048 characters');
      await verifyDestinationRole(
        deps,
        { principal: sessionOf(c).principal, requestId: c.get('requestId') },
        tenant,
        destinationId,
        roleArn,
      );
      // The outcome is stored on the destination, so a redirect (no re-POST on reload) shows it.
      return c.redirect(
        `/ui/onboarding/destinations/${destinationId}${tenantQuery(c, tenant)}#verification`,
        303,
      );
    } catch (err) {
      if (!(err instanceof ApiError) || err.status >= 500 || err.code === 'NOT_FOUND') throw err;
      const row = await findDestination(deps.db, tenant.id, destinationId);
      return render(c, {
        title: `AWS account ${row.accountId}`,
        active: 'onboarding',
        tenant,
        status: err.status === 400 ? 400 : 422,
        body: destinationPage(c, deps, tenant, row, { roleArn, error: plainMessage(err.message) }),
      });
    }
  });
}
