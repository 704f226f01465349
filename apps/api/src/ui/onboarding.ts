import { productArn } from '@vsh/core';
import {
  type AwsDestination,
  type DestinationDelivery,
  type DestinationState,
  destinationDeliveries,
  type Tenant,
} from '@vsh/db';
import type { Hono } from 'hono';
import { html } from 'hono/html';
import type { ApiDeps } from '../deps.ts';
import {
  deployRoleLocally,
  findDestination,
  listDestinations,
  registerDestination,
  registerDestinationSchema,
  setDestinationHeartbeat,
  updateDestinationRouting,
  verifyDestination,
  verifyDestinationRole,
} from '../services/destinations.ts';
import { ServiceError } from '../services/errors.ts';
import { onboardingOf, partitionOf } from '../services/onboarding.ts';
import { agentIdsSchema } from '../services/schemas.ts';
import { vaikoraAgents } from '../services/vaikora-settings.ts';
import type { UiContext, UiEnv } from './context.ts';
import * as page from './context.ts';
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
  return page.sessionOf(c).principal.kind === 'operator'
    ? html`<input type="hidden" name="tenant" value="${tenant.id}">`
    : html``;
}

interface AddForm {
  accountId: string;
  regions: string;
  /** null: every agent of the Vaikora settings. */
  agentIds: string[] | null;
  /** How findings arrive (ADR 0121, 0122), with the lake's bucket and source for `security_lake`. */
  delivery: DestinationDelivery;
  lakeBucket: string;
  lakeSource: string;
  errors: Partial<Record<'accountId' | 'regions' | 'agentIds' | 'delivery' | 'form', string>>;
}

const DELIVERY_LABELS: Record<DestinationDelivery, string> = {
  role: 'Security Hub, through a role you deploy in the account (CloudFormation)',
  partner:
    'Security Hub, as the Data443 Vaikora integration: no role, you accept its findings in Security Hub',
  security_lake: 'Amazon Security Lake, as OCSF Parquet into a custom source, through a role you deploy',
};

/** Radios for how findings arrive; partner-product mode only where this deployment offers it. */
function deliveryFields(form: AddForm, partnerOffered: boolean): Markup {
  const offered = destinationDeliveries.filter((d) => d !== 'partner' || partnerOffered);
  const error = form.errors.delivery;
  return html`<fieldset id="delivery" ${error === undefined ? '' : html`aria-invalid="true" aria-describedby="delivery-error"`}>
  <legend>How findings arrive</legend>
  ${offered.map(
    (d) =>
      html`<div class="check"><input type="radio" id="delivery-${d}" name="delivery" value="${d}" ${form.delivery === d ? 'checked' : ''}><label for="delivery-${d}">${DELIVERY_LABELS[d]}</label></div>`,
  )}
  <div class="stack" id="security-lake-fields">
    <div>
      <label for="lakeBucket">Security Lake bucket <span class="hint" id="lakeBucket-hint">For Security Lake only: the region's bucket, e.g. aws-security-data-lake-us-east-1-abc123 (name exactly one region above)</span></label>
      <input id="lakeBucket" name="lakeBucket" type="text" autocomplete="off" spellcheck="false" value="${form.lakeBucket}" aria-describedby="lakeBucket-hint">
    </div>
    <div>
      <label for="lakeSource">Custom source name <span class="hint" id="lakeSource-hint">For Security Lake only: the custom source you created for Vaikora, e.g. vaikora</span></label>
      <input id="lakeSource" name="lakeSource" type="text" autocomplete="off" spellcheck="false" value="${form.lakeSource}" aria-describedby="lakeSource-hint">
    </div>
  </div>
  ${error === undefined ? '' : html`<p class="fix" id="delivery-error">${error}</p>`}
</fieldset>`;
}

/** The routing the form asks for: null for "every agent", else the checked ids (validated like the API's). */
function routingOf(
  form: Record<string, unknown>,
): { ok: true; agentIds: string[] | null } | { ok: false; agentIds: string[]; error: string } {
  const agentIds = page.fieldList(form, 'agent');
  if (page.field(form, 'routing', 10) !== 'some') return { ok: true, agentIds: null };
  const parsed = agentIdsSchema.safeParse(agentIds);
  if (parsed.success) return { ok: true, agentIds: parsed.data };
  return {
    ok: false,
    agentIds,
    error: `Choose the agents: the list ${page.plainMessage(parsed.error.issues[0]?.message ?? 'is not valid')}.`,
  };
}

/** Radio "every agent" / "only these" and a checkbox per agent, for the add form and an account's page. */
function routingFields(agents: string[], chosen: string[] | null, error: string | undefined): Markup {
  const offered = [...new Set([...agents, ...(chosen ?? [])])];
  return html`<fieldset id="routing" ${error === undefined ? '' : html`aria-invalid="true" aria-describedby="routing-error"`}>
  <legend>Which Vaikora agents go to this account</legend>
  <div class="check"><input type="radio" id="routing-all" name="routing" value="all" ${chosen === null ? 'checked' : ''}><label for="routing-all">All agents${agents.length === 0 ? '' : html` <span class="muted">(${agents.length} now, and any added later)</span>`}</label></div>
  ${
    offered.length === 0
      ? html`<p class="hint">Connect Vaikora to choose agents one by one.</p>`
      : html`<div class="check"><input type="radio" id="routing-some" name="routing" value="some" ${chosen === null ? '' : 'checked'}><label for="routing-some">Only the agents checked below</label></div>
  ${offered.map(
    (id, i) =>
      html`<div class="check"><input type="checkbox" id="route-agent-${i}" name="agent" value="${id}" ${chosen?.includes(id) === true ? 'checked' : ''}><label for="route-agent-${i}"><code>${id}</code></label></div>`,
  )}`
  }
  ${error === undefined ? '' : html`<p class="fix" id="routing-error">${error}</p>`}
</fieldset>`;
}

function agentsCell(agentIds: string[] | null): Markup {
  return agentIds === null
    ? html`<span class="muted">All agents</span>`
    : html`${agentIds.map((id, i) => html`${i === 0 ? '' : ', '}<code>${id}</code>`)}`;
}

function listPage(
  c: UiContext,
  tenant: Tenant,
  rows: AwsDestination[],
  agents: string[],
  form: AddForm,
  partnerOffered: boolean,
): Markup {
  const q = page.tenantQuery(c, tenant);
  const session = page.sessionOf(c);
  const err = form.errors;
  return html`<h1>AWS accounts</h1>
<p class="lede">Connect the AWS accounts where ${tenant.name} wants Vaikora findings. For each account: add it here, deploy one IAM role in it, then verify the role.</p>
<section class="card" aria-labelledby="accounts-h">
  <h2 id="accounts-h">AWS accounts</h2>
  ${
    rows.length === 0
      ? html`<p class="empty">No AWS account yet. Add the first one below.</p>`
      : html`<div class="table-wrap"><table>
<caption class="sr-only">AWS accounts of ${tenant.name}</caption>
<thead><tr><th scope="col">Account</th><th scope="col">Regions</th><th scope="col">Agents</th><th scope="col">State</th><th scope="col">Last verified</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
<tbody>${rows.map(
          (row) => html`<tr>
<th scope="row"><code>${row.accountId}</code></th>
<td>${row.regions.join(', ')}</td>
<td>${agentsCell(row.agentIds)}</td>
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
    ${deliveryFields(form, partnerOffered)}
    ${routingFields(agents, form.agentIds, err.agentIds)}
    <div><button type="submit">Add account</button></div>
  </form>
</section>`;
}

interface VerifyForm {
  roleArn: string;
  error?: string | undefined;
  /** The routing as last posted, when it was refused. */
  routing?: string[] | null | undefined;
  routingError?: string | undefined;
  routingSaved?: boolean | undefined;
  heartbeatSaved?: boolean | undefined;
}

function destinationPage(
  c: UiContext,
  deps: ApiDeps,
  tenant: Tenant,
  row: AwsDestination,
  agents: string[],
  form: VerifyForm,
): Markup {
  const q = page.tenantQuery(c, tenant);
  const onboarding = onboardingOf(deps.config, row, deps.localAws !== undefined);
  const csrf = page.sessionOf(c).csrfToken;
  const verification = row.lastVerification;
  const failed = verification?.checks.filter((check) => !check.ok).length ?? 0;
  return html`<p><a href="/ui/onboarding${q}">← All AWS accounts</a></p>
<div class="row between"><h1>AWS account <code>${row.accountId}</code></h1>${destinationPill(row.state)}</div>
<p class="lede">Regions: ${row.regions.join(', ')}. ${
    row.delivery === 'partner'
      ? 'Two steps: accept the Data443 Vaikora integration in Security Hub, then verify it.'
      : row.delivery === 'security_lake'
        ? html`Findings go to Security Lake: <code>s3://${row.securityLakeBucket}/ext/${row.securityLakeSource}/</code>. Two steps: create the role in this account, then verify it.`
        : 'Two steps: create the role in this account, then verify it.'
  }</p>
${
  verification?.ok === true
    ? html`<div class="alert ok" role="status"><p><strong>Account verified.</strong> The next run sends findings here; the status page shows them as they arrive.</p><p><a class="button" href="/ui/status${q}">See the status page</a></p></div>`
    : ''
}
${
  row.delivery === 'partner'
    ? partnerSteps(c, deps, tenant, row, form)
    : html`<section class="card" aria-labelledby="step1-h">
  <h2 id="step1-h">1. Create the role in account ${row.accountId}</h2>
  ${
    onboarding.localDeployAvailable
      ? html`<p>This is the local stack: it can deploy the role into its emulated account ${row.accountId} for you, then verify it.</p>
  <form method="post" action="/ui/onboarding/destinations/${row.id}/local-deploy" data-busy="Deploying and verifying… (up to a minute)">
    ${csrfField(csrf)}${tenantField(c, tenant)}
    <button type="submit" id="local-deploy" class="${verification?.ok === true ? 'secondary' : ''}">${verification?.ok === true ? 'Deploy the role into local AWS again and verify' : 'Deploy the role into local AWS and verify'}</button>
  </form>
  <h3>Or by hand</h3>`
      : ''
  }
  <p>${
    onboarding.quickCreateUrl === null
      ? html`Deploy the stack in account ${row.accountId} with the template and the parameters below.`
      : html`Sign in to the AWS console of account ${row.accountId} and launch the stack.`
  } Every parameter is filled in; the ExternalId below ties the role to ${tenant.name} and only Data443's connector can use it.</p>
  <h3 id="external-id-h">ExternalId</h3>
  ${codeBlock('external-id', 'ExternalId', onboarding.externalId)}
  <p class="row">${
    onboarding.quickCreateUrl === null
      ? html`<span class="muted" id="launch-stack-unavailable">Launch Stack is not available here: ${onboarding.quickCreateUnavailableReason ?? 'no template is published'}.</span>`
      : html`<a class="button${onboarding.localDeployAvailable ? ' secondary' : ''}" id="launch-stack" href="${onboarding.quickCreateUrl}" target="_blank" rel="noopener noreferrer">Launch Stack in CloudFormation<span class="sr-only"> (opens in a new tab)</span></a>`
  }
  <span class="muted">Stack name <code id="stack-name">${onboarding.stackName}</code></span></p>
  <h3>Or with the AWS CLI</h3>
  <p class="muted">Save the template as <code>vaikora-securityhub-role.yaml</code> (<a id="template-download" href="${onboarding.templateUrl}" download="vaikora-securityhub-role.yaml">download</a>), then run:</p>
  ${codeBlock('deploy-command', 'Deploy command', onboarding.deployCommand)}
  ${
    deps.config.mode === 'local'
      ? html`<p class="muted">Or from this repository, with the connector CLI:</p>
  ${codeBlock('local-deploy-command', 'Local deploy command', `pnpm local deploy-role --tenant ${tenant.id} --destination ${row.id}`)}`
      : ''
  }
  <h3>Trust policy the role gets</h3>
  ${codeBlock('trust-policy', 'Trust policy', JSON.stringify(onboarding.trustPolicy, null, 2))}
  ${
    row.delivery === 'security_lake'
      ? html`<h3>Security Lake access to add to the role</h3>
  <p>The stack's role imports into Security Hub; for Security Lake also attach this policy to it (its last two statements let it write, and list, only the custom source's prefix):</p>
  ${codeBlock('permissions-policy', 'Permissions policy', JSON.stringify(onboarding.permissionsPolicy, null, 2))}`
      : ''
  }
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
    ${csrfField(page.sessionOf(c).csrfToken)}${tenantField(c, tenant)}
    <div>
      <label for="roleArn">Role ARN <span class="hint" id="roleArn-hint">Expected: <code>${onboarding.expectedRoleArn}</code></span></label>
      <input id="roleArn" name="roleArn" type="text" autocomplete="off" spellcheck="false" required value="${form.roleArn}"
        aria-describedby="roleArn-hint${form.error === undefined ? '' : ' roleArn-error'}"
        ${form.error === undefined ? '' : html`aria-invalid="true"`}>
    </div>
    <div><button type="submit" id="verify">Verify role</button></div>
  </form>
</section>`
}
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
</section>
<section class="card" aria-labelledby="routing-h">
  <h2 id="routing-h">Agents routed here</h2>
  <p>Now: ${agentsCell(row.agentIds)}</p>
  ${form.routingSaved === true ? html`<p class="alert ok" role="status">Routing saved.</p>` : ''}
  <form class="stack" method="post" action="/ui/onboarding/destinations/${row.id}/routing">
    ${csrfField(csrf)}${tenantField(c, tenant)}
    ${routingFields(agents, form.routing ?? row.agentIds, form.routingError)}
    <div><button type="submit" class="secondary" id="save-routing">Save routing</button></div>
  </form>
</section>
${
  row.delivery === 'security_lake'
    ? ''
    : html`<section class="card" aria-labelledby="heartbeat-h">
  <h2 id="heartbeat-h">Heartbeat finding</h2>
  <p>An informational finding in this account’s Security Hub, updated about once an hour while the connector runs, so your SOC can alert when it goes stale. Each update is one billed finding import per region.</p>
  ${form.heartbeatSaved === true ? html`<p class="alert ok" role="status">Heartbeat saved.</p>` : ''}
  <form class="stack" method="post" action="/ui/onboarding/destinations/${row.id}/heartbeat">
    ${csrfField(csrf)}${tenantField(c, tenant)}
    <div class="check"><input type="checkbox" id="heartbeat" name="heartbeat" value="on" ${row.heartbeatEnabled ? 'checked' : ''}><label for="heartbeat">Send the heartbeat finding</label></div>
    <div><button type="submit" class="secondary" id="save-heartbeat">Save heartbeat</button></div>
  </form>
</section>`
}`;
}

const CHECK_TITLES: Record<string, string> = {
  ASSUME_ROLE: 'Data443 can assume the role with the ExternalId',
  EXTERNAL_ID_REQUIRED: 'The role refuses callers without the ExternalId',
  SECURITY_HUB: 'Security Hub is enabled and accepts findings',
  PARTNER_PRODUCT: 'Security Hub accepts findings from the Data443 Vaikora integration',
  SECURITY_LAKE: "The role reaches the Security Lake custom source's folder",
};

/**
 * Partner-product mode (ADR 0121): no role. Step 1 is accepting the integration's findings in each
 * region; step 2 verifies by importing an archived delivery check into each region's hub.
 */
function partnerSteps(
  c: UiContext,
  deps: ApiDeps,
  tenant: Tenant,
  row: AwsDestination,
  form: VerifyForm,
): Markup {
  const product = deps.config.partnerProduct;
  const arns = row.regions.map((region) => ({
    region,
    arn:
      product === undefined
        ? ''
        : productArn({ accountId: row.accountId, region, partition: partitionOf(row), product }),
  }));
  return html`<section class="card" aria-labelledby="step1-h">
  <h2 id="step1-h">1. Accept the Data443 Vaikora integration in account ${row.accountId}</h2>
  ${
    product === undefined
      ? html`<p class="alert bad" role="alert">This deployment no longer offers the Data443 Vaikora integration: delete this account and add it with a role.</p>`
      : html`<p>In the Security Hub console of each region below: Integrations, find <strong>Data443 Vaikora</strong>, choose <strong>Accept findings</strong>. No role or stack is needed: findings come from Data443's account under this product.</p>
  ${arns.map(({ region, arn }) => html`<h3>${region}</h3>${codeBlock(`accept-${region}`, `Accept command for ${region}`, `aws securityhub enable-import-findings-for-product --product-arn ${arn} --region ${region}`)}`)}`
  }
</section>
<section class="card" aria-labelledby="step2-h">
  <h2 id="step2-h">2. Verify the integration</h2>
  <p>We import one archived, informational "delivery check" finding into each region's Security Hub: it is accepted only where the integration is.</p>
  ${form.error === undefined ? '' : html`<p class="alert bad" role="alert" id="verify-error">${form.error}</p>`}
  <form class="stack" method="post" action="/ui/onboarding/destinations/${row.id}/verify" data-busy="Verifying…">
    ${csrfField(page.sessionOf(c).csrfToken)}${tenantField(c, tenant)}
    <div><button type="submit" id="verify">Verify integration</button></div>
  </form>
</section>`;
}

function checkTitle(name: string): string {
  return CHECK_TITLES[name] ?? name;
}

/** The onboarding pages: a tenant's AWS accounts, adding one with its routing, deploying and verifying its role. */
export function registerOnboardingRoutes(ui: Hono<UiEnv>, deps: ApiDeps): void {
  const showDestination = async (
    c: UiContext,
    tenant: Tenant,
    row: AwsDestination,
    form: VerifyForm,
    status: 200 | 400 | 409 | 422 = 200,
  ) =>
    page.render(c, {
      title: `AWS account ${row.accountId}`,
      active: 'onboarding',
      tenant,
      status,
      body: destinationPage(c, deps, tenant, row, await vaikoraAgents(deps.db, tenant.id), form),
    });

  const showList = async (c: UiContext, tenant: Tenant, form: AddForm, status: 200 | 400 | 422 = 200) => {
    const [rows, agents] = await Promise.all([
      listDestinations(deps.db, tenant.id),
      vaikoraAgents(deps.db, tenant.id),
    ]);
    return page.render(c, {
      title: 'AWS accounts',
      active: 'onboarding',
      tenant,
      status,
      body: listPage(c, tenant, rows, agents, form, deps.config.partnerProduct !== undefined),
    });
  };

  ui.get('/onboarding', async (c) => {
    const tenant = await page.tenantFor(c, c.req.query('tenant'));
    if (tenant === undefined) return c.redirect('/ui/operator', 303);
    return showList(c, tenant, {
      accountId: '',
      regions: 'us-east-1',
      agentIds: null,
      delivery: 'role',
      lakeBucket: '',
      lakeSource: '',
      errors: {},
    });
  });

  ui.post('/onboarding/destinations', async (c) => {
    const form = await c.req.parseBody({ all: true });
    const tenant = await page.requireTenant(c, page.field(form, 'tenant', 64) || undefined);
    const accountId = page.field(form, 'accountId', 64).trim();
    const regionsText = page.field(form, 'regions', 2000);
    const regions = regionsText.split(/[\s,]+/).filter((region) => region !== '');
    const routing = routingOf(form);
    const chosen = page.field(form, 'delivery', 20);
    const delivery = destinationDeliveries.find((d) => d === chosen) ?? 'role';
    const lakeBucket = page.field(form, 'lakeBucket', 200).trim();
    const lakeSource = page.field(form, 'lakeSource', 200).trim();
    const parsed = registerDestinationSchema.safeParse({
      accountId,
      regions,
      delivery,
      ...(delivery === 'security_lake'
        ? { securityLake: { bucket: lakeBucket, sourceName: lakeSource } }
        : {}),
      ...(routing.ok && routing.agentIds !== null ? { agentIds: routing.agentIds } : {}),
    });
    const errors: AddForm['errors'] = {};
    if (!routing.ok) errors.agentIds = routing.error;
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const field = issue.path[0];
        const key =
          field === 'accountId'
            ? 'accountId'
            : field === 'agentIds'
              ? 'agentIds'
              : field === 'securityLake' || field === 'delivery'
                ? 'delivery'
                : 'regions';
        errors[key] ??=
          field === 'securityLake'
            ? `Security Lake ${issue.path[1] === 'bucket' ? 'bucket' : 'custom source name'}: ${issue.message}.`
            : issue.message;
      }
    } else if (routing.ok) {
      try {
        const row = await registerDestination(deps, page.pageActor(c), tenant, parsed.data);
        return c.redirect(`/ui/onboarding/destinations/${row.id}${page.tenantQuery(c, tenant)}`, 303);
      } catch (err) {
        const refusal = page.refusalOf(err);
        if (refusal === undefined) throw err;
        errors.form = refusal.message;
      }
    }
    return showList(
      c,
      tenant,
      {
        accountId,
        regions: regionsText,
        agentIds: routing.agentIds,
        delivery,
        lakeBucket,
        lakeSource,
        errors,
      },
      errors.form === undefined ? 400 : 422,
    );
  });

  ui.get('/onboarding/destinations/:destinationId', async (c) => {
    const tenant = await page.requireTenant(c, c.req.query('tenant'));
    const row = await findDestination(deps.db, tenant.id, c.req.param('destinationId').slice(0, 64));
    return showDestination(c, tenant, row, {
      roleArn: row.roleArn ?? '',
      routingSaved: c.req.query('routed') === '1',
      heartbeatSaved: c.req.query('heartbeat') === '1',
    });
  });

  ui.post('/onboarding/destinations/:destinationId/heartbeat', async (c) => {
    const form = await c.req.parseBody({ all: true });
    const tenant = await page.requireTenant(c, page.field(form, 'tenant', 64) || undefined);
    const destinationId = c.req.param('destinationId').slice(0, 64);
    await setDestinationHeartbeat(deps, page.pageActor(c), tenant, destinationId, {
      enabled: page.field(form, 'heartbeat', 4) === 'on',
    });
    const q = page.tenantQuery(c, tenant);
    return c.redirect(
      `/ui/onboarding/destinations/${destinationId}${q}${q === '' ? '?' : '&'}heartbeat=1#heartbeat-h`,
      303,
    );
  });

  ui.post('/onboarding/destinations/:destinationId/routing', async (c) => {
    const form = await c.req.parseBody({ all: true });
    const tenant = await page.requireTenant(c, page.field(form, 'tenant', 64) || undefined);
    const destinationId = c.req.param('destinationId').slice(0, 64);
    const routing = routingOf(form);
    let error: string;
    if (routing.ok) {
      try {
        await updateDestinationRouting(deps, page.pageActor(c), tenant, destinationId, {
          agentIds: routing.agentIds,
        });
        const q = page.tenantQuery(c, tenant);
        return c.redirect(
          `/ui/onboarding/destinations/${destinationId}${q}${q === '' ? '?' : '&'}routed=1#routing-h`,
          303,
        );
      } catch (err) {
        const refusal = page.refusalOf(err);
        if (refusal === undefined) throw err;
        error = refusal.message;
      }
    } else error = routing.error;
    const row = await findDestination(deps.db, tenant.id, destinationId);
    return showDestination(
      c,
      tenant,
      row,
      { roleArn: row.roleArn ?? '', routing: routing.agentIds, routingError: error },
      routing.ok ? 422 : 400,
    );
  });

  /**
   * A role step of an account's page: on success the page shows the stored verification (a redirect, so a
   * reload does not post again); a refusal shows the page with the error and the ARN tried.
   */
  const roleStep = async (
    c: UiContext,
    tenant: Tenant,
    destinationId: string,
    roleArn: string,
    /** Does the step; `tried` records a role ARN it produced, to show it if a later part fails. */
    step: (tried: (arn: string) => void) => Promise<void>,
  ) => {
    try {
      await step((arn) => {
        roleArn = arn;
      });
      return c.redirect(
        `/ui/onboarding/destinations/${destinationId}${page.tenantQuery(c, tenant)}#verification`,
        303,
      );
    } catch (err) {
      const refusal = page.refusalOf(err);
      if (refusal === undefined) throw err;
      const row = await findDestination(deps.db, tenant.id, destinationId);
      return showDestination(c, tenant, row, { roleArn, error: refusal.message }, refusal.status);
    }
  };

  ui.post('/onboarding/destinations/:destinationId/local-deploy', async (c) => {
    const form = await c.req.parseBody();
    const tenant = await page.requireTenant(c, page.field(form, 'tenant', 64) || undefined);
    const destinationId = c.req.param('destinationId').slice(0, 64);
    return roleStep(c, tenant, destinationId, '', async (tried) => {
      const { roleArn } = await deployRoleLocally(deps, page.pageActor(c), tenant, destinationId);
      tried(roleArn);
      // One click to a verified account: the role just deployed is verified like a pasted one.
      await verifyDestinationRole(deps, page.pageActor(c), tenant, destinationId, roleArn);
    });
  });

  ui.post('/onboarding/destinations/:destinationId/verify', async (c) => {
    const form = await c.req.parseBody();
    const tenant = await page.requireTenant(c, page.field(form, 'tenant', 64) || undefined);
    const destinationId = c.req.param('destinationId').slice(0, 64);
    const roleArn = page.field(form, 'roleArn', 2049).trim();
    const row = await findDestination(deps.db, tenant.id, destinationId);
    if (row.delivery === 'partner') {
      return roleStep(c, tenant, destinationId, '', async () => {
        await verifyDestination(deps, page.pageActor(c), tenant, destinationId, undefined);
      });
    }
    return roleStep(c, tenant, destinationId, roleArn, async () => {
      if (roleArn.length > 2048)
        throw new ServiceError('invalid_input', 'the role ARN is longer than 2048 characters');
      await verifyDestinationRole(deps, page.pageActor(c), tenant, destinationId, roleArn);
    });
  });
}
