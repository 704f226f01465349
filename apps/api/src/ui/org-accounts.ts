import type { OrgAccount, Tenant } from '@vsh/db';
import { html } from 'hono/html';
import type { ApiDeps } from '../deps.ts';
import { currentOrgRegistration, isLive, listOrgAccounts } from '../services/org-registrations.ts';
import { type Markup, pill, type Tone, when } from './layout.ts';

const STATE_PILLS: Record<OrgAccount['state'], [Tone, string]> = {
  verified: ['ok', 'Verified'],
  failed: ['bad', 'Failed'],
  removed: ['neutral', 'Removed'],
};

function fixOf(account: OrgAccount): string | undefined {
  return account.lastVerification?.checks.find((check) => !check.ok && check.fix !== undefined)?.fix;
}

/**
 * The status page's organisation section (ADR 0119): the registration token's state (never the token) and
 * each member account that registered through the StackSet, verified or failed and why. Nothing for a
 * tenant that never onboarded an organisation.
 */
export async function orgAccountsSection(
  deps: Pick<ApiDeps, 'db' | 'clock'>,
  tenant: Tenant,
): Promise<Markup> {
  const [registration, accounts] = await Promise.all([
    currentOrgRegistration(deps.db, tenant.id),
    listOrgAccounts(deps.db, tenant.id),
  ]);
  if (registration === null && accounts.length === 0) return html``;
  const token =
    registration === null
      ? html`<p class="muted" id="org-token">No live registration token: accounts added to the organisation now cannot register. Issue a new token and update the StackSet.</p>`
      : html`<p class="muted" id="org-token">Registration token <code>${registration.prefix}…</code> ${isLive(registration, deps.clock()) ? html`valid until ${when(registration.expiresAt)}` : html`expired ${when(registration.expiresAt)}; issue a new one and update the StackSet`}.</p>`;
  return html`<section class="card" aria-labelledby="org-h" id="org-accounts">
  <h2 id="org-h">Organisation accounts</h2>
  ${token}
  ${
    accounts.length === 0
      ? html`<p class="empty">No account of the organisation has registered yet.</p>`
      : html`<div class="table-wrap"><table id="org-accounts-table">
<thead><tr><th scope="col">AWS account</th><th scope="col">State</th><th scope="col">Regions</th><th scope="col">Why not / what to do</th><th scope="col">Checked</th></tr></thead>
<tbody>${accounts.map((account) => {
          const [tone, label] = STATE_PILLS[account.state];
          const fix = fixOf(account);
          return html`<tr data-org-account="${account.accountId}" data-state="${account.state}"><th scope="row"><code>${account.accountId}</code></th><td>${pill(tone, label)}</td><td>${account.regions.join(', ')}</td><td>${account.reason ?? html`<span class="muted">—</span>`}${fix === undefined ? '' : html`<br><small>${fix}</small>`}</td><td>${when(account.removedAt ?? account.lastVerification?.checkedAt)}</td></tr>`;
        })}</tbody></table></div>`
  }
</section>`;
}
