import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { CommandIo } from '../io.ts';
import { runCli } from '../main.ts';

const TENANT = 'ten_01jd0000000000000000000000';
const NOW = new Date('2026-11-20T12:00:00.000Z');

function capture(tty: boolean) {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  Object.assign(stream, { isTTY: tty });
  return { stream, text: () => text };
}

const job = (state: string, percent: number, read: number, imported: number, extra: object = {}) => ({
  id: 'bkf_01jd0000000000000000000000',
  state,
  progressPercent: percent,
  pages: 1,
  actionsRead: read,
  actionsInRange: read,
  findingsImported: imported,
  recordsRejected: 0,
  actionsSkipped: 0,
  errorCode: null,
  errorMessage: null,
  ...extra,
});

/** A fake API answering the create with the first job, then each poll with the next. */
function fakeApi(answers: Array<{ status: number; body: unknown }>) {
  const calls: Array<{ method: string; url: string; auth: string | null; body: unknown }> = [];
  const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
    const request = new Request(input, init);
    const text = await request.text();
    calls.push({
      method: request.method,
      url: request.url,
      auth: request.headers.get('authorization'),
      body: text === '' ? undefined : JSON.parse(text),
    });
    const answer = answers.shift() ?? { status: 500, body: {} };
    return new Response(JSON.stringify(answer.body), { status: answer.status });
  }) as typeof fetch;
  return { fetchFn, calls };
}

function io(tty: boolean, fetchFn: typeof fetch) {
  const out = capture(tty);
  const err = capture(false);
  const value: CommandIo = {
    stdin: new PassThrough(),
    stdout: out.stream,
    stderr: err.stream,
    now: () => NOW,
    env: { VSH_API_URL: 'http://127.0.0.1:9', VSH_OPERATOR_KEY: 'op-key-0123456789012345678901234567890' },
    fetch: fetchFn,
    sleep: async () => undefined,
  };
  return { io: value, out: out.text, err: err.text };
}

const args = [
  'backfill',
  '--tenant',
  TENANT,
  '--from',
  '2026-11-19T00:00:00Z',
  '--to',
  '2026-11-20T00:00:00Z',
];

describe('connector backfill', () => {
  it.each([
    [['backfill', '--from', '2026-11-19T00:00:00Z', '--to', '2026-11-20T00:00:00Z'], '--tenant is required'],
    [['backfill', '--tenant', 'ten_x', '--from', 'a', '--to', 'b'], '--tenant must be a tenant id'],
    [
      ['backfill', '--tenant', TENANT, '--from', 'yesterday', '--to', '2026-11-20T00:00:00Z'],
      '--from must be an RFC 3339',
    ],
    [
      ['backfill', '--tenant', TENANT, '--from', '2026-11-20T00:00:00Z', '--to', '2026-11-19T00:00:00Z'],
      '--from must be before --to',
    ],
    [
      ['backfill', '--tenant', TENANT, '--from', '2026-10-01T00:00:00Z', '--to', '2026-11-19T00:00:00Z'],
      'at most 30 days',
    ],
    [
      ['backfill', '--tenant', TENANT, '--from', '2026-11-20T00:00:00Z', '--to', '2026-11-21T00:00:00Z'],
      'must not be in the future',
    ],
    [['backfill', '--tenant', TENANT, '--bogus'], "Unknown option '--bogus'"],
  ])('exits 2 with a clear message and no request for %j', async (argv, message) => {
    const api = fakeApi([]);
    const run = io(false, api.fetchFn);

    const code = await runCli(argv, run.io);

    expect(code).toBe(2);
    expect(run.err()).toContain(message);
    expect(run.err()).not.toMatch(/\n\s+at /);
    expect(api.calls).toEqual([]);
  });

  it('prints timestamped progress lines when stdout is not a terminal, and exits 0 when done', async () => {
    const api = fakeApi([
      { status: 202, body: job('queued', 0, 0, 0) },
      { status: 200, body: job('running', 52, 1234, 456) },
      { status: 200, body: job('running', 52, 1234, 456) },
      { status: 200, body: job('done', 100, 2000, 800) },
    ]);
    const run = io(false, api.fetchFn);

    const code = await runCli(args, run.io);

    const lines = run.out().trim().split('\n');
    expect(code).toBe(0);
    expect(run.out().includes('\r') || run.out().includes('\x1b')).toBe(false);
    expect(lines.filter((l) => l.startsWith('2026-11-20T12:00:00.000Z backfill bkf_'))).toHaveLength(3);
    expect(run.out()).toContain('running 52%: 1 pages, 1,234 actions read (1,234 in range), 456 imported');
    expect(lines.at(-1)).toMatch(/done in .* 800 findings sent/);
    expect(api.calls[0]).toMatchObject({
      method: 'POST',
      url: `http://127.0.0.1:9/v1/tenants/${TENANT}/backfills`,
      auth: 'Bearer op-key-0123456789012345678901234567890',
      body: { from: '2026-11-19T00:00:00.000Z', to: '2026-11-20T00:00:00.000Z' },
    });
  });

  it('redraws a progress bar in place on a terminal', async () => {
    const api = fakeApi([
      { status: 202, body: job('queued', 0, 0, 0) },
      { status: 200, body: job('running', 52, 1234, 456) },
      { status: 200, body: job('done', 100, 2000, 800) },
    ]);
    const run = io(true, api.fetchFn);

    const code = await runCli(args, run.io);

    expect(code).toBe(0);
    expect(run.out()).toContain('\r\x1b[2K[##########..........]  52% 1,234 actions read, 456 imported');
    expect(run.out()).toContain('\r\x1b[2K[####################] 100% 2,000 actions read, 800 imported\n');
  });

  it('exits 1 with the job’s error when it fails, 2 when the API refuses the range, 1 when the API is unreachable', async () => {
    const failed = io(
      false,
      fakeApi([
        { status: 202, body: job('queued', 0, 0, 0) },
        {
          status: 200,
          body: job('failed', 40, 10, 5, { errorCode: 'VAIKORA_UNAUTHORIZED', errorMessage: 'HTTP 401' }),
        },
      ]).fetchFn,
    );
    const refused = io(
      false,
      fakeApi([
        {
          status: 400,
          body: {
            error: {
              code: 'VALIDATION_FAILED',
              message: 'body.to: must not be in the future',
              requestId: 'r',
            },
          },
        },
      ]).fetchFn,
    );
    const unreachable = io(false, (async () => {
      throw new TypeError('fetch failed', {
        cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      });
    }) as typeof fetch);

    const codes = [
      await runCli(args, failed.io),
      await runCli(args, refused.io),
      await runCli(args, unreachable.io),
    ];

    expect(codes).toEqual([1, 2, 1]);
    expect(failed.err()).toContain('failed after 0.0 s: VAIKORA_UNAUTHORIZED: HTTP 401');
    expect(refused.err()).toContain('VALIDATION_FAILED: body.to: must not be in the future');
    expect(unreachable.err()).toContain('cannot reach the API at http://127.0.0.1:9: ECONNREFUSED');
    expect(unreachable.err()).not.toContain('op-key');
  });
});
