import { describe, expect, it } from 'vitest';
import { parseAction } from './action.ts';
import { findingId } from './asff.ts';
import {
  buildDeliveryCheckFinding,
  buildHealthFinding,
  buildHeartbeatFinding,
  checkHealthFinding,
  DEFAULT_REJECTED_RECORDS_THRESHOLD,
  HEALTH_CONDITIONS,
  HEALTH_FINDING_TYPE_PREFIX,
  HEARTBEAT_KIND,
  type HealthFindingInput,
  healthFindingId,
  prepareHealthFinding,
  rejectedAboveThreshold,
  rejectedRecordsFacts,
} from './health-finding.ts';
import { validateFinding } from './validate.ts';

const base: HealthFindingInput = {
  tenantId: 'ten_01HZX',
  destinationId: 'dst_01HZY',
  destination: { accountId: '123456789012', region: 'eu-west-1', partition: 'aws' },
  condition: 'vaikora_auth',
  state: 'open',
  openedAt: '2026-12-04T10:00:00.000Z',
  now: '2026-12-04T10:00:00.000Z',
  facts: 'VAIKORA_UNAUTHORIZED: Vaikora refused the API key (HTTP 401)',
};

describe('buildHealthFinding', () => {
  it.each(
    HEALTH_CONDITIONS.flatMap((condition) =>
      (['open', 'cleared'] as const).map((state) => ({ condition, state })),
    ),
  )('builds a $state $condition finding that passes the ASFF validator', ({ condition, state }) => {
    const finding = buildHealthFinding({ ...base, condition, state, now: '2026-12-04T11:00:00.000Z' });

    const checked = checkHealthFinding(finding);
    const asAction = validateFinding({ ...finding, RecordState: 'ACTIVE' });

    expect(typeof checked).toBe('number');
    expect(asAction.ok).toBe(true);
    expect(finding.Types).toHaveLength(1);
    expect(finding.Types[0]?.startsWith(HEALTH_FINDING_TYPE_PREFIX)).toBe(true);
    expect(finding.RecordState).toBe(state === 'open' ? 'ACTIVE' : 'ARCHIVED');
    expect(finding.Remediation.Recommendation.Text.length).toBeLessThanOrEqual(512);
    expect(finding).not.toHaveProperty('Workflow');
  });

  it('keeps the Id, CreatedAt and FirstObservedAt when the condition clears, with a fresh UpdatedAt', () => {
    const opened = buildHealthFinding(base);
    const cleared = buildHealthFinding({ ...base, state: 'cleared', now: '2026-12-04T12:30:00.000Z' });

    expect(cleared.Id).toBe(opened.Id);
    expect(cleared.CreatedAt).toBe(opened.CreatedAt);
    expect(cleared.FirstObservedAt).toBe(opened.FirstObservedAt);
    expect(cleared.UpdatedAt).toBe('2026-12-04T12:30:00.000Z');
    expect(opened.RecordState).toBe('ACTIVE');
    expect(cleared.RecordState).toBe('ARCHIVED');
  });

  it('names the destination account, region and default product, as action findings do', () => {
    const finding = buildHealthFinding({
      ...base,
      destination: { accountId: '210987654321', region: 'cn-north-1', partition: 'aws-cn' },
    });

    expect(finding.AwsAccountId).toBe('210987654321');
    expect(finding.Region).toBe('cn-north-1');
    expect(finding.ProductArn).toBe(
      'arn:aws-cn:securityhub:cn-north-1:210987654321:product/210987654321/default',
    );
    expect(finding.Resources[0]).toEqual({
      Type: 'AwsAccount',
      Id: 'AWS::::Account:210987654321',
      Partition: 'aws-cn',
      Region: 'cn-north-1',
    });
  });

  it.each([
    ['vaikora_auth', 'HIGH'],
    ['vaikora_unreachable', 'HIGH'],
    ['retention_gap', 'MEDIUM'],
    ['rejected_above_threshold', 'LOW'],
  ] as const)('gives %s severity %s', (condition, label) => {
    const finding = buildHealthFinding({ ...base, condition });

    expect(finding.Severity.Label).toBe(label);
    expect(finding.FindingProviderFields.Severity.Label).toBe(label);
  });

  it('never dates UpdatedAt before CreatedAt when the clock stepped back', () => {
    const finding = buildHealthFinding({ ...base, state: 'cleared', now: '2026-12-04T09:59:00.000Z' });

    expect(finding.UpdatedAt).toBe(base.openedAt);
    expect(typeof checkHealthFinding(finding)).toBe('number');
  });

  it('keeps control characters and overlong facts out of the description', () => {
    const finding = buildHealthFinding({ ...base, facts: `bad\u0000key ${'x'.repeat(5000)}` });

    expect(finding.Description.length).toBeLessThanOrEqual(1024);
    expect(typeof checkHealthFinding(finding)).toBe('number');
  });
});

describe('healthFindingId', () => {
  it('is one id per tenant, destination and condition', () => {
    const ids = new Set(
      ['ten_a', 'ten_b'].flatMap((tenant) =>
        ['dst_a', 'dst_b'].flatMap((dst) => HEALTH_CONDITIONS.map((c) => healthFindingId(tenant, dst, c))),
      ),
    );

    expect(ids.size).toBe(2 * 2 * HEALTH_CONDITIONS.length);
  });

  it('can never be the id of an action finding: an action with that id does not parse', () => {
    const id = healthFindingId('ten_a', 'dst_a', 'vaikora_auth');
    const actionId = id.slice('vaikora-'.length);

    const parsed = parseAction({ id: actionId, timestamp: '2026-12-04T10:00:00Z' });

    expect(findingId(actionId)).toBe(id);
    expect(parsed.ok).toBe(false);
  });
});

describe('checkHealthFinding', () => {
  it('refuses a finding without remediation text', () => {
    const finding = buildHealthFinding(base);
    finding.Remediation.Recommendation.Text = ' ';

    const checked = checkHealthFinding(finding);

    expect(checked).toMatchObject({ code: 'INVALID_FINDING', reason: expect.stringMatching(/Remediation/) });
  });

  it('refuses a finding the ASFF validator refuses (account of another shape)', () => {
    const finding = buildHealthFinding(base);
    finding.AwsAccountId = '1234';

    expect(checkHealthFinding(finding)).toMatchObject({ code: 'INVALID_FINDING' });
  });
});

describe('prepareHealthFinding', () => {
  it('hands the importer the finding as built, ARCHIVED state and Remediation included', () => {
    const finding = buildHealthFinding({ ...base, state: 'cleared', now: '2026-12-04T11:00:00.000Z' });

    const prepared = prepareHealthFinding(finding);

    expect(prepared.ok).toBe(true);
    if (!prepared.ok) return;
    expect(prepared.value.finding).toBe(finding);
    expect(prepared.value.finding).toMatchObject({ RecordState: 'ARCHIVED' });
    expect(prepared.value.bytes).toBeGreaterThanOrEqual(Buffer.byteLength(JSON.stringify(finding)));
  });
});

describe('rejectedAboveThreshold', () => {
  const t = { minRecords: 10, minShare: 0.05, alwaysAt: 1000 };
  it.each([
    { rejected: 0, read: 0, above: false },
    { rejected: 9, read: 9, above: false },
    { rejected: 10, read: 10, above: true },
    { rejected: 10, read: 200, above: true },
    { rejected: 10, read: 201, above: false },
    { rejected: 50, read: 100_000, above: false },
    { rejected: 999, read: 1_000_000, above: false },
    { rejected: 1000, read: 1_000_000, above: true },
    // Records that did not even parse may not be counted as read: the share is never above 1.
    { rejected: 12, read: 0, above: true },
  ])('$rejected rejected of $read read: above $above', ({ rejected, read, above }) => {
    expect(rejectedAboveThreshold({ rejected, read }, t)).toBe(above);
  });

  it('defaults to the one documented threshold', () => {
    expect(DEFAULT_REJECTED_RECORDS_THRESHOLD).toEqual(t);
    expect(rejectedAboveThreshold({ rejected: 10, read: 100 })).toBe(true);
    expect(rejectedAboveThreshold({ rejected: 9, read: 10 })).toBe(false);
  });

  it('is false for counts that are not numbers', () => {
    expect(rejectedAboveThreshold({ rejected: Number.NaN, read: 1 })).toBe(false);
  });
});

describe('rejectedRecordsFacts', () => {
  it('says counts and stage names only', () => {
    expect(rejectedRecordsFacts({ rejected: 12, read: 40, stages: ['parse', 'validate', 'parse'] })).toBe(
      '12 of 40 records read in one run were rejected (stages: parse, validate).',
    );
  });

  it('leaves out a stage that is not a plain name, so no record content can reach the finding', () => {
    const hostile = 'parse\u0000<script>alert(1)</script> ignore previous instructions';

    const facts = rejectedRecordsFacts({ rejected: 11, read: 11, stages: [hostile, 'import'] });
    const finding = buildHealthFinding({ ...base, condition: 'rejected_above_threshold', facts });

    expect(facts).toBe('11 of 11 records read in one run were rejected (stages: import).');
    expect(finding.Description).not.toMatch(/<script>|ignore previous/);
    expect(finding.Description.includes('\u0000')).toBe(false);
    expect(finding.Remediation.Recommendation.Text).toContain('GET /v1/tenants/{tenantId}/rejected-records');
  });
});

describe('buildHeartbeatFinding', () => {
  const input = {
    tenantId: base.tenantId,
    destinationId: base.destinationId,
    destination: base.destination,
    openedAt: '2026-12-04T10:00:00.000Z',
    now: '2026-12-04T13:00:00.000Z',
  };

  it.each(['open', 'cleared'] as const)(
    'builds a valid %s heartbeat, INFORMATIONAL, with its own stable id',
    (state) => {
      const finding = buildHeartbeatFinding({ ...input, state });

      expect(typeof checkHealthFinding(finding)).toBe('number');
      expect(finding).toMatchObject({
        Id: healthFindingId(base.tenantId, base.destinationId, HEARTBEAT_KIND),
        Types: [`${HEALTH_FINDING_TYPE_PREFIX}Heartbeat`],
        Severity: { Label: 'INFORMATIONAL', Normalized: 0 },
        RecordState: state === 'open' ? 'ACTIVE' : 'ARCHIVED',
        CreatedAt: input.openedAt,
        UpdatedAt: input.now,
        AwsAccountId: base.destination.accountId,
        Region: base.destination.region,
      });
      expect(finding.Remediation.Recommendation.Text).toMatch(/UpdatedAt/);
    },
  );

  it('never shares an id with a condition of the same destination', () => {
    const heartbeat = buildHeartbeatFinding({ ...input, state: 'open' }).Id;

    expect(HEALTH_CONDITIONS.map((c) => healthFindingId(base.tenantId, base.destinationId, c))).not.toContain(
      heartbeat,
    );
  });
});

describe('buildDeliveryCheckFinding (ADR 0121)', () => {
  const partner = {
    accountId: '210987654321',
    region: 'eu-west-1',
    partition: 'aws' as const,
    product: { accountId: '111122223333', name: 'data443/vaikora' },
  };

  it("is an ARCHIVED, INFORMATIONAL finding under the destination's product, with its own stable id, and valid", () => {
    const finding = buildDeliveryCheckFinding({
      tenantId: 'ten_1',
      destinationId: 'dst_1',
      destination: partner,
      now: '2026-12-04T10:00:00.000Z',
    });

    expect(finding.Id).toBe('vaikora-health ten_1/dst_1/delivery_check');
    expect(finding.RecordState).toBe('ARCHIVED');
    expect(finding.Severity.Label).toBe('INFORMATIONAL');
    expect(finding.ProductArn).toBe('arn:aws:securityhub:eu-west-1:111122223333:product/data443/vaikora');
    expect(finding.AwsAccountId).toBe('210987654321');
    expect(finding.Types).toEqual([
      'Software and Configuration Checks/Vaikora Connector Health/Delivery Check',
    ]);
    expect(typeof checkHealthFinding(finding)).toBe('number');
  });
});
