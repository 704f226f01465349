import type { ChecklistState } from '@vsh/core';
import type { Database, Tenant } from '@vsh/db';
import type { Hono } from 'hono';
import { html } from 'hono/html';
import type { ApiDeps, Principal } from '../deps.ts';
import { type Health, healthFacts } from '../services/health.ts';
import { vaikoraConfigured } from '../services/vaikora-settings.ts';
import { field, render, sessionOf, tenantFor, tenantQuery, type UiContext, type UiEnv } from './context.ts';
import { findTenant } from './data.ts';
import { newLinkForm } from './invite.ts';
import { type Markup, pill } from './layout.ts';

/** One step's state: done, still to do, or set up but failing. */
type StepState = ChecklistState;

/** The three onboarding steps of a tenant, with what the page says about each. */
export interface Checklist {
  vaikora: StepState;
  aws: StepState;
  firstFinding: StepState;
  /** Why a step is a problem (Vaikora's last error, a disabled account, a failed run), for a person. */
  notes: { vaikora?: string; aws?: string; firstFinding?: string };
  complete: boolean;
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * A tenant's checklist from its health (the one health model, services/health.ts, ADR 0100), so the
 * checklist, the status page, the operator overview and the CLI agree on every step; pure, so the status
 * page derives it from the health it already read (ADR 0109).
 */
export function checklistFrom(health: Health): Checklist {
  const { checklist, vaikora, destinations } = health;
  const notes: Checklist['notes'] = {};
  if (checklist.vaikora === 'problem' && vaikora.lastError !== null) notes.vaikora = vaikora.lastError;
  if (checklist.aws === 'problem') {
    notes.aws = `${plural(destinations.disabled + destinations.degraded, 'AWS account is', 'AWS accounts are')} disabled or degraded`;
  }
  if (checklist.firstFinding === 'problem') notes.firstFinding = 'the last run failed';
  return {
    ...checklist,
    notes,
    complete: checklist.vaikora === 'done' && checklist.aws === 'done' && checklist.firstFinding === 'done',
  };
}

/** A tenant's checklist, read from its health facts. */
async function checklistOf(db: Database, tenant: Tenant, now: Date): Promise<Checklist> {
  const facts = (await healthFacts(db, [tenant], now)).get(tenant.id);
  if (facts === undefined) throw new Error(`no health for tenant ${tenant.id}`);
  return checklistFrom(facts.health);
}

/** Where a principal lands after sign-in: the operator overview, the checklist until it is complete, else status. */
export async function homeFor(db: Database, principal: Principal, now: Date): Promise<string> {
  if (principal.kind === 'operator') return '/ui/operator';
  const tenant = await findTenant(db, principal.tenantId);
  if (tenant === undefined) return '/ui/start';
  return (await checklistOf(db, tenant, now)).complete ? '/ui/status' : '/ui/start';
}

const STATE_PILLS: Record<StepState, Markup> = {
  done: pill('ok', 'Done'),
  todo: pill('neutral', 'To do'),
  problem: pill('bad', 'Needs a fix'),
};

/**
 * The checklist card: each step with its state and the link that does it; the first step not done is
 * the primary action. Shown on /ui/start and, until complete, at the top of the status page.
 */
export function checklistCard(c: UiContext, tenant: Tenant, list: Checklist): Markup {
  const q = tenantQuery(c, tenant);
  const steps: Array<{
    id: string;
    state: StepState;
    title: string;
    text: Markup;
    href: string;
    action: string;
  }> = [
    {
      id: 'vaikora',
      state: list.vaikora,
      title: 'Connect Vaikora',
      text:
        list.notes.vaikora === undefined
          ? html`Give us a Vaikora API key and choose which agents to watch.`
          : html`Vaikora answered with an error: ${list.notes.vaikora}`,
      href: `/ui/vaikora${q}`,
      action: list.vaikora === 'done' ? 'Change the connection' : 'Connect Vaikora',
    },
    {
      id: 'aws',
      state: list.aws,
      title: 'Verify an AWS account',
      text:
        list.notes.aws === undefined
          ? html`Add an AWS account, deploy one IAM role in it and verify the role.`
          : html`${list.notes.aws}.`,
      href: `/ui/onboarding${q}`,
      action: list.aws === 'done' ? 'Manage AWS accounts' : 'Add an AWS account',
    },
    {
      id: 'finding',
      state: list.firstFinding,
      title: 'See the first finding',
      text:
        list.firstFinding === 'done'
          ? html`Findings are reaching Security Hub.`
          : html`Once both steps above are done, the next run sends the first finding; the status page shows it as it arrives.`,
      href: `/ui/status${q}`,
      action: 'Open the status page',
    },
  ];
  const next = steps.find((step) => step.state !== 'done')?.id;
  const done = steps.filter((step) => step.state === 'done').length;
  return html`<section class="card" aria-labelledby="checklist-h" id="checklist">
<div class="row between"><h2 id="checklist-h">Get started: ${done} of 3 done</h2></div>
<ol class="steps">${steps.map(
    (step) => html`<li data-step="${step.id}" data-state="${step.state}">
<div class="row"><strong>${step.title}</strong> ${STATE_PILLS[step.state]}</div>
<p class="muted">${step.text}</p>
<a class="button${step.id === next ? '' : ' secondary'}" href="${step.href}">${step.action}</a>
</li>`,
  )}</ol>
</section>`;
}

/** GET /ui/start: the tenant's home until its checklist is complete. */
export function registerChecklistRoutes(ui: Hono<UiEnv>, deps: ApiDeps): void {
  ui.get('/start', async (c) => {
    const tenant = await tenantFor(c, c.req.query('tenant'));
    if (tenant === undefined) return c.redirect('/ui/operator', 303);
    const list = await checklistOf(deps.db, tenant, deps.clock());
    const operator = sessionOf(c).principal.kind === 'operator';
    return render(c, {
      title: 'Get started',
      active: 'start',
      tenant,
      body: html`<h1>${operator ? html`Getting ${tenant.name} started` : html`Welcome, ${tenant.name}`}</h1>
<p class="lede">Three steps turn Vaikora's agent risk signals into AWS Security Hub findings. Each links to the page that does it.</p>
${list.complete ? html`<p class="alert ok" role="status">All set: findings are flowing. The status page shows what the connector does.</p>` : ''}
${checklistCard(c, tenant, list)}
${operator && tenant.state === 'active' ? newLinkForm(c, tenant) : ''}`,
    });
  });
}

/**
 * Runs before the status page's "Run now": without Vaikora settings a run has nothing to read, so instead
 * of the NOT_CONFIGURED error page the person is taken to the Vaikora step with the reason.
 */
export function registerRunNowGuard(ui: Hono<UiEnv>, deps: ApiDeps): void {
  ui.post('/status/run-now', async (c, next) => {
    const form = await c.req.parseBody();
    const tenant = await tenantFor(c, field(form, 'tenant', 64) || undefined);
    if (tenant !== undefined && !(await vaikoraConfigured(deps.db, tenant.id))) {
      const q = tenantQuery(c, tenant);
      return c.redirect(`/ui/vaikora${q}${q === '' ? '?' : '&'}needed=run`, 303);
    }
    await next();
  });
}
