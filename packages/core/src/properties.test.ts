import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAction } from './action.ts';
import { type Destination, findingId } from './asff.ts';
import { thresholdsSchema } from './filter.ts';
import { mapAction } from './map.ts';
import { prepareRecord } from './pipeline.ts';
import { NORMALIZED_BY_LABEL, SEVERITY_BY_RISK_LEVEL, severityLabelFromScore } from './risk.ts';
import { validateFinding } from './validate.ts';

const everything = thresholdsSchema.parse({ minRiskLevel: 'low' });
const destination: Destination = { accountId: '123456789012', region: 'ap-southeast-2', partition: 'aws' };
const now = '2026-11-25T00:00:00.000Z';

const hostileString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.string({ unit: 'grapheme', maxLength: 3000 }),
  fc.constantFrom('', ' ', '\u0000', '\n', '\u202e', '\ud800', 'x'.repeat(5000)),
);
const anyValue = fc.oneof(
  hostileString,
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.object({ maxDepth: 1 }),
);
const validId = fc.stringMatching(/^[A-Za-z0-9_.:/-]{1,64}$/);
const timestamp = fc
  .date({ min: new Date('1990-01-01'), max: new Date('2090-01-01'), noInvalidDate: true })
  .map((d) => d.toISOString());

const looseAction = fc.record(
  {
    id: fc.oneof(validId, anyValue),
    timestamp: fc.oneof(timestamp, anyValue),
    agent_id: anyValue,
    action_type: anyValue,
    risk_level: fc.oneof(fc.constantFrom('low', 'medium', 'high', 'critical', 'HIGH', 'bogus'), anyValue),
    severity: fc.oneof(fc.constantFrom('low', 'critical'), anyValue),
    risk_score: fc.oneof(fc.double({ min: -10, max: 110 }), anyValue),
    is_anomaly: anyValue,
    threat_detected: anyValue,
    threat_score: anyValue,
    anomaly_reason: anyValue,
    description: anyValue,
    ip_address: anyValue,
    target_url: anyValue,
    policy_id: anyValue,
    process_name: anyValue,
  },
  { requiredKeys: [] },
);

describe('map + validate over arbitrary input', () => {
  it('never throws, and every finding it emits is valid', () => {
    fc.assert(
      fc.property(fc.oneof(looseAction, anyValue), (raw) => {
        const outcome = prepareRecord(raw, { destination, now, thresholds: everything });
        if (outcome.kind === 'finding') {
          expect(validateFinding(outcome.value.finding).ok).toBe(true);
        }
        if (outcome.kind === 'rejected') expect(outcome.rejection.reason.length).toBeGreaterThan(0);
      }),
      { numRuns: 2000 },
    );
  });

  it('a well-formed action always maps to a valid finding with id vaikora-{id}', () => {
    fc.assert(
      fc.property(looseAction, validId, timestamp, (raw, id, ts) => {
        const parsed = parseAction({ ...raw, id, timestamp: ts });
        expect(parsed.ok).toBe(true);
        if (!parsed.ok) return;

        const finding = mapAction(parsed.action, { destination, now });

        expect(finding.Id).toBe(findingId(id));
        expect(finding.Id).toBe(`vaikora-${id}`);
        expect(validateFinding(finding).ok).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('the severity map is exact: a level maps to its label, a score to its band', () => {
    fc.assert(
      fc.property(fc.constantFrom('low', 'medium', 'high', 'critical' as const), (level) => {
        const parsed = parseAction({ id: 'x', timestamp: now, risk_level: level, risk_score: 0 });
        if (!parsed.ok) throw new Error('fixture');
        const f = mapAction(parsed.action, { destination, now });
        expect(f.Severity.Label).toBe(SEVERITY_BY_RISK_LEVEL[level].label);
        expect(f.Severity.Normalized).toBe(SEVERITY_BY_RISK_LEVEL[level].normalized);
      }),
    );
    fc.assert(
      fc.property(fc.double({ min: 0, max: 100, noNaN: true }), (score) => {
        const parsed = parseAction({ id: 'x', timestamp: now, risk_score: score });
        if (!parsed.ok) throw new Error('fixture');
        const f = mapAction(parsed.action, { destination, now });
        const expected =
          score >= 90
            ? 'CRITICAL'
            : score >= 70
              ? 'HIGH'
              : score >= 40
                ? 'MEDIUM'
                : score > 0
                  ? 'LOW'
                  : 'INFORMATIONAL';
        expect(f.Severity.Label).toBe(expected);
        expect(severityLabelFromScore(score)).toBe(expected);
        expect(f.Severity.Normalized).toBe(NORMALIZED_BY_LABEL[expected]);
      }),
    );
  });
});
