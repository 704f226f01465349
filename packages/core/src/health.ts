/**
 * The one health model of a tenant (ADR 0100). The API's `health.status`, the CLI's `tenants list/show`,
 * the operator overview, the status page and the onboarding checklist all call `tenantHealth`, so the
 * same tenant at the same moment reads the same everywhere.
 */

/** Health words, worst first: the order every reader sorts by. */
export const HEALTH_STATUSES = ['failing', 'attention', 'setup', 'healthy', 'offboarded'] as const;
export type HealthStatus = (typeof HEALTH_STATUSES)[number];

/** What a person reads for each health word (operator page, status page, CLI legend). */
export const HEALTH_LABELS: Record<HealthStatus, string> = {
  failing: 'Failing',
  attention: 'Needs attention',
  setup: 'Setting up',
  healthy: 'Healthy',
  offboarded: 'Offboarded',
};

/** Where a health word sorts: failing first, offboarded last. */
export function healthRank(status: HealthStatus): number {
  return HEALTH_STATUSES.indexOf(status);
}

/** Whether a string is one of the health words (the CLI reads them from JSON). */
export function isHealthStatus(value: unknown): value is HealthStatus {
  return typeof value === 'string' && (HEALTH_STATUSES as readonly string[]).includes(value);
}

export const CHECKLIST_STATES = ['done', 'todo', 'problem'] as const;
export type ChecklistState = (typeof CHECKLIST_STATES)[number];

/** The three onboarding steps a tenant goes through, each done, still to do, or in trouble. */
export interface HealthChecklist {
  vaikora: ChecklistState;
  aws: ChecklistState;
  firstFinding: ChecklistState;
}

export interface HealthInput {
  tenantState: 'active' | 'offboarded';
  vaikora: { configured: boolean; lastError: string | null };
  /** How many AWS destinations are in each state. */
  destinations: { pending: number; verified: number; active: number; degraded: number; disabled: number };
  lastRun: { status: 'running' | 'ok' | 'partial' | 'failed'; startedAt: Date } | null;
  failedRuns24h: number;
  /** Whether any run of the tenant ever imported a finding. */
  firstFindingImported: boolean;
  /** The tenant's poll interval; a tenant whose last run is much older than this is not being served. */
  pollIntervalSeconds: number;
  now: Date;
}

export interface Health {
  status: HealthStatus;
  /** Why the status is what it is, for a person; empty when healthy with nothing to say. */
  reasons: string[];
  checklist: HealthChecklist;
}

/** A run is overdue after this many poll intervals without a new one (and never before 15 minutes). */
const STALE_INTERVALS = 3;
const MIN_STALE_MS = 15 * 60_000;

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

function ago(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  return minutes < 120 ? `${minutes} min` : `${Math.round(minutes / 60)} h`;
}

/**
 * A tenant's health from facts about it. Order of precedence: offboarded; failing (something is broken
 * and nothing fixes itself: Vaikora refuses, a destination is disabled, the last run failed); setup
 * (a step of the checklist is still to do and nothing is broken); attention (working, but something
 * needs a look: a degraded destination, a partial or overdue run, failed runs in the last 24 h);
 * healthy.
 */
export function tenantHealth(input: HealthInput): Health {
  const { destinations: d, vaikora, lastRun } = input;
  const working = d.verified + d.active;
  const troubled = d.degraded + d.disabled;
  const total = working + troubled + d.pending;
  const checklist: HealthChecklist = {
    vaikora: !vaikora.configured ? 'todo' : vaikora.lastError !== null ? 'problem' : 'done',
    aws: troubled > 0 ? 'problem' : working > 0 ? 'done' : 'todo',
    firstFinding: input.firstFindingImported ? 'done' : lastRun?.status === 'failed' ? 'problem' : 'todo',
  };
  if (input.tenantState === 'offboarded') {
    return { status: 'offboarded', reasons: ['the tenant is offboarded'], checklist };
  }

  const failing: string[] = [];
  if (vaikora.lastError !== null) failing.push(`Vaikora refuses the connection: ${vaikora.lastError}`);
  if (d.disabled > 0) failing.push(`${plural(d.disabled, 'AWS account is', 'AWS accounts are')} disabled`);
  if (lastRun?.status === 'failed') failing.push('the last run failed');

  const todo: string[] = [];
  if (!vaikora.configured) todo.push('Vaikora is not connected yet');
  if (total === 0) todo.push('no AWS account added yet');
  else if (working + troubled === 0)
    todo.push(`${plural(d.pending, 'AWS account is', 'AWS accounts are')} not verified yet`);

  const attention: string[] = [];
  if (d.degraded > 0) attention.push(`${plural(d.degraded, 'AWS account is', 'AWS accounts are')} degraded`);
  if (lastRun?.status === 'partial') attention.push('the last run was partial');
  if (input.failedRuns24h > 0 && lastRun?.status !== 'failed') {
    attention.push(`${plural(input.failedRuns24h, 'run', 'runs')} failed in the last 24 h`);
  }
  const staleAfterMs = Math.max(MIN_STALE_MS, STALE_INTERVALS * input.pollIntervalSeconds * 1000);
  if (lastRun !== null && todo.length === 0) {
    const age = input.now.getTime() - lastRun.startedAt.getTime();
    if (age > staleAfterMs)
      attention.push(`no run for ${ago(age)} (runs are due every ${ago(input.pollIntervalSeconds * 1000)})`);
  }

  const waiting: string[] = [];
  if (todo.length === 0) {
    if (lastRun === null) waiting.push('waiting for the first run');
    else if (!input.firstFindingImported) waiting.push('no finding imported yet');
  }

  if (failing.length > 0)
    return { status: 'failing', reasons: [...failing, ...attention, ...todo], checklist };
  if (todo.length > 0 || lastRun === null)
    return { status: 'setup', reasons: [...todo, ...attention, ...waiting], checklist };
  if (attention.length > 0) return { status: 'attention', reasons: [...attention, ...waiting], checklist };
  return { status: 'healthy', reasons: waiting, checklist };
}
