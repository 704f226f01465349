import type { HealthCondition, PreparedFinding } from '@vsh/core';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { reconcileHealthFindings } from './health-findings.ts';
import type { FindingImporter, HealthStateStore, Lease, OpenHealthCondition } from './ports.ts';
import { testDestination } from './tenant.test-support.ts';

// Health findings (ADR 0116, 0118) are Security Hub findings: a Security Lake destination (ADR 0120) gets none.

const log = pino({ level: 'silent' });
const lease: Lease = { tenantId: 'ten_1', owner: 'run', epoch: 1, expiresAtMs: Number.MAX_SAFE_INTEGER };
const NOW = Date.parse('2026-12-04T12:00:00.000Z');

function recordingImporter() {
  const sent: PreparedFinding[] = [];
  const importer: FindingImporter = {
    async importFindings(findings) {
      sent.push(...findings);
      return { imported: findings.map((f) => f.finding.Id), rejected: [], stats: { throttled: 0 } };
    },
  };
  return { sent, importer };
}

function memoryHealth() {
  let open: readonly OpenHealthCondition[] = [];
  const store: HealthStateStore = {
    async getOpenHealth() {
      return open;
    },
    async saveOpenHealth(_lease, next) {
      open = [...next];
    },
  };
  return { store, open: () => open };
}

describe('reconcileHealthFindings with a Security Lake destination', () => {
  it('sends no health or heartbeat finding to a Security Lake destination, and still to the tenant’s Security Hub destination', async () => {
    const lake = testDestination('dst_lake', '123456789012', {
      securityLake: { bucket: 'aws-security-data-lake-eu-west-1-abc', sourceName: 'vaikora' },
      heartbeat: true,
    });
    const hubDestination = testDestination('dst_hub', '210987654321', { heartbeat: true });
    const toLake = recordingImporter();
    const toHub = recordingImporter();
    const health = memoryHealth();
    const refused = new Map<HealthCondition, string>([['vaikora_auth', 'VAIKORA_UNAUTHORIZED: 401']]);

    const report = await reconcileHealthFindings({
      tenantId: 'ten_1',
      lease,
      nowMs: NOW,
      targets: [
        { destination: lake, region: 'eu-west-1', importer: toLake.importer },
        { destination: hubDestination, region: 'eu-west-1', importer: toHub.importer },
      ],
      destinationIds: new Set(['dst_lake', 'dst_hub']),
      observation: {
        open: new Map([
          ['dst_lake', refused],
          ['dst_hub', refused],
        ]),
        judged: new Map([
          ['dst_lake', new Set<HealthCondition>(['vaikora_auth'])],
          ['dst_hub', new Set<HealthCondition>(['vaikora_auth'])],
        ]),
      },
      heartbeat: new Set(['dst_lake', 'dst_hub']),
      store: health.store,
      log,
    });

    expect(toLake.sent).toEqual([]);
    expect(toHub.sent).toHaveLength(2);
    expect(report).toEqual({ opened: 1, archived: 0, heartbeats: 1, failed: 0 });
    expect(new Set(health.open().map((c) => c.destinationId))).toEqual(new Set(['dst_hub']));
  });
});
