import {
  DEFAULT_THREAT_SEVERITY_FLOOR,
  RISK_LEVELS,
  THREAT_SEVERITY_FLOORS,
  thresholdsSchema,
} from '@vsh/core';
import type { Tenant, VaikoraSettings } from '@vsh/db';
import type { Hono } from 'hono';
import { html } from 'hono/html';
import type { ApiDeps } from '../deps.ts';
import { ServiceError } from '../services/errors.ts';
import {
  DEFAULT_VAIKORA_BASE_URL,
  saveVaikoraSettings,
  testVaikoraConnection,
  type VaikoraTestResult,
  vaikoraSettingsInputSchema,
} from '../services/vaikora.ts';
import { findVaikoraSettings } from '../services/vaikora-settings.ts';
import type { UiContext, UiEnv } from './context.ts';
import * as page from './context.ts';
import { csrfField, type Markup, pill, when } from './layout.ts';

type FieldName =
  | 'apiKey'
  | 'baseUrl'
  | 'agentIds'
  | 'minRiskLevel'
  | 'minRiskScore'
  | 'threatSeverityFloor'
  | 'pollIntervalSeconds'
  | 'timeFilterParam'
  | 'form';

/** What the form shows: the person's last input (never the key), the agents offered, and errors by field. */
interface VaikoraForm {
  baseUrl: string;
  /** Agent ids offered as checkboxes: discovered, configured, and any the person chose. */
  offered: string[];
  selected: string[];
  otherAgents: string;
  minRiskLevel: string;
  minRiskScore: string;
  includeAnomalies: boolean;
  includeThreats: boolean;
  threatSeverityFloor: string;
  pollIntervalSeconds: string;
  timeFilterParam: string;
  errors: Partial<Record<FieldName, string>>;
}

/** What a "Test connection" found, shown in the live region; absent before a test. */
type TestOutcome = VaikoraTestResult | { ok: false; message: string; agents: null };

const OFF = 'off';

function formOf(settings: VaikoraSettings | undefined): VaikoraForm {
  const t = thresholdsSchema.parse(settings?.thresholds ?? {});
  return {
    baseUrl: settings?.baseUrl ?? DEFAULT_VAIKORA_BASE_URL,
    offered: settings?.agentIds ?? [],
    selected: settings?.agentIds ?? [],
    otherAgents: '',
    minRiskLevel: t.minRiskLevel ?? OFF,
    minRiskScore: t.minRiskScore === null ? '' : String(t.minRiskScore),
    includeAnomalies: t.includeAnomalies,
    includeThreats: t.includeThreats,
    threatSeverityFloor: t.threatSeverityFloor ?? DEFAULT_THREAT_SEVERITY_FLOOR,
    pollIntervalSeconds: String(settings?.pollIntervalSeconds ?? 300),
    timeFilterParam: settings?.timeFilterParam ?? '',
    errors: {},
  };
}

/** The form as posted (checkbox lists come as repeated fields: parseBody with `all`). */
function formFromPost(form: Record<string, unknown>): VaikoraForm {
  const selected = page.fieldList(form, 'agent');
  return {
    baseUrl: page.field(form, 'baseUrl', 2100).trim(),
    offered: [...new Set([...page.fieldList(form, 'offered'), ...selected])],
    selected,
    otherAgents: page.field(form, 'otherAgents', 30_000),
    minRiskLevel: page.field(form, 'minRiskLevel', 20) || OFF,
    minRiskScore: page.field(form, 'minRiskScore', 20).trim(),
    includeAnomalies: page.field(form, 'includeAnomalies', 10) === 'on',
    includeThreats: page.field(form, 'includeThreats', 10) === 'on',
    threatSeverityFloor: page.field(form, 'threatSeverityFloor', 20) || DEFAULT_THREAT_SEVERITY_FLOOR,
    pollIntervalSeconds: page.field(form, 'pollIntervalSeconds', 20).trim(),
    timeFilterParam: page.field(form, 'timeFilterParam', 100).trim(),
    errors: {},
  };
}

/** The settings body from the form, or the field errors (the same zod schema as PUT /vaikora). */
function bodyOf(form: VaikoraForm, apiKey: string) {
  const others = form.otherAgents.split(/[\s,]+/).filter((id) => id !== '');
  const agentIds = [...new Set([...form.selected, ...others])];
  const interval = form.pollIntervalSeconds === '' ? Number.NaN : Number(form.pollIntervalSeconds);
  const score = form.minRiskScore === '' ? null : Number(form.minRiskScore);
  const thresholds = {
    minRiskLevel: form.minRiskLevel === OFF ? null : form.minRiskLevel,
    minRiskScore: score,
    includeAnomalies: form.includeAnomalies,
    includeThreats: form.includeThreats,
    threatSeverityFloor: form.threatSeverityFloor,
  };
  const parsed = vaikoraSettingsInputSchema.safeParse({
    ...(apiKey === '' ? {} : { apiKey }),
    baseUrl: form.baseUrl === '' ? DEFAULT_VAIKORA_BASE_URL : form.baseUrl,
    agentIds,
    thresholds,
    pollIntervalSeconds: interval,
    timeFilterParam: form.timeFilterParam === '' ? null : form.timeFilterParam,
  });
  if (parsed.success) return { ok: true as const, body: parsed.data };
  const errors: VaikoraForm['errors'] = {};
  for (const issue of parsed.error.issues) {
    const [first, second] = issue.path;
    const name: FieldName =
      first === 'thresholds'
        ? second === 'minRiskScore'
          ? 'minRiskScore'
          : second === 'threatSeverityFloor'
            ? 'threatSeverityFloor'
            : 'minRiskLevel'
        : first === 'apiKey' ||
            first === 'baseUrl' ||
            first === 'agentIds' ||
            first === 'pollIntervalSeconds' ||
            first === 'timeFilterParam'
          ? first
          : 'form';
    const message =
      name === 'pollIntervalSeconds' && Number.isNaN(interval)
        ? 'must be a whole number of seconds'
        : name === 'minRiskScore' && Number.isNaN(score)
          ? 'must be a number from 0 to 100, or empty'
          : issue.message;
    errors[name] ??= message;
  }
  return { ok: false as const, errors };
}

const LABELS: Record<FieldName, string> = {
  apiKey: 'The API key',
  baseUrl: 'The base URL',
  agentIds: 'The agents',
  minRiskLevel: 'The minimum risk level',
  minRiskScore: 'The minimum risk score',
  threatSeverityFloor: 'The threat severity floor',
  pollIntervalSeconds: 'The poll interval',
  timeFilterParam: 'The time filter parameter',
  form: '',
};

function errorText(name: FieldName, message: string): string {
  return name === 'form' ? message : `${LABELS[name]} ${page.plainMessage(message)}.`;
}

/** aria attributes and the message of a field with an error. */
function invalid(form: VaikoraForm, name: FieldName, hint?: string): { attrs: Markup; message: Markup } {
  const error = form.errors[name];
  const describedBy = [hint, error === undefined ? undefined : `${name}-error`].filter(
    (x) => x !== undefined,
  );
  return {
    attrs: html`${describedBy.length === 0 ? '' : html`aria-describedby="${describedBy.join(' ')}"`} ${error === undefined ? '' : html`aria-invalid="true"`}`,
    message:
      error === undefined ? html`` : html`<p class="fix" id="${name}-error">${errorText(name, error)}</p>`,
  };
}

function testRegion(outcome: TestOutcome | undefined, form: VaikoraForm): Markup {
  const agentError = invalid(form, 'agentIds', 'agents-hint');
  const agents = [...new Set([...(outcome?.agents ?? []), ...form.offered])];
  return html`<div id="vaikora-test">
<div role="status" aria-live="polite" id="test-result">${
    outcome === undefined
      ? ''
      : html`<p class="alert ${outcome.ok ? 'ok' : 'bad'}">${outcome.ok ? pill('ok', 'Connected') : pill('bad', 'Not connected')} ${outcome.message}</p>`
  }</div>
<fieldset class="agents" ${form.errors.agentIds === undefined ? '' : html`aria-invalid="true"`} aria-describedby="agents-hint${form.errors.agentIds === undefined ? '' : ' agentIds-error'}">
  <legend>Agents to watch</legend>
  <p class="hint" id="agents-hint">${
    agents.length === 0
      ? outcome?.ok === true
        ? 'Vaikora did not list agents for this key: type their ids below.'
        : 'Test the connection to list the agents this key can see, or type their ids below.'
      : 'Actions of the checked agents become findings.'
  }</p>
  ${agents.map(
    (
      id,
      i,
    ) => html`<div class="check"><input type="checkbox" id="agent-${i}" name="agent" value="${id}" ${form.selected.includes(id) || (outcome?.agents?.includes(id) === true && form.selected.length === 0) ? 'checked' : ''}>
<label for="agent-${i}"><code>${id}</code></label><input type="hidden" name="offered" value="${id}"></div>`,
  )}
  <div>
    <label for="otherAgents">${agents.length === 0 ? 'Agent ids' : 'Other agent ids'} <span class="hint" id="otherAgents-hint">Separated by commas or spaces, e.g. agt-support-bot</span></label>
    <input id="otherAgents" name="otherAgents" type="text" autocomplete="off" spellcheck="false" value="${form.otherAgents}" aria-describedby="otherAgents-hint">
  </div>
  ${agentError.message}
</fieldset>
</div>`;
}

/** What the page says about the stored connection; `ending`: null when the key cannot be read, undefined when short. */
interface StoredKey {
  present: boolean;
  ending: string | null | undefined;
  verifiedAt: Date | null;
  lastError: string | null;
}

function vaikoraPage(
  c: UiContext,
  tenant: Tenant,
  stored: StoredKey,
  form: VaikoraForm,
  o: { outcome?: TestOutcome | undefined; flash?: Markup | undefined },
): Markup {
  const q = page.tenantQuery(c, tenant);
  const key = invalid(form, 'apiKey', 'apiKey-hint');
  const base = invalid(form, 'baseUrl', 'baseUrl-hint');
  const level = invalid(form, 'minRiskLevel');
  const score = invalid(form, 'minRiskScore', 'minRiskScore-hint');
  const floor = invalid(form, 'threatSeverityFloor', 'threatSeverityFloor-hint');
  const interval = invalid(form, 'pollIntervalSeconds', 'pollIntervalSeconds-hint');
  const timeFilter = invalid(form, 'timeFilterParam', 'timeFilterParam-hint');
  return html`<h1>Vaikora connection</h1>
<p class="lede">The key ${tenant.name}'s connector reads Vaikora with, which agents it watches, and which of their actions become Security Hub findings.</p>
${o.flash ?? ''}
<section class="card" aria-labelledby="vaikora-state-h">
  <h2 id="vaikora-state-h">Current state</h2>
  <dl class="kv">
    <dt>State</dt><dd id="vaikora-state">${!stored.present ? pill('neutral', 'Not connected') : stored.lastError === null ? pill('ok', 'Connected') : pill('bad', 'Error')}</dd>
    ${stored.present ? html`<dt>Verified</dt><dd>${when(stored.verifiedAt)}</dd>` : ''}
    ${stored.lastError === null ? '' : html`<dt>Last error</dt><dd>${stored.lastError}</dd>`}
  </dl>
</section>
<section class="card" aria-labelledby="vaikora-form-h">
  <h2 id="vaikora-form-h">${stored.present ? 'Change the connection' : 'Connect Vaikora'}</h2>
  ${form.errors.form === undefined ? '' : html`<p class="alert bad" role="alert" id="form-error">${form.errors.form}</p>`}
  <form class="stack" method="post" action="/ui/vaikora${q}" data-busy="Checking the key with Vaikora…">
    ${csrfField(page.sessionOf(c).csrfToken)}
    <div>
      <label for="apiKey">Vaikora API key <span class="hint" id="apiKey-hint">${
        stored.present
          ? stored.ending === null
            ? 'A key is stored but cannot be read any more: enter it again.'
            : stored.ending === undefined
              ? 'A key is stored. Leave empty to keep it.'
              : html`A key is stored, ending <code>…${stored.ending}</code>. Leave empty to keep it.`
          : 'From the Vaikora console. It is stored encrypted and never shown again.'
      }</span></label>
      <input id="apiKey" name="apiKey" type="password" autocomplete="off" spellcheck="false" ${stored.present && stored.ending !== null ? '' : 'required'} ${key.attrs}>
      ${key.message}
    </div>
    <div>
      <label for="baseUrl">Base URL <span class="hint" id="baseUrl-hint">The Vaikora management API, e.g. ${DEFAULT_VAIKORA_BASE_URL}</span></label>
      <input id="baseUrl" name="baseUrl" type="text" inputmode="url" autocomplete="off" spellcheck="false" required value="${form.baseUrl}" ${base.attrs}>
      ${base.message}
    </div>
    <div><button type="submit" class="secondary" id="test-connection" formaction="/ui/vaikora/test${q}" formnovalidate data-fragment="vaikora-test" data-busy-label="Testing…">Test connection</button></div>
    ${testRegion(o.outcome, form)}
    <fieldset>
      <legend>Which actions become findings</legend>
      <p class="hint">An action becomes a finding when any rule below matches it.</p>
      <div>
        <label for="minRiskLevel">Minimum risk level</label>
        <select id="minRiskLevel" name="minRiskLevel" ${level.attrs}>
          <option value="${OFF}" ${form.minRiskLevel === OFF ? 'selected' : ''}>Off: ignore the level</option>
          ${RISK_LEVELS.map((l) => html`<option value="${l}" ${form.minRiskLevel === l ? 'selected' : ''}>${l} and above</option>`)}
        </select>
        ${level.message}
      </div>
      <div>
        <label for="minRiskScore">Minimum risk score <span class="hint" id="minRiskScore-hint">0 to 100; empty turns the rule off</span></label>
        <input id="minRiskScore" name="minRiskScore" type="text" inputmode="decimal" autocomplete="off" value="${form.minRiskScore}" ${score.attrs}>
        ${score.message}
      </div>
      <div class="check"><input type="checkbox" id="includeAnomalies" name="includeAnomalies" ${form.includeAnomalies ? 'checked' : ''}><label for="includeAnomalies">Include anomalies</label></div>
      <div class="check"><input type="checkbox" id="includeThreats" name="includeThreats" ${form.includeThreats ? 'checked' : ''}><label for="includeThreats">Include detected threats</label></div>
      <div>
        <label for="threatSeverityFloor">Severity of a detected threat, at least <span class="hint" id="threatSeverityFloor-hint">A confirmed threat is reported at this Security Hub severity or above, whatever its risk level</span></label>
        <select id="threatSeverityFloor" name="threatSeverityFloor" ${floor.attrs}>
          ${THREAT_SEVERITY_FLOORS.map((s) => html`<option value="${s}" ${form.threatSeverityFloor === s ? 'selected' : ''}>${s.charAt(0)}${s.slice(1).toLowerCase()}</option>`)}
        </select>
        ${floor.message}
      </div>
    </fieldset>
    <div>
      <label for="pollIntervalSeconds">Poll interval, seconds <span class="hint" id="pollIntervalSeconds-hint">How often Vaikora is read: 60 to 86400</span></label>
      <input id="pollIntervalSeconds" name="pollIntervalSeconds" type="text" inputmode="numeric" autocomplete="off" required value="${form.pollIntervalSeconds}" ${interval.attrs}>
      ${interval.message}
    </div>
    <details ${form.errors.timeFilterParam === undefined ? '' : 'open'}>
      <summary>Advanced</summary>
      <label for="timeFilterParam">Time filter parameter <span class="hint" id="timeFilterParam-hint">Only if Vaikora told you to: the query parameter that filters actions by time</span></label>
      <input id="timeFilterParam" name="timeFilterParam" type="text" autocomplete="off" spellcheck="false" value="${form.timeFilterParam}" ${timeFilter.attrs}>
      ${timeFilter.message}
    </details>
    <div><button type="submit" id="save-vaikora">Save</button></div>
  </form>
</section>`;
}

async function settingsOf(deps: ApiDeps, tenant: Tenant) {
  const row = await findVaikoraSettings(deps.db, tenant.id);
  // The last four characters only, as payment pages show a card: enough to recognise the key, and only
  // of a key long enough that four characters say little about it. null: stored but unreadable.
  let ending: string | null | undefined;
  if (row !== undefined) {
    try {
      const key = await deps.secretBox.open(row.apiKeyCiphertext, { tenantId: tenant.id });
      ending = key.length >= 12 ? key.slice(-4) : undefined;
    } catch {
      ending = null;
    }
  }
  return {
    row,
    stored: {
      present: row !== undefined,
      ending,
      verifiedAt: row?.verifiedAt ?? null,
      lastError: row?.lastError ?? null,
    },
  };
}

/**
 * The field a refusal of the form is shown at: the base URL, the key, or the form as a whole. An
 * unreadable stored key is shown at `unreadableKeyAt` (the test asks for the key; Save says it above).
 */
function refusedField(err: ServiceError, unreadableKeyAt: FieldName): FieldName {
  if (err.code === 'base_url_not_allowed') return 'baseUrl';
  if (err.message.startsWith('body.apiKey')) return 'apiKey';
  return err.code === 'vaikora_key_unreadable' ? unreadableKeyAt : 'form';
}

/** The Vaikora page: the connection form, "Test connection" with agent discovery, and Save. */
export function registerVaikoraRoutes(ui: Hono<UiEnv>, deps: ApiDeps): void {
  const show = (
    c: UiContext,
    tenant: Tenant,
    stored: StoredKey,
    form: VaikoraForm,
    o: { outcome?: TestOutcome | undefined; flash?: Markup | undefined },
    status: 200 | 400 | 422 = 200,
  ) =>
    page.render(c, {
      title: 'Vaikora connection',
      active: 'vaikora',
      tenant,
      status,
      body: vaikoraPage(c, tenant, stored, form, o),
    });

  /** What both posts of the form read: the tenant, the form as posted, the key typed (if any), what is stored. */
  const readPost = async (c: UiContext) => {
    const posted = await c.req.parseBody({ all: true });
    const tenant = await page.requireTenant(c, c.req.query('tenant'));
    const { stored } = await settingsOf(deps, tenant);
    return { tenant, stored, form: formFromPost(posted), apiKey: page.field(posted, 'apiKey', 1025).trim() };
  };

  ui.get('/vaikora', async (c) => {
    const tenant = await page.tenantFor(c, c.req.query('tenant'));
    if (tenant === undefined) return c.redirect('/ui/operator', 303);
    const { row, stored } = await settingsOf(deps, tenant);
    const q = page.tenantQuery(c, tenant);
    const flash =
      c.req.query('saved') === '1'
        ? html`<div class="alert ok" role="status"><p>Saved: Vaikora accepted the key.</p><p><a class="button" href="/ui/onboarding${q}">Next: add an AWS account</a></p></div>`
        : c.req.query('needed') === 'run' && row === undefined
          ? html`<p class="alert info" role="status">Connect Vaikora first: a run reads the agents' actions from Vaikora, so “Run now” needs this connection.</p>`
          : undefined;
    return show(c, tenant, stored, formOf(row), { flash });
  });

  ui.post('/vaikora/test', async (c) => {
    const { tenant, stored, form, apiKey } = await readPost(c);
    let outcome: TestOutcome;
    try {
      if (apiKey === '' && !stored.present) {
        throw new ServiceError('not_configured', 'body.apiKey: is required when no key is stored');
      }
      outcome = await testVaikoraConnection(deps, tenant, {
        ...(apiKey === '' ? {} : { apiKey }),
        baseUrl: form.baseUrl === '' ? DEFAULT_VAIKORA_BASE_URL : form.baseUrl,
        timeFilterParam: form.timeFilterParam === '' ? null : form.timeFilterParam,
        requestId: c.get('requestId'),
      });
    } catch (err) {
      const refusal = page.refusalOf(err);
      if (refusal === undefined) throw err;
      const name = refusedField(refusal.error, 'apiKey');
      form.errors[name] = refusal.message;
      outcome = { ok: false, message: errorText(name, refusal.message), agents: null };
    }
    return show(c, tenant, stored, form, { outcome }, outcome.ok ? 200 : 422);
  });

  ui.post('/vaikora', async (c) => {
    const { tenant, stored, form, apiKey } = await readPost(c);
    const parsed = bodyOf(form, apiKey);
    if (!parsed.ok) return show(c, tenant, stored, { ...form, errors: parsed.errors }, {}, 400);
    try {
      await saveVaikoraSettings(deps, page.pageActor(c), tenant, parsed.body);
    } catch (err) {
      const refusal = page.refusalOf(err);
      if (refusal === undefined) throw err;
      const name = refusedField(refusal.error, 'form');
      const shown =
        refusal.error.code === 'vaikora_verification_failed'
          ? `Vaikora refused the connection: ${refusal.message}`
          : refusal.message;
      return show(
        c,
        tenant,
        stored,
        { ...form, errors: { [name]: shown } },
        {},
        refusal.status === 400 ? 400 : 422,
      );
    }
    const q = page.tenantQuery(c, tenant);
    return c.redirect(`/ui/vaikora${q}${q === '' ? '?' : '&'}saved=1`, 303);
  });
}
