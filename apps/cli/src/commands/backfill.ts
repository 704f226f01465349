import { parseArgs } from 'node:util';
import { errorMessage } from '@vsh/core';
import {
  ApiClientError,
  type ApiSchemas,
  CONNECTION_OPTIONS,
  CONNECTION_USAGE,
  createApiClient,
  formatCount,
  resolveConnection,
  unwrap,
} from '../api-client.ts';
import { type CommandIo, isTerminal, UsageError, writeLine } from '../io.ts';

export const BACKFILL_USAGE = `Usage: connector backfill --tenant <id> --from <RFC3339> --to <RFC3339> [--destination <id>]

Re-sends the tenant's Vaikora actions with a time in [from, to) to Security Hub, then follows the job
until it ends: a progress bar on a terminal, timestamped progress lines otherwise. Findings keep their
ids (vaikora-<action id>), so re-sending replaces them in place: a backfill never creates duplicates,
and running it twice is safe. Stream cursors do not move. The range is at most ${30} days and not in the future.

Options:
  --tenant <id>        the tenant (ten_...)
  --from <RFC3339>     start of the range, inclusive (e.g. 2026-11-01T00:00:00Z)
  --to <RFC3339>       end of the range, exclusive
  --destination <id>   only this destination (dst_...); default every verified destination
  --poll-ms <n>        how often to read the progress (default 1000)

${CONNECTION_USAGE}
Exit codes: 0 done, 1 the job failed (its error is printed) or the API could not be used, 2 bad arguments.
`;

const MAX_DAYS = 30;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** A backfill as the API answers it. */
type BackfillView = ApiSchemas['Backfill'];

function parseTime(name: string, value: string | undefined): Date {
  if (value === undefined) throw new UsageError(`--${name} is required`);
  const date = new Date(value);
  if (!RFC3339.test(value) || Number.isNaN(date.getTime()))
    throw new UsageError(`--${name} must be an RFC 3339 date-time with a zone, e.g. 2026-11-01T00:00:00Z`);
  return date;
}

/** `[#####.....] 52% 1,234 actions read, 456 imported`: the bar is `width` cells. */
function progressBar(job: BackfillView, width = 20): string {
  const percent = Math.max(0, Math.min(100, Math.round(job.progressPercent)));
  const filled = Math.round((percent / 100) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(percent).padStart(3)}% ${formatCount(job.actionsRead)} actions read, ${formatCount(job.findingsImported)} imported`;
}

/** One plain progress line (no control characters), for logs and pipes. */
function progressLine(job: BackfillView, at: Date): string {
  return `${at.toISOString()} backfill ${job.id} ${job.state} ${job.progressPercent}%: ${formatCount(job.pages)} pages, ${formatCount(job.actionsRead)} actions read (${formatCount(job.actionsInRange)} in range), ${formatCount(job.findingsImported)} imported, ${formatCount(job.recordsRejected)} rejected, ${formatCount(job.actionsSkipped)} skipped`;
}

/** `connector backfill`: creates the job, then polls it until it is done or failed. */
export async function backfillCommand(args: string[], io: CommandIo): Promise<number> {
  let values: {
    tenant?: string;
    from?: string;
    to?: string;
    destination?: string;
    'poll-ms'?: string;
    api?: string;
    key?: string;
    'data-dir'?: string;
  };
  try {
    const parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        tenant: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        destination: { type: 'string' },
        'poll-ms': { type: 'string' },
        ...CONNECTION_OPTIONS,
      },
    });
    values = parsed.values;
  } catch (err) {
    throw new UsageError(errorMessage(err));
  }
  if (values.tenant === undefined) throw new UsageError('--tenant is required');
  if (!/^ten_[0-9a-hjkmnp-tv-z]{26}$/.test(values.tenant))
    throw new UsageError('--tenant must be a tenant id (ten_ followed by 26 characters)');
  if (values.destination !== undefined && !/^dst_[0-9a-hjkmnp-tv-z]{26}$/.test(values.destination))
    throw new UsageError('--destination must be a destination id (dst_ followed by 26 characters)');
  const from = parseTime('from', values.from);
  const to = parseTime('to', values.to);
  if (from.getTime() >= to.getTime()) throw new UsageError('--from must be before --to');
  if (to.getTime() - from.getTime() > MAX_DAYS * 86_400_000)
    throw new UsageError(`the range must be at most ${MAX_DAYS} days`);
  if (to.getTime() > io.now().getTime()) throw new UsageError('--to must not be in the future');
  const pollMs = values['poll-ms'] === undefined ? 1000 : Number(values['poll-ms']);
  if (!Number.isInteger(pollMs) || pollMs < 10 || pollMs > 60_000)
    throw new UsageError('--poll-ms must be a whole number of milliseconds between 10 and 60000');

  const client = createApiClient(resolveConnection(values, io), io.fetch);
  const tenantId = values.tenant;
  const sleep = io.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const tty = isTerminal(io.stdout);
  let job: BackfillView;
  try {
    job = await unwrap(
      client.POST('/v1/tenants/{tenantId}/backfills', {
        params: { path: { tenantId } },
        body: {
          from: from.toISOString(),
          to: to.toISOString(),
          ...(values.destination === undefined ? {} : { destinationId: values.destination }),
        },
      }),
    );
  } catch (err) {
    // The API's own range rules are arguments too.
    if (err instanceof ApiClientError && err.apiCode === 'VALIDATION_FAILED')
      throw new UsageError(err.message);
    throw err;
  }
  const started = io.now();
  await writeLine(
    io.stdout,
    `backfill ${job.id} queued for ${values.tenant}: ${from.toISOString()} to ${to.toISOString()}`,
  );
  let last = '';
  const show = async (current: BackfillView) => {
    if (tty) {
      // Redrawn in place: carriage return, clear the line.
      io.stdout.write(`\r\x1b[2K${progressBar(current)}`);
      return;
    }
    const line = progressLine(current, io.now());
    const key = line.slice(line.indexOf(' ') + 1);
    if (key !== last) await writeLine(io.stdout, line);
    last = key;
  };
  await show(job);
  while (job.state === 'queued' || job.state === 'running') {
    await sleep(pollMs);
    job = await unwrap(
      client.GET('/v1/tenants/{tenantId}/backfills/{backfillId}', {
        params: { path: { tenantId, backfillId: job.id } },
      }),
    );
    await show(job);
  }
  if (tty) io.stdout.write('\n');
  const seconds = ((io.now().getTime() - started.getTime()) / 1000).toFixed(1);
  if (job.state === 'failed') {
    io.stderr.write(
      `connector backfill: backfill ${job.id} failed after ${seconds} s: ${job.errorCode ?? 'UNKNOWN'}: ${job.errorMessage ?? 'no detail'}\n`,
    );
    return 1;
  }
  await writeLine(
    io.stdout,
    `backfill ${job.id} done in ${seconds} s: ${formatCount(job.actionsInRange)} actions in range, ${formatCount(job.findingsImported)} findings sent (re-sent findings replace themselves, no duplicates), ${formatCount(job.recordsRejected)} rejected, ${formatCount(job.actionsSkipped)} skipped`,
  );
  return 0;
}
