import {
  buildHealthFinding,
  type Destination,
  type PreparedFinding,
  prepareHealthFinding,
  prepareRecords,
  THREAT_SEVERITY_FLOORS,
  toOcsfDetectionFinding,
} from '@vsh/core';
import { generateActions } from '@vsh/fixtures';
import { describe, expect, it } from 'vitest';
import { isHealthFinding, toOcsfBatch } from './ocsf-delivery.ts';

const destination: Destination = { accountId: '111122223333', region: 'eu-west-1', partition: 'aws' };
const NOW = '2026-12-04T10:00:00.000Z';

function prepared(floor: (typeof THREAT_SEVERITY_FLOORS)[number], count = 300): PreparedFinding[] {
  const { findings } = prepareRecords(generateActions({ seed: 15, count, idPrefix: `floor-${floor}` }), {
    destination,
    now: NOW,
    thresholds: {
      minRiskLevel: 'low',
      minRiskScore: 0,
      includeAnomalies: true,
      includeThreats: true,
      threatSeverityFloor: floor,
    },
  });
  return findings;
}

describe('toOcsfBatch', () => {
  it.each(THREAT_SEVERITY_FLOORS)(
    'maps each finding as the tenant’s own mapping would at threat floor %s: same id, same severity, equal OCSF',
    (floor) => {
      const items = prepared(floor);
      expect(items.some((p) => p.action.threatDetected)).toBe(true);

      const batch = toOcsfBatch(items, destination);

      expect(batch.rejected).toEqual([]);
      expect([...batch.findings.keys()]).toEqual(items.map((p) => p.finding.Id));
      for (const item of items) {
        const direct = toOcsfDetectionFinding(item.action, {
          destination,
          now: NOW,
          thresholds: { threatSeverityFloor: floor },
        });
        expect(batch.findings.get(item.finding.Id)).toEqual(direct);
      }
    },
  );

  it('keeps the last version of a repeated id, once', () => {
    const [first, second] = prepared('HIGH', 2);
    if (first === undefined || second === undefined) throw new Error('no findings');
    const later = { ...first, finding: { ...first.finding, UpdatedAt: '2026-12-04T11:00:00.000Z' } };

    const batch = toOcsfBatch([first, second, later], destination);

    expect(batch.findings.size).toBe(2);
    expect(batch.findings.get(first.finding.Id)?.metadata.processed_time).toBe(
      Date.parse('2026-12-04T11:00:00.000Z'),
    );
    expect(batch.prepared.get(first.finding.Id)).toBe(later);
  });

  it('rejects, for good, a health finding and a finding whose OCSF form would disagree with it', () => {
    const [item] = prepared('HIGH', 1);
    if (item === undefined) throw new Error('no finding');
    const health = prepareHealthFinding(
      buildHealthFinding({
        tenantId: 'ten_1',
        destinationId: 'dst_1',
        destination,
        condition: 'vaikora_auth',
        facts: 'VAIKORA_UNAUTHORIZED: 401',
        state: 'open',
        openedAt: NOW,
        now: NOW,
      }),
    );
    if (!health.ok) throw new Error(health.rejection.reason);
    const renamed = { ...item, finding: { ...item.finding, Id: 'vaikora-someone-else' } };

    const batch = toOcsfBatch([health.value, renamed], destination);

    expect(isHealthFinding(health.value)).toBe(true);
    expect(batch.findings.size).toBe(0);
    expect(batch.rejected).toEqual([
      expect.objectContaining({ code: 'INVALID_FINDING', stage: 'map', retryable: false }),
      expect.objectContaining({
        actionId: item.action.id,
        code: 'INVALID_FINDING',
        retryable: false,
        reason: expect.stringContaining('differs from the finding'),
      }),
    ]);
  });
});
