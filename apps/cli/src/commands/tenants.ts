import { parseArgs } from 'node:util';
import { errorMessage, HEALTH_STATUSES, healthRank, isHealthStatus } from '@vsh/core';
import {
  type ApiSchemas,
  CONNECTION_OPTIONS,
  CONNECTION_USAGE,
  createApiClient,
  formatCount,
  resolveConnection,
  unwrap,
} from '../api-client.ts';
import { type CommandIo, UsageError, writeLine } from '../io.ts';

export const TENANTS_USAGE = `Usage: connector tenants list [--json]
       connector tenants show <tenantId> [--json]
       connector tenants create --name <name> [--plan <plan>] [--json]

list   every tenant with its health, failing ones first
show   one tenant's status: destinations, last run, cursor lag, counts of the last 24 hours
create a tenant: prints its id, its first API key (shown once) and a one-time sign-in link

${CONNECTION_USAGE}`;

const TENANT_ID = /^ten_[0-9a-hjkmnp-tv-z]{26}$/;

type TenantWithHealth = ApiSchemas['TenantWithHealth'];
type TenantStatus = ApiSchemas['TenantStatus'];

/** Failing tenants first, as on the operator page: the order of the shared health model (ADR 0100). */
function healthOrder(status: string): number {
  return isHealthStatus(status) ? healthRank(status) : HEALTH_STATUSES.length;
}

/** Pads columns to the widest cell; the last column is left ragged. */
function table(rows: readonly (readonly string[])[]): string[] {
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
    values: {
      json?: boolean;
      name?: string;
      plan?: string;
      api?: string;
      key?: string;
      'data-dir'?: string;
    };
    positionals: string[];
  };
  try {
    parsed = parseArgs({
      args: rest,
      strict: true,
      allowPositionals: true,
      options: {
        json: { type: 'boolean' },
        name: { type: 'string' },
        plan: { type: 'string' },
        ...CONNECTION_OPTIONS,
      },
    });
  } catch (err) {
    throw new UsageError(errorMessage(err));
  }
  const { values, positionals } = parsed;
  if (sub === 'list') {
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const client = createApiClient(resolveConnection(values, io), io.fetch);
    const tenants: TenantWithHealth[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: TenantWithHealth[]; nextCursor: string | null } = await unwrap(
        client.GET('/v1/tenants', {
          params: { query: { limit: 100, ...(cursor === null ? {} : { cursor }) } },
        }),
      );
      tenants.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== null);
    tenants.sort(
      (a, b) => healthOrder(a.health.status) - healthOrder(b.health.status) || a.name.localeCompare(b.name),
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
    const client = createApiClient(resolveConnection(values, io), io.fetch);
    const path = { tenantId };
    const [tenant, status] = await Promise.all([
      unwrap(client.GET('/v1/tenants/{tenantId}', { params: { path } })),
      unwrap(client.GET('/v1/tenants/{tenantId}/status', { params: { path } })),
    ]);
    if (values.json) {
      await writeLine(io.stdout, JSON.stringify({ tenant, status }, null, 2));
      return 0;
    }
    for (const line of renderStatus(tenant, status)) await writeLine(io.stdout, line);
    return 0;
  }
  if (sub === 'create') return createTenant(values, positionals, io);
  throw new UsageError(
    sub === undefined ? 'tenants needs a subcommand: list, show or create' : `unknown subcommand "${sub}"`,
  );
}

/**
 * `tenants create`: the tenant with its first key, then a sign-in link for that key. The key and the link
 * are printed once and never again; when the link cannot be made, the tenant and key are still printed.
 */
async function createTenant(
  values: { name?: string; plan?: string; json?: boolean } & Parameters<typeof resolveConnection>[0],
  positionals: string[],
  io: CommandIo,
): Promise<number> {
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const name = values.name?.trim();
  if (name === undefined || name === '') throw new UsageError('tenants create needs --name <name>');
  if (name.length > 200) throw new UsageError('--name must be at most 200 characters');
  const client = createApiClient(resolveConnection(values, io), io.fetch);
  const created = await unwrap(
    client.POST('/v1/tenants', {
      body: { name, ...(values.plan === undefined ? {} : { plan: values.plan }) },
    }),
  );
  let link: ApiSchemas['SignInLink'] | undefined;
  let linkError: string | undefined;
  try {
    link = await unwrap(
      client.POST('/v1/tenants/{tenantId}/sign-in-links', {
        params: { path: { tenantId: created.tenant.id } },
        body: { apiKeyId: created.apiKey.id },
      }),
    );
  } catch (err) {
    linkError = errorMessage(err);
  }
  if (values.json) {
    await writeLine(
      io.stdout,
      JSON.stringify({ tenant: created.tenant, apiKey: created.apiKey, signInLink: link ?? null }, null, 2),
    );
  } else {
    for (const line of [
      `tenant    ${created.tenant.id}  ${created.tenant.name}`,
      `api key   ${created.apiKey.key}`,
      '          shown once: store it now',
      ...(link === undefined
        ? []
        : [`sign-in   ${link.url}`, `          one use, expires ${link.expiresAt}; send it to the customer`]),
    ])
      await writeLine(io.stdout, line);
  }
  if (linkError !== undefined) {
    await writeLine(io.stderr, `the tenant was created, but no sign-in link: ${linkError}`);
    return 1;
  }
  return 0;
}

/** The human summary of `tenants show`. */
function renderStatus(tenant: TenantWithHealth, status: TenantStatus): string[] {
  const lag = (s: number | null) => (s === null ? '-' : `${formatCount(s)} s`);
  const lines = [
    `${tenant.name} (${tenant.id})`,
    `  health      ${tenant.health.status}; state ${status.state}; plan ${tenant.plan}`,
    ...(tenant.health.reasons ?? []).map((reason) => `              - ${reason}`),
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
