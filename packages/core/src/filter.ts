import { z } from 'zod';
import type { VaikoraAction } from './action.ts';
import { DEFAULT_THREAT_SEVERITY_FLOOR, RISK_LEVELS, riskRank, THREAT_SEVERITY_FLOORS } from './risk.ts';

/** Per-tenant rules for which actions become findings, and the least severity of a confirmed threat. */
export const thresholdsSchema = z
  .object({
    /** Forward actions at or above this risk level; `null` turns the level rule off. */
    minRiskLevel: z.enum(RISK_LEVELS).nullable().default('high'),
    /** Forward actions whose risk score is at or above this, whatever their level. */
    minRiskScore: z.number().min(0).max(100).nullable().default(null),
    includeAnomalies: z.boolean().default(true),
    includeThreats: z.boolean().default(true),
    /**
     * A confirmed threat (`threat_detected`) is at least this severe, whatever its risk level. Absent in
     * thresholds stored before it existed, which then get the default.
     */
    threatSeverityFloor: z.enum(THREAT_SEVERITY_FLOORS).default(DEFAULT_THREAT_SEVERITY_FLOOR),
  })
  .strict();
type ParsedThresholds = z.infer<typeof thresholdsSchema>;
/**
 * Parsed thresholds. The floor is optional in the type (never in a parse result) so that thresholds
 * written as literals before it existed still type-check; the mapper reads its absence as the default.
 */
export type Thresholds = Omit<ParsedThresholds, 'threatSeverityFloor'> &
  Partial<Pick<ParsedThresholds, 'threatSeverityFloor'>>;

/** The rule every public Vaikora connector uses: high/critical, or an anomaly, or a confirmed threat. */
export const DEFAULT_THRESHOLDS: Thresholds = thresholdsSchema.parse({});

/** Why an action qualifies (empty: it does not). */
export type QualifyReason = 'risk_level' | 'risk_score' | 'anomaly' | 'threat';

/** Returns the reasons an action becomes a finding under the thresholds; empty when it does not. */
export function qualifyReasons(action: VaikoraAction, thresholds: Thresholds): QualifyReason[] {
  const reasons: QualifyReason[] = [];
  if (
    thresholds.minRiskLevel !== null &&
    action.riskLevel !== undefined &&
    riskRank(action.riskLevel) >= riskRank(thresholds.minRiskLevel)
  ) {
    reasons.push('risk_level');
  }
  if (
    thresholds.minRiskScore !== null &&
    action.riskScore !== undefined &&
    action.riskScore >= thresholds.minRiskScore
  ) {
    reasons.push('risk_score');
  }
  if (thresholds.includeAnomalies && action.isAnomaly) reasons.push('anomaly');
  if (thresholds.includeThreats && action.threatDetected) reasons.push('threat');
  return reasons;
}

/** True when the action becomes a finding under the thresholds (qualifyReasons non-empty, without the array). */
export function qualifies(action: VaikoraAction, thresholds: Thresholds): boolean {
  return (
    (thresholds.minRiskLevel !== null &&
      action.riskLevel !== undefined &&
      riskRank(action.riskLevel) >= riskRank(thresholds.minRiskLevel)) ||
    (thresholds.minRiskScore !== null &&
      action.riskScore !== undefined &&
      action.riskScore >= thresholds.minRiskScore) ||
    (thresholds.includeAnomalies && action.isAnomaly) ||
    (thresholds.includeThreats && action.threatDetected)
  );
}
