import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAction, type VaikoraAction } from './action.ts';
import { DEFAULT_THRESHOLDS, qualifies, qualifyReasons, thresholdsSchema } from './filter.ts';

function action(fields: Record<string, unknown>): VaikoraAction {
  const result = parseAction({ id: 'a', timestamp: '2026-11-01T00:00:00Z', ...fields });
  if (!result.ok) throw new Error(result.rejection.reason);
  return result.action;
}

describe('the default filter (every public Vaikora connector)', () => {
  it.each([
    [{ risk_level: 'critical' }, true],
    [{ risk_level: 'high' }, true],
    [{ risk_level: 'medium' }, false],
    [{ risk_level: 'low' }, false],
    [{ severity: 'high' }, true],
    [{ risk_score: 70 }, true],
    [{ risk_score: 69.9 }, false],
    [{ risk_level: 'low', is_anomaly: true }, true],
    [{ risk_level: 'low', threat_detected: true }, true],
    [{}, false],
  ])('%j → %s', (fields, expected) => {
    expect(qualifies(action(fields), DEFAULT_THRESHOLDS)).toBe(expected);
  });
});

describe('per-tenant thresholds', () => {
  it('forwards medium when the tenant lowers the level', () => {
    const t = thresholdsSchema.parse({ minRiskLevel: 'medium' });

    expect(qualifies(action({ risk_level: 'medium' }), t)).toBe(true);
  });

  it('applies a score threshold on its own ("75 or above")', () => {
    const t = thresholdsSchema.parse({ minRiskLevel: null, minRiskScore: 75 });

    expect(qualifyReasons(action({ risk_score: 75 }), t)).toEqual(['risk_score']);
    expect(qualifies(action({ risk_score: 74 }), t)).toBe(false);
  });

  it('can ignore anomalies and threats', () => {
    const t = thresholdsSchema.parse({ includeAnomalies: false, includeThreats: false });

    expect(qualifies(action({ is_anomaly: true, threat_detected: true, risk_level: 'low' }), t)).toBe(false);
  });

  it('names every reason that applies', () => {
    expect(
      qualifyReasons(
        action({ risk_level: 'critical', is_anomaly: true, threat_detected: true }),
        DEFAULT_THRESHOLDS,
      ),
    ).toEqual(['risk_level', 'anomaly', 'threat']);
  });

  it('refuses unknown threshold keys and out-of-range scores', () => {
    expect(thresholdsSchema.safeParse({ minRiskScore: 101 }).success).toBe(false);
    expect(thresholdsSchema.safeParse({ minRisk: 'high' }).success).toBe(false);
  });
});

describe('qualifies', () => {
  it('is exactly "qualifyReasons is not empty" for any action and thresholds', () => {
    const level = fc.option(fc.constantFrom('low', 'medium', 'high', 'critical'), { nil: undefined });
    fc.assert(
      fc.property(
        fc.record({
          risk_level: level,
          risk_score: fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }),
          is_anomaly: fc.boolean(),
          threat_detected: fc.boolean(),
        }),
        fc.record({
          minRiskLevel: fc.constantFrom(null, 'low', 'medium', 'high', 'critical'),
          minRiskScore: fc.option(fc.integer({ min: 0, max: 100 }), { nil: null }),
          includeAnomalies: fc.boolean(),
          includeThreats: fc.boolean(),
        }),
        (fields, t) => {
          const a = action(fields);
          const thresholds = thresholdsSchema.parse(t);
          expect(qualifies(a, thresholds)).toBe(qualifyReasons(a, thresholds).length > 0);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('threatSeverityFloor', () => {
  it('parses thresholds stored before the floor existed, and gives them the HIGH floor', () => {
    // The shape packages/db wrote as its default, and one with minRiskScore: both predate the floor.
    const stored = [
      { minRiskLevel: 'high', includeAnomalies: true, includeThreats: true },
      { minRiskLevel: 'medium', minRiskScore: 80, includeAnomalies: false, includeThreats: true },
    ];

    for (const old of stored) {
      const parsed = thresholdsSchema.safeParse(old);
      expect(parsed.success).toBe(true);
      expect(parsed.data).toEqual({ minRiskScore: null, ...old, threatSeverityFloor: 'HIGH' });
    }
    expect(DEFAULT_THRESHOLDS.threatSeverityFloor).toBe('HIGH');
  });

  it.each(['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'])('accepts the Security Hub label %s', (label) => {
    expect(thresholdsSchema.parse({ threatSeverityFloor: label }).threatSeverityFloor).toBe(label);
  });

  it.each(['INFORMATIONAL', 'high', 'SEVERE', '', 3, null])('refuses %j and names the field', (value) => {
    const parsed = thresholdsSchema.safeParse({ threatSeverityFloor: value });

    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.path).toEqual(['threatSeverityFloor']);
  });

  it('stays strict: an unknown key next to the floor is refused', () => {
    expect(thresholdsSchema.safeParse({ threatSeverityFloor: 'HIGH', floor: 'LOW' }).success).toBe(false);
  });
});
