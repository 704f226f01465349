import { describe, expect, it } from 'vitest';
import { type AsffFinding, importRefusal, SecurityHubStore } from './securityhub-store.ts';
import type { RequestInfo } from './wire.ts';

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';

function finding(id: string, extra: AsffFinding = {}): AsffFinding {
  return {
    SchemaVersion: '2018-10-08',
    Id: id,
    ProductArn: `arn:aws:securityhub:${REGION}:${ACCOUNT}:product/${ACCOUNT}/default`,
    GeneratorId: 'vaikora/tool_call',
    AwsAccountId: ACCOUNT,
    CreatedAt: '2026-01-01T00:00:00Z',
    UpdatedAt: '2026-01-01T00:00:00Z',
    Title: `Risky action ${id}`,
    Description: 'agent a1 ran a risky tool call',
    Resources: [{ Type: 'Other', Id: 'vaikora-agent/a1' }],
    ...extra,
  };
}

const request = (operation: string): RequestInfo => ({
  service: 'securityhub',
  operation,
  region: REGION,
  accessKeyId: 'AKID',
  protocol: 'rest-json',
});
const json = (body: unknown) => Buffer.from(JSON.stringify(body));
const at = new Date('2026-02-03T04:05:06.000Z');

describe('SecurityHubStore.import', () => {
  it('stores valid findings with the defaults Security Hub fills in', () => {
    const store = new SecurityHubStore({ requireEnabledHub: true, now: () => at });

    const result = store.import(ACCOUNT, REGION, [finding('f-1')]);

    expect(result).toEqual({ succeeded: ['f-1'], failed: [] });
    expect(store.list(ACCOUNT, REGION)).toEqual([
      {
        ...finding('f-1'),
        RecordState: 'ACTIVE',
        Workflow: { Status: 'NEW' },
        Region: REGION,
        ProcessedAt: at.toISOString(),
      },
    ]);
    expect(store.list(ACCOUNT, 'us-east-1')).toEqual([]);
  });

  it('keeps customer-owned fields of a finding that is imported again', () => {
    const store = new SecurityHubStore({ requireEnabledHub: true });
    store.import(ACCOUNT, REGION, [finding('f-1', { Note: { Text: 'mine' } })]);

    store.import(ACCOUNT, REGION, [finding('f-1', { Title: 'updated', Workflow: { Status: 'RESOLVED' } })]);

    const [stored] = store.list(ACCOUNT, REGION);
    expect(stored).toMatchObject({ Title: 'updated', Note: { Text: 'mine' }, Workflow: { Status: 'NEW' } });
  });

  it('fails, per finding, what is not ASFF or exceeds 240 KB', () => {
    const store = new SecurityHubStore({ requireEnabledHub: true });
    const { Title: _title, ...untitled } = finding('no-title');

    const result = store.import(ACCOUNT, REGION, [
      untitled,
      finding('no-resources', { Resources: [] }),
      finding('huge', { Description: 'x'.repeat(241 * 1024) }),
      finding('ok'),
    ]);

    expect(result.succeeded).toEqual(['ok']);
    expect(result.failed).toEqual([
      expect.objectContaining({ Id: 'no-title', ErrorMessage: expect.stringMatching(/'Title'/) }),
      expect.objectContaining({ Id: 'no-resources', ErrorMessage: expect.stringMatching(/'Resources'/) }),
      { Id: 'huge', ErrorCode: 'InvalidInput', ErrorMessage: 'Finding exceeds the 240 KB size limit.' },
    ]);
  });

  it('hands out copies, never its own findings', () => {
    const store = new SecurityHubStore({ requireEnabledHub: true });
    store.import(ACCOUNT, REGION, [finding('f-1')]);

    const [copy] = store.list(ACCOUNT, REGION);
    if (copy !== undefined) copy.Title = 'changed';

    expect(store.list(ACCOUNT, REGION)[0]?.Title).toBe('Risky action f-1');
  });
});

describe('importRefusal', () => {
  const check = { account: ACCOUNT, region: REGION, accountChecks: true, hubEnabled: true };

  it.each([
    ['no findings', [], { ...check }, 400, 'InvalidInputException'],
    [
      '101 findings',
      Array.from({ length: 101 }, (_, i) => finding(`f-${i}`)),
      check,
      400,
      'InvalidInputException',
    ],
    [
      'another account',
      [finding('f', { AwsAccountId: '999999999999' })],
      check,
      403,
      'AccessDeniedException',
    ],
    [
      'a ProductArn in another region',
      [finding('f', { ProductArn: `arn:aws:securityhub:us-east-1:${ACCOUNT}:product/${ACCOUNT}/default` })],
      check,
      403,
      'AccessDeniedException',
    ],
    ['a hub not enabled', [finding('f')], { ...check, hubEnabled: false }, 401, 'InvalidAccessException'],
  ])('refuses %s', (_name, findings, given, status, code) => {
    expect(importRefusal(findings, given)).toMatchObject({ status, code });
  });

  it('accepts a valid batch, and skips the account check when it is turned off', () => {
    const foreign = [finding('f', { AwsAccountId: '999999999999' })];

    expect(importRefusal([finding('f')], check)).toBeUndefined();
    expect(importRefusal(foreign, { ...check, accountChecks: false, hubEnabled: undefined })).toBeUndefined();
  });
});

describe('SecurityHubStore.answer', () => {
  it('enables a hub once, describes it, and disables it', () => {
    const store = new SecurityHubStore({ requireEnabledHub: true, now: () => at });

    const before = store.answer(request('DescribeHub'), Buffer.alloc(0), ACCOUNT);
    const enabled = store.answer(request('EnableSecurityHub'), Buffer.alloc(0), ACCOUNT);
    const again = store.answer(request('EnableSecurityHub'), Buffer.alloc(0), ACCOUNT);
    const described = store.answer(request('DescribeHub'), Buffer.alloc(0), ACCOUNT);
    const disabled = store.answer(request('DisableSecurityHub'), Buffer.alloc(0), ACCOUNT);

    expect([before, enabled, again, described, disabled].map((r) => r?.status)).toEqual([
      401, 200, 409, 200, 200,
    ]);
    expect(JSON.parse(described?.body ?? '{}')).toMatchObject({ SubscribedAt: at.toISOString() });
    expect(store.isEnabled(ACCOUNT, REGION)).toBe(false);
  });

  it('pages GetFindings with NextToken and applies its filters', () => {
    const store = new SecurityHubStore({ requireEnabledHub: false });
    store.import(
      ACCOUNT,
      REGION,
      ['a-1', 'a-2', 'a-3', 'b-1'].map((id) => finding(id)),
    );
    const getFindings = (body: unknown) => {
      const answer = store.answer(request('GetFindings'), json(body), ACCOUNT);
      return JSON.parse(answer?.body ?? '{}') as { Findings: AsffFinding[]; NextToken?: string };
    };
    const filters = { Id: [{ Value: 'a-', Comparison: 'PREFIX' }] };

    const first = getFindings({ Filters: filters, MaxResults: 2 });
    const second = getFindings({ Filters: filters, MaxResults: 2, NextToken: first.NextToken });

    expect(first.Findings.map((f) => f.Id)).toEqual(['a-1', 'a-2']);
    expect(second.Findings.map((f) => f.Id)).toEqual(['a-3']);
    expect(second.NextToken).toBeUndefined();
  });

  it('answers bad GetFindings requests with 400, and a disabled hub with 401', () => {
    const open = new SecurityHubStore({ requireEnabledHub: false });
    const closed = new SecurityHubStore({ requireEnabledHub: true });
    const status = (store: SecurityHubStore, body: unknown) =>
      store.answer(request('GetFindings'), json(body), ACCOUNT)?.status;

    expect(status(open, { MaxResults: 101 })).toBe(400);
    expect(status(open, { NextToken: '-1' })).toBe(400);
    expect(status(open, { Filters: { ProcessPid: [] } })).toBe(400);
    expect(status(closed, {})).toBe(401);
  });

  it('leaves every other operation to the upstream', () => {
    const store = new SecurityHubStore({ requireEnabledHub: true });

    expect(store.answer(request('BatchUpdateFindings'), Buffer.alloc(0), ACCOUNT)).toBeUndefined();
  });
});
