import { parseArgs } from 'node:util';
import { errorMessage } from '@vsh/core';
import {
  CONNECTION_OPTIONS,
  CONNECTION_USAGE,
  createApiClient,
  resolveConnection,
  unwrap,
} from '../api-client.ts';
import { type CommandIo, UsageError, writeLine } from '../io.ts';

export const RUN_NOW_USAGE = `Usage: connector run-now <tenantId>

Asks for a run of the tenant as soon as a worker is free.

${CONNECTION_USAGE}`;

/** `connector run-now <tenantId>`. */
export async function runNowCommand(args: string[], io: CommandIo): Promise<number> {
  let parsed: { values: { api?: string; key?: string; 'data-dir'?: string }; positionals: string[] };
  try {
    parsed = parseArgs({ args, strict: true, allowPositionals: true, options: { ...CONNECTION_OPTIONS } });
  } catch (err) {
    throw new UsageError(errorMessage(err));
  }
  const [tenantId, extra] = parsed.positionals;
  if (tenantId === undefined) throw new UsageError('run-now needs a tenant id');
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
  if (!/^ten_[0-9a-hjkmnp-tv-z]{26}$/.test(tenantId))
    throw new UsageError('the tenant id must look like ten_ followed by 26 characters');
  const client = createApiClient(resolveConnection(parsed.values, io), io.fetch);
  const answer = await unwrap(
    client.POST('/v1/tenants/{tenantId}/run-now', { params: { path: { tenantId } } }),
  );
  await writeLine(
    io.stdout,
    `run requested for ${tenantId} at ${answer.runRequestedAt}; a worker picks it up next`,
  );
  return 0;
}
