import { generateActions, HOSTILE_FIELDS, HOSTILE_STRINGS, securityHubModel } from '@vsh/fixtures';
import { describe, expect, it } from 'vitest';
import { batchFindings, type Destination, prepareRecords, thresholdsSchema } from '../src/index.ts';
import { checkShape } from './botocore-model.ts';

const model = securityHubModel();
const destination: Destination = { accountId: '123456789012', region: 'eu-west-1', partition: 'aws' };
const everything = thresholdsSchema.parse({ minRiskLevel: 'low' });

/** Every hostile string in every field, on top of a generated corpus. */
function corpus(): unknown[] {
  const generated = generateActions({
    seed: 2026,
    count: 1500,
    hostileRate: 0.3,
    badRate: 0.1,
    aliasRate: 0.2,
    wrongTypeRate: 0.2,
    burstRate: 0.1,
  });
  const targeted: unknown[] = [];
  let n = 0;
  for (const field of HOSTILE_FIELDS) {
    for (const hostile of HOSTILE_STRINGS) {
      targeted.push({
        id: `hostile-${n++}`,
        timestamp: '2026-11-01T00:00:00Z',
        risk_score: 95,
        is_anomaly: true,
        [field]: hostile,
      });
    }
  }
  return [...generated, ...targeted];
}

describe('findings against the official Security Hub model (vendored from botocore)', () => {
  const records = corpus();

  it('emits only findings that conform to AwsSecurityFinding, and never throws', () => {
    const result = prepareRecords(records, {
      destination,
      thresholds: everything,
      now: '2026-11-25T00:00:00.000Z',
    });

    expect(result.read).toBe(records.length);
    expect(result.findings.length).toBeGreaterThan(1000);
    const violations = result.findings.flatMap((p) =>
      checkShape(model, 'AwsSecurityFinding', p.finding, p.finding.Id),
    );
    expect(violations).toEqual([]);
    expect(result.findings.length + result.skipped.length + result.rejections.length).toBe(records.length);
  });

  it('turns every record that cannot become a finding into a rejection with a reason', () => {
    const result = prepareRecords(records, {
      destination,
      thresholds: everything,
      now: '2026-11-25T00:00:00.000Z',
    });

    expect(result.rejections.length).toBeGreaterThan(50);
    for (const rejection of result.rejections) {
      expect(rejection.reason.length).toBeGreaterThan(5);
      expect(rejection.stage === 'parse' || rejection.stage === 'validate').toBe(true);
    }
  });

  it('builds BatchImportFindings requests that conform to the request shape', () => {
    const result = prepareRecords(records, {
      destination,
      thresholds: everything,
      now: '2026-11-25T00:00:00.000Z',
    });
    const batches = batchFindings(result.findings);

    for (const batch of batches) {
      const request = { Findings: batch.map((p) => p.finding) };
      expect(checkShape(model, 'BatchImportFindingsRequest', request)).toEqual([]);
      expect(batch.length).toBeLessThanOrEqual(100);
      expect(Buffer.byteLength(JSON.stringify(request))).toBeLessThanOrEqual(6 * 1024 * 1024);
    }
  });

  it('the model checker itself catches violations (so the test above can fail)', () => {
    const bad = {
      SchemaVersion: '2018-10-08',
      Id: ' ',
      Title: 'x'.repeat(300),
      Severity: { Label: 'SEVERE' },
      Bogus: 1,
    };

    const errors = checkShape(model, 'AwsSecurityFinding', bad);

    expect(errors).toEqual(
      expect.arrayContaining([
        expect.stringContaining('$.ProductArn: required member missing'),
        expect.stringContaining('$.Id: does not match'),
        expect.stringContaining('$.Title: longer than 256'),
        expect.stringContaining('$.Severity.Label: SEVERE not in enum'),
        expect.stringContaining('$.Bogus: not a member'),
      ]),
    );
  });
});
