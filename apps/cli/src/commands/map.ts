import { parseArgs } from 'node:util';
import {
  DEFAULT_THREAT_SEVERITY_FLOOR,
  type Destination,
  errorMessage,
  isAccountId,
  isAwsRegion,
  isRfc3339DateTime,
  PARTITIONS,
  type Partition,
  prepareRecord,
  RISK_LEVELS,
  type RiskLevel,
  THREAT_SEVERITY_FLOORS,
  thresholdsSchema,
} from '@vsh/core';
import { type CommandIo, readAll, UsageError, writeLine } from '../io.ts';

export const MAP_USAGE = `Usage: connector map --account-id <12 digits> --region <region> [options] < actions.json

Reads a Vaikora list response ({"actions":[...]}) or JSON lines on stdin and writes, for each
qualifying action, one ASFF finding per line on stdout. Writes JSON lines on stderr: one
{"kind":"rejected",...} per record that cannot become a finding, then a {"kind":"summary",...}.

Options:
  --account-id <id>        the AWS account that receives the findings (12 digits)
  --region <region>        the Security Hub region, e.g. us-east-1
  --partition <p>          aws (default), aws-cn or aws-us-gov
  --now <RFC3339>          the import time, used as UpdatedAt (default: now)
  --min-risk-level <l>     low, medium, high (default) or critical; "none" to turn the level rule off
  --min-risk-score <n>     also forward actions whose risk score is at least n (0-100)
  --no-anomalies           do not forward actions only because they are anomalies
  --no-threats             do not forward actions only because a threat was detected
  --threat-severity-floor <label>
                           the lowest severity of a confirmed threat: LOW, MEDIUM, HIGH (default) or CRITICAL
  --source-url <template>  link findings to Vaikora's console; {id} is replaced by the action id
`;

interface MapOptions {
  destination: Destination;
  now: string;
  thresholds: ReturnType<typeof thresholdsSchema.parse>;
  sourceUrlTemplate: string | undefined;
}

function parseMapArgs(args: string[], io: CommandIo): MapOptions {
  let values: ReturnType<typeof parse>['values'];
  function parse() {
    return parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        'account-id': { type: 'string' },
        region: { type: 'string' },
        partition: { type: 'string', default: 'aws' },
        now: { type: 'string' },
        'min-risk-level': { type: 'string', default: 'high' },
        'min-risk-score': { type: 'string' },
        'no-anomalies': { type: 'boolean', default: false },
        'no-threats': { type: 'boolean', default: false },
        'threat-severity-floor': { type: 'string', default: DEFAULT_THREAT_SEVERITY_FLOOR },
        'source-url': { type: 'string' },
      },
    });
  }
  try {
    values = parse().values;
  } catch (err) {
    throw new UsageError(errorMessage(err));
  }
  const accountId = values['account-id'];
  if (accountId === undefined) throw new UsageError('--account-id is required');
  if (!isAccountId(accountId)) throw new UsageError(`--account-id must be 12 digits, got "${accountId}"`);
  const region = values.region;
  if (region === undefined) throw new UsageError('--region is required');
  if (!isAwsRegion(region)) throw new UsageError(`--region is not an AWS region name: "${region}"`);
  const partition = values.partition ?? 'aws';
  if (!(PARTITIONS as readonly string[]).includes(partition)) {
    throw new UsageError(`--partition must be one of ${PARTITIONS.join(', ')}, got "${partition}"`);
  }
  let now = io.now().toISOString();
  if (values.now !== undefined) {
    if (!isRfc3339DateTime(values.now)) {
      throw new UsageError(
        `--now must be an RFC 3339 date-time such as 2026-11-25T10:00:00Z, got "${values.now}"`,
      );
    }
    now = new Date(Date.parse(values.now)).toISOString();
  }
  const level = values['min-risk-level'] ?? 'high';
  if (level !== 'none' && !(RISK_LEVELS as readonly string[]).includes(level)) {
    throw new UsageError(`--min-risk-level must be one of ${RISK_LEVELS.join(', ')} or none, got "${level}"`);
  }
  let minRiskScore: number | null = null;
  if (values['min-risk-score'] !== undefined) {
    minRiskScore = Number(values['min-risk-score']);
    if (!Number.isFinite(minRiskScore) || minRiskScore < 0 || minRiskScore > 100) {
      throw new UsageError(
        `--min-risk-score must be a number from 0 to 100, got "${values['min-risk-score']}"`,
      );
    }
  }
  const floor = values['threat-severity-floor'] ?? DEFAULT_THREAT_SEVERITY_FLOOR;
  const threatSeverityFloor = THREAT_SEVERITY_FLOORS.find((label) => label === floor);
  if (threatSeverityFloor === undefined) {
    throw new UsageError(
      `--threat-severity-floor must be one of ${THREAT_SEVERITY_FLOORS.join(', ')}, got "${floor}"`,
    );
  }
  return {
    destination: { accountId, region, partition: partition as Partition },
    now,
    thresholds: thresholdsSchema.parse({
      minRiskLevel: level === 'none' ? null : (level as RiskLevel),
      minRiskScore,
      includeAnomalies: !values['no-anomalies'],
      includeThreats: !values['no-threats'],
      threatSeverityFloor,
    }),
    sourceUrlTemplate: values['source-url'],
  };
}

/** Input records: either the whole document's `actions`, or one per JSON line (a bad line is a bad record). */
type InputRecord = { raw: unknown } | { bad: string };

function readRecords(text: string): InputRecord[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  let whole: unknown;
  let wholeOk = false;
  try {
    whole = JSON.parse(trimmed);
    wholeOk = true;
  } catch {
    // Not one document: JSON lines.
  }
  if (wholeOk) {
    if (Array.isArray(whole)) return whole.map((raw) => ({ raw }));
    if (typeof whole === 'object' && whole !== null && 'actions' in whole) {
      const actions = (whole as { actions: unknown }).actions;
      if (!Array.isArray(actions)) throw new UsageError('input has "actions" but it is not an array');
      return actions.map((raw) => ({ raw }));
    }
    if (typeof whole === 'object' && whole !== null) return [{ raw: whole }];
    throw new UsageError(
      'input must be a Vaikora list response ({"actions":[...]}) or JSON lines of actions',
    );
  }
  const records: InputRecord[] = [];
  let parsedLines = 0;
  const lines = trimmed.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      records.push({ raw: JSON.parse(line) });
      parsedLines++;
    } catch (err) {
      const why = err instanceof Error ? err.message : 'parse error';
      records.push({ bad: `line ${i + 1} is not valid JSON: ${why.slice(0, 200)}` });
    }
  });
  if (parsedLines === 0) {
    throw new UsageError(
      'input is neither a Vaikora list response ({"actions":[...]}) nor JSON lines: no line is valid JSON',
    );
  }
  return records;
}

/** `connector map`: preview the findings a batch of Vaikora actions would become. */
export async function mapCommand(args: string[], io: CommandIo): Promise<number> {
  const options = parseMapArgs(args, io);
  const records = readRecords(await readAll(io.stdin));
  const summary = { kind: 'summary', read: 0, mapped: 0, skipped: 0, rejected: 0 };
  for (const record of records) {
    summary.read++;
    if ('bad' in record) {
      summary.rejected++;
      await writeLine(
        io.stderr,
        JSON.stringify({ kind: 'rejected', id: null, code: 'MALFORMED_RECORD', reason: record.bad }),
      );
      continue;
    }
    const outcome = prepareRecord(record.raw, options);
    if (outcome.kind === 'finding') {
      summary.mapped++;
      await writeLine(io.stdout, JSON.stringify(outcome.value.finding));
    } else if (outcome.kind === 'skipped') {
      summary.skipped++;
    } else {
      summary.rejected++;
      const { actionId, code, reason } = outcome.rejection;
      await writeLine(io.stderr, JSON.stringify({ kind: 'rejected', id: actionId, code, reason }));
    }
  }
  await writeLine(io.stderr, JSON.stringify(summary));
  return 0;
}
