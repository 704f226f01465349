import { PassThrough } from 'node:stream';
import { generateActions } from '@vsh/fixtures';
import { describe, expect, it } from 'vitest';
import type { CommandIo } from '../io.ts';
import { runCli } from '../main.ts';

async function run(args: string[], input: string) {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: string[] = [];
  const err: string[] = [];
  stdout.on('data', (c) => out.push(String(c)));
  stderr.on('data', (c) => err.push(String(c)));
  const io: CommandIo = { stdin, stdout, stderr, now: () => new Date('2026-11-25T12:00:00Z') };
  stdin.end(input);
  const code = await runCli(args, io);
  const lines = (s: string[]) => s.join('').split('\n').filter(Boolean);
  return { code, stdout: lines(out), stderr: lines(err), stderrText: err.join('') };
}

const args = ['map', '--account-id', '123456789012', '--region', 'eu-central-1'];
const high = { id: 'h1', timestamp: '2026-11-01T00:00:00Z', risk_level: 'high', agent_id: 'agt' };
const low = { id: 'l1', timestamp: '2026-11-01T00:00:00Z', risk_level: 'low' };

describe('connector map', () => {
  it('reads a Vaikora list response and writes one finding per qualifying action', async () => {
    const result = await run(
      args,
      JSON.stringify({ actions: [high, low], total: 2, page: 1, per_page: 100 }),
    );

    expect(result.code).toBe(0);
    expect(result.stdout).toHaveLength(1);
    const finding = JSON.parse(result.stdout[0] ?? '{}');
    expect(finding.Id).toBe('vaikora-h1');
    expect(finding.AwsAccountId).toBe('123456789012');
    expect(finding.UpdatedAt).toBe('2026-11-25T12:00:00.000Z');
    expect(JSON.parse(result.stderr.at(-1) ?? '{}')).toEqual({
      kind: 'summary',
      read: 2,
      mapped: 1,
      skipped: 1,
      rejected: 0,
    });
  });

  it('reads JSON lines, and keeps a bad line as a rejected record while the rest goes on', async () => {
    const input = [
      JSON.stringify(high),
      '{not json',
      JSON.stringify({ timestamp: 'x' }),
      JSON.stringify({ ...high, id: 'h2' }),
    ].join('\n');

    const result = await run([...args, '--now', '2026-11-25T00:00:00Z'], input);

    expect(result.code).toBe(0);
    expect(result.stdout.map((l) => JSON.parse(l).Id)).toEqual(['vaikora-h1', 'vaikora-h2']);
    const rejected = result.stderr.map((l) => JSON.parse(l)).filter((r) => r.kind === 'rejected');
    expect(rejected).toEqual([
      expect.objectContaining({
        kind: 'rejected',
        id: null,
        reason: expect.stringContaining('line 2 is not valid JSON'),
      }),
      expect.objectContaining({ kind: 'rejected', id: null, reason: 'record has no id' }),
    ]);
    expect(JSON.parse(result.stderr.at(-1) ?? '{}')).toEqual({
      kind: 'summary',
      read: 4,
      mapped: 2,
      skipped: 0,
      rejected: 2,
    });
  });

  it('applies the threshold options', async () => {
    const result = await run([...args, '--min-risk-level', 'low'], JSON.stringify({ actions: [high, low] }));

    expect(result.stdout).toHaveLength(2);
  });

  it('raises a confirmed threat to the --threat-severity-floor', async () => {
    const threat = { ...low, id: 'act-threat-floor', threat_detected: true };

    const byDefault = await run(args, JSON.stringify({ actions: [threat] }));
    const critical = await run(
      [...args, '--threat-severity-floor', 'CRITICAL'],
      JSON.stringify({ actions: [threat] }),
    );

    expect(JSON.parse(byDefault.stdout[0] ?? '{}').Severity.Label).toBe('HIGH');
    expect(JSON.parse(critical.stdout[0] ?? '{}').Severity.Label).toBe('CRITICAL');
  });

  it('handles a generated corpus with hostile and bad records without failing', async () => {
    const actions = generateActions({
      seed: 3,
      count: 500,
      hostileRate: 0.3,
      badRate: 0.1,
      wrongTypeRate: 0.2,
    });

    const result = await run(args, JSON.stringify({ actions }));

    const summary = JSON.parse(result.stderr.at(-1) ?? '{}');
    expect(result.code).toBe(0);
    expect(summary.read).toBe(500);
    expect(summary.mapped + summary.skipped + summary.rejected).toBe(500);
    expect(summary.rejected).toBeGreaterThan(0);
    expect(result.stdout).toHaveLength(summary.mapped);
  });

  it.each([
    [['map', '--region', 'us-east-1'], '--account-id is required'],
    [['map', '--account-id', '1234', '--region', 'us-east-1'], '--account-id must be 12 digits'],
    [['map', '--account-id', '123456789012', '--region', 'mars'], '--region is not an AWS region name'],
    [[...args, '--partition', 'azure'], '--partition must be one of'],
    [[...args, '--now', 'yesterday'], '--now must be an RFC 3339'],
    [[...args, '--min-risk-level', 'severe'], '--min-risk-level must be one of'],
    [[...args, '--min-risk-score', '101'], '--min-risk-score must be a number'],
    [[...args, '--threat-severity-floor', 'high'], '--threat-severity-floor must be one of'],
    [[...args, '--bogus'], "Unknown option '--bogus'"],
  ])('exits 2 with a clear message for bad arguments %j', async (argv, message) => {
    const result = await run(argv, '');

    expect(result.code).toBe(2);
    expect(result.stderrText).toContain(message);
    expect(result.stdout).toEqual([]);
  });

  it.each([
    ['garbage', 'no line is valid JSON'],
    ['{"actions": 5}', '"actions" but it is not an array'],
    ['42', 'must be a Vaikora list response'],
  ])('exits 2 on unparsable input %j', async (input, message) => {
    const result = await run(args, input);

    expect(result.code).toBe(2);
    expect(result.stderrText).toContain(message);
  });

  it('exits 2 and prints usage for an unknown command', async () => {
    const result = await run(['frobnicate'], '');

    expect(result.code).toBe(2);
    expect(result.stderrText).toContain('unknown command "frobnicate"');
  });
});
