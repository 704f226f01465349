import { parseArgs } from 'node:util';
import {
  ApiClient,
  CONNECTION_OPTIONS,
  CONNECTION_USAGE,
  formatCount,
  resolveConnection,
} from '../api-client.ts';
import { type CommandIo, UsageError, writeLine } from '../io.ts';

export const TENANTS_USAGE = `Usage: connector tenants list [--json]
       connector tenants show <tenantId> [--json]

list   every tenant with its health, failing ones first
show   one tenant's status: destinations, last run, cursor lag, counts of the last 24 hours

${CONNECTION_USAGE}`;

const TENANT_ID = /^ten_[0-9a-hjkmnp-tv-z]{26}$/;

interface TenantWithHealth {
  id: string;
  name: string;
  plan: string;
  state: string;
  createdAt: string;
  health: {
    status: string;
    destinations: Record<string, number>;
    vaikora: { configured: boolean; lastError: string | null };
    lastRun: { id: string; status: string; startedAt: string; finishedAt: string | null } | null;
  };
}

interface TenantStatus {
  state: string;
  windowHours: number;
  schedule: { nextRunAt: string; lastRunFinishedAt: string | null } | null;
  vaikora: { configured: boolean; verifiedAt: string | null; lastError: string | null };
  lastRun: {
    id: string;
    status: string;
    startedAt: string;
    findingsImported: number;
    errorCode: string | null;
    errorMessage: string | null;
  } | null;
  cursorLagSeconds: number | null;
  counts: { runs: number; failedRuns: number; imported: number; rejected: number; skipped: number };
  destinations: Array<{
    id: string;
    accountId: string;
    regions: string[];
    state: string;
    lastError: string | null;
    cursorLagSeconds: number | null;
    counts: { imported: number; rejected: number; skipped: number };
  }>;
}

// Failing tenants first, as on the operator page.
const HEALTH_ORDER = ['failing', 'degraded', 'pending', 'unconfigured', 'healthy', 'offboarded'];

/** Pads columns to the widest cell; the last column is left ragged. */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  }
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

/** `connector tenants list|show`. */
export async function tenantsCommand(args: string[], io: CommandIo): Promise<number> {
  const [sub, ...rest] = args;
  let parsed: {
    values: { json?: boolean; api?: string; key?: string; 'data-dir'?: string };
    positionals: string[];
  };
  try {
    parsed = parseArgs({
      args: rest,
      strict: true,
      allowPositionals: true,
      options: { json: { type: 'boolean' }, ...CONNECTION_OPTIONS },
    });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const { values, positionals } = parsed;
  if (sub === 'list') {
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const client = new ApiClient(resolveConnection(values, io), io.fetch);
    const tenants: TenantWithHealth[] = [];
    let cursor: string | null = null;
    do {
      const query: string =
        cursor === null ? '?limit=100' : `?limit=100&cursor=${encodeURIComponent(cursor)}`;
      const page: { items: TenantWithHealth[]; nextCursor: string | null } = await client.call(
        'GET',
        `/tenants${query}`,
      );
      tenants.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== null);
    tenants.sort(
      (a, b) =>
        HEALTH_ORDER.indexOf(a.health.status) - HEALTH_ORDER.indexOf(b.health.status) ||
        a.name.localeCompare(b.name),
    );
    if (values.json) {
      await writeLine(io.stdout, JSON.stringify(tenants, null, 2));
      return 0;
    }
    if (tenants.length === 0) {
      await writeLine(io.stdout, 'no tenants');
      return 0;
    }
    const rows = tenants.map((t) => [
      t.id,
      t.health.status,
      t.state,
      t.health.lastRun === null ? '-' : `${t.health.lastRun.status} ${t.health.lastRun.startedAt}`,
      t.name,
    ]);
    for (const line of table([['ID', 'HEALTH', 'STATE', 'LAST RUN', 'NAME'], ...rows]))
      await writeLine(io.stdout, line);
    return 0;
  }
  if (sub === 'show') {
    const [tenantId, extra] = positionals;
    if (tenantId === undefined) throw new UsageError('tenants show needs a tenant id');
    if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
    if (!TENANT_ID.test(tenantId))
      throw new UsageError('the tenant id must look like ten_ followed by 26 characters');
    const client = new ApiClient(resolveConnection(values, io), io.fetch);
    const [tenant, status] = await Promise.all([
      client.call<TenantWithHealth>('GET', `/tenants/${tenantId}`),
      client.call<TenantStatus>('GET', `/tenants/${tenantId}/status`),
    ]);
    if (values.json) {
      await writeLine(io.stdout, JSON.stringify({ tenant, status }, null, 2));
      return 0;
    }
    for (const line of renderStatus(tenant, status)) await writeLine(io.stdout, line);
    return 0;
  }
  throw new UsageError(
    sub === undefined ? 'tenants needs a subcommand: list or show' : `unknown subcommand "${sub}"`,
  );
}

/** The human summary of `tenants show`. */
export function renderStatus(tenant: TenantWithHealth, status: TenantStatus): string[] {
  const lag = (s: number | null) => (s === null ? '-' : `${formatCount(s)} s`);
  const lines = [
    `${tenant.name} (${tenant.id})`,
    `  health      ${tenant.health.status}; state ${status.state}; plan ${tenant.plan}`,
    `  vaikora     ${status.vaikora.configured ? `configured${status.vaikora.verifiedAt ? `, verified ${status.vaikora.verifiedAt}` : ''}` : 'not configured'}${status.vaikora.lastError ? `; last error: ${status.vaikora.lastError}` : ''}`,
    `  schedule    ${status.schedule === null ? 'none' : `next run ${status.schedule.nextRunAt}`}`,
    `  last run    ${status.lastRun === null ? 'none' : `${status.lastRun.status} at ${status.lastRun.startedAt}, ${formatCount(status.lastRun.findingsImported)} imported${status.lastRun.errorCode ? `; ${status.lastRun.errorCode}: ${status.lastRun.errorMessage ?? ''}` : ''}`}`,
    `  cursor lag  ${lag(status.cursorLagSeconds)}`,
    `  last ${status.windowHours} h  ${formatCount(status.counts.runs)} runs (${formatCount(status.counts.failedRuns)} failed), ${formatCount(status.counts.imported)} imported, ${formatCount(status.counts.rejected)} rejected, ${formatCount(status.counts.skipped)} skipped`,
    `  destinations (${status.destinations.length})`,
  ];
  for (const d of status.destinations) {
    lines.push(
      `    ${d.id}  ${d.accountId} ${d.regions.join(',')}  ${d.state}  lag ${lag(d.cursorLagSeconds)}  ${formatCount(d.counts.imported)} imported, ${formatCount(d.counts.rejected)} rejected${d.lastError ? `  last error: ${d.lastError}` : ''}`,
    );
  }
  return lines;
}
