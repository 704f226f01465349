import {
  type Destination,
  HEALTH_FINDING_ID_PREFIX,
  type OcsfDetectionFinding,
  type PreparedFinding,
  type Rejection,
  reject,
  severityRank,
  toOcsfDetectionFinding,
} from '@vsh/core';

/** Prepared findings as OCSF Detection Findings, keyed by their ASFF (= OCSF `finding_info.uid`) id. */
interface OcsfBatch {
  /** One OCSF finding per ASFF id (a repeated id: the last version wins), in the order given. */
  readonly findings: Map<string, OcsfDetectionFinding>;
  /** The prepared finding behind each id, to name its action in a rejection. */
  readonly prepared: Map<string, PreparedFinding>;
  /** Findings that have no OCSF form, non-retryable (sending them again cannot help). */
  readonly rejected: Rejection[];
}

/** True for the connector's own health findings (ADR 0116): Security Hub findings with no Vaikora action behind them. */
export function isHealthFinding(item: PreparedFinding): boolean {
  return item.finding.Id.startsWith(HEALTH_FINDING_ID_PREFIX);
}

/**
 * Maps prepared (ASFF) findings to OCSF with `toOcsfDetectionFinding` (ADR 0115), in the context they were
 * mapped in: the destination, the import time the ASFF finding carries in `UpdatedAt`, and a threat floor
 * equal to its severity label. That floor gives back the same label whatever the tenant's floor was (a
 * raised threat is at its floor; any other finding is at or above it), so both forms of a finding agree on
 * id and severity; a finding whose OCSF form would not is rejected rather than written differently.
 */
export function toOcsfBatch(items: readonly PreparedFinding[], destination: Destination): OcsfBatch {
  const findings = new Map<string, OcsfDetectionFinding>();
  const prepared = new Map<string, PreparedFinding>();
  const rejected: Rejection[] = [];
  const unique = new Map(items.map((item) => [item.finding.Id, item]));
  for (const item of unique.values()) {
    const { finding, action } = item;
    const id = finding.Id;
    const refuse = (reason: string) => rejected.push(reject('INVALID_FINDING', 'map', reason, action.id));
    if (isHealthFinding(item)) {
      refuse(`${id} is a connector health finding: it has no OCSF form and goes to Security Hub only`);
      continue;
    }
    const label = finding.Severity.Label;
    let ocsf: OcsfDetectionFinding;
    try {
      ocsf = toOcsfDetectionFinding(action, {
        destination,
        now: finding.UpdatedAt,
        thresholds: label === 'INFORMATIONAL' ? undefined : { threatSeverityFloor: label },
      });
    } catch (err) {
      refuse(`OCSF mapping failed: ${err instanceof Error ? err.name : 'error'}`);
      continue;
    }
    if (ocsf.finding_info.uid !== id) {
      refuse(`OCSF finding_info.uid ${ocsf.finding_info.uid} differs from the finding's Id ${id}`);
      continue;
    }
    if (ocsf.severity_id !== severityRank(label) + 1) {
      refuse(`OCSF severity ${ocsf.severity} differs from the finding's severity ${label}`);
      continue;
    }
    findings.set(id, ocsf);
    prepared.set(id, item);
  }
  return { findings, prepared, rejected };
}
