/** Vaikora's risk classes, lowest first. */
export const RISK_LEVELS = ['low', 'medium', 'high', 'critical'] as const;
export type RiskLevel = (typeof RISK_LEVELS)[number];

/** Security Hub's severity labels. */
export const SEVERITY_LABELS = ['INFORMATIONAL', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export type SeverityLabel = (typeof SEVERITY_LABELS)[number];

/** Labels a tenant can choose as the least severity of a confirmed threat (INFORMATIONAL would be no floor). */
export const THREAT_SEVERITY_FLOORS = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export type ThreatSeverityFloor = (typeof THREAT_SEVERITY_FLOORS)[number];

/** A confirmed threat reads at least HIGH unless the tenant chose otherwise (ADR 0002, revised 2026-12-04). */
export const DEFAULT_THREAT_SEVERITY_FLOOR: ThreatSeverityFloor = 'HIGH';

/** Rank of a severity label (INFORMATIONAL = 0 … CRITICAL = 4). */
export function severityRank(label: SeverityLabel): number {
  return SEVERITY_LABELS.indexOf(label);
}

/** Risk level → Security Hub label and normalized score, exactly as docs/asff.md specifies. */
export const SEVERITY_BY_RISK_LEVEL: Readonly<
  Record<RiskLevel, { label: SeverityLabel; normalized: number }>
> = {
  critical: { label: 'CRITICAL', normalized: 95 },
  high: { label: 'HIGH', normalized: 75 },
  medium: { label: 'MEDIUM', normalized: 50 },
  low: { label: 'LOW', normalized: 30 },
};

/** Normalized value for each label (INFORMATIONAL is 0). */
export const NORMALIZED_BY_LABEL: Readonly<Record<SeverityLabel, number>> = {
  INFORMATIONAL: 0,
  LOW: 30,
  MEDIUM: 50,
  HIGH: 75,
  CRITICAL: 95,
};

/** Rank of a risk level (low = 0 … critical = 3). */
export function riskRank(level: RiskLevel): number {
  return RISK_LEVELS.indexOf(level);
}

/** Risk level derived from a 0-100 score: 90-100 critical, 70-89 high, 40-69 medium, 0-39 low. */
export function riskLevelFromScore(score: number): RiskLevel {
  if (score >= 90) return 'critical';
  if (score >= 70) return 'high';
  if (score >= 40) return 'medium';
  return 'low';
}

/** Severity label from a 0-100 score: 90-100 CRITICAL, 70-89 HIGH, 40-69 MEDIUM, 1-39 LOW, 0 INFORMATIONAL. */
export function severityLabelFromScore(score: number): SeverityLabel {
  if (score >= 90) return 'CRITICAL';
  if (score >= 70) return 'HIGH';
  if (score >= 40) return 'MEDIUM';
  if (score > 0) return 'LOW';
  return 'INFORMATIONAL';
}
