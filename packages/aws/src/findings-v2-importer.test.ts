import type { Destination, OcsfDetectionFinding, PreparedFinding } from '@vsh/core';
import { describe, expect, it } from 'vitest';
import { AwsError } from './errors.ts';
import { FindingsV2Error, type FindingsV2Result, type FindingsV2Sender } from './findings-v2.ts';
import { createFindingsV2Importer } from './findings-v2-importer.ts';
import { makeFindings } from './testing/findings.ts';

const destination: Destination = { accountId: '111122223333', region: 'eu-west-1', partition: 'aws' };

/** A sender that records each call and answers with `answer` (default: every finding imported). */
function fakeSender(answer?: (findings: readonly OcsfDetectionFinding[]) => FindingsV2Result) {
  const calls: OcsfDetectionFinding[][] = [];
  const sender: FindingsV2Sender = {
    async send(findings) {
      calls.push([...findings]);
      if (answer !== undefined) return answer(findings);
      return {
        imported: findings.map((f) => f.finding_info.uid),
        failed: [],
        stats: { requests: 1, retries: 0 },
      };
    },
    destroy() {},
  };
  return { sender, calls };
}

function fakeHub() {
  const sent: PreparedFinding[] = [];
  let created = 0;
  return {
    sent,
    created: () => created,
    healthImporter: () => {
      created++;
      return {
        async importFindings(items: readonly PreparedFinding[]) {
          sent.push(...items);
          return { imported: items.map((p) => p.finding.Id), rejected: [], stats: { throttled: 0 } };
        },
      };
    },
  };
}

const healthOf = (item: PreparedFinding): PreparedFinding => ({
  ...item,
  finding: { ...item.finding, Id: 'vaikora-health ten_1 dst_1 vaikora_auth' },
});

describe('createFindingsV2Importer', () => {
  it('imports action findings as OCSF in calls of at most 100 and health findings with BatchImportFindings', async () => {
    const { sender, calls } = fakeSender();
    const hub = fakeHub();
    const items = makeFindings({ destination, count: 250, idPrefix: 'v2' });
    const [first] = items;
    if (first === undefined) throw new Error('no finding');
    const health = healthOf(first);
    const importer = createFindingsV2Importer({ destination, sender, healthImporter: hub.healthImporter });

    const result = await importer.importFindings([...items, health]);

    expect(calls.map((c) => c.length)).toEqual([100, 100, 50]);
    const sentIds = calls.flat().map((f) => f.finding_info.uid);
    expect(sentIds).toEqual(items.map((p) => p.finding.Id));
    expect(
      calls.flat().every((f) => f.class_uid === 2004 && f.metadata.tenant_uid === destination.accountId),
    ).toBe(true);
    expect(hub.sent).toEqual([health]);
    expect(new Set(result.imported)).toEqual(new Set([...sentIds, health.finding.Id]));
    expect(result.rejected).toEqual([]);
  });

  it('creates no Security Hub importer while there is no health finding to send', async () => {
    const hub = fakeHub();
    const importer = createFindingsV2Importer({
      destination,
      sender: fakeSender().sender,
      healthImporter: hub.healthImporter,
    });

    await importer.importFindings(makeFindings({ destination, count: 3 }));

    expect(hub.created()).toBe(0);
  });

  it('returns per-finding failures as rejections, retryable as the service says', async () => {
    const items = makeFindings({ destination, count: 4, idPrefix: 'fail' });
    const [a, b] = items.map((p) => p.finding.Id);
    const { sender } = fakeSender((findings) => ({
      imported: findings.map((f) => f.finding_info.uid).filter((id) => id !== a && id !== b),
      failed: [
        { findingId: a ?? '', errorCode: 'ValidationException', message: 'bad field', retryable: false },
        { findingId: b ?? '', errorCode: 'THROTTLED', message: 'gave up after 4 attempts', retryable: true },
      ],
      stats: { requests: 4, retries: 3 },
    }));
    const importer = createFindingsV2Importer({
      destination,
      sender,
      healthImporter: fakeHub().healthImporter,
    });

    const result = await importer.importFindings(items);

    expect(result.imported).toHaveLength(2);
    expect(result.rejected).toEqual([
      expect.objectContaining({
        actionId: items[0]?.action.id,
        code: 'IMPORT_REJECTED',
        retryable: false,
        reason: 'ValidationException: bad field',
      }),
      expect.objectContaining({ actionId: items[1]?.action.id, retryable: true }),
    ]);
    expect(result.stats).toEqual({ throttled: 1, requests: 4 });
  });

  it.each([
    ['ACCESS_DENIED', 403, 'ACCESS_DENIED'],
    ['NOT_FOUND', 404, 'SECURITY_HUB_NOT_ENABLED'],
  ] as const)(
    'stops the destination when the call is refused with %s, rejecting nothing',
    async (code, status, expected) => {
      const { sender, calls } = fakeSender(() => {
        throw new FindingsV2Error(code, `HTTP ${status}`, status);
      });
      const importer = createFindingsV2Importer({
        destination,
        sender,
        healthImporter: fakeHub().healthImporter,
      });

      const error = await importer
        .importFindings(makeFindings({ destination, count: 150 }))
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(AwsError);
      expect(error).toMatchObject({ code: expected, stopsDestination: true });
      expect(calls).toHaveLength(1);
    },
  );

  it('stops the destination before any call when the role cannot be assumed', async () => {
    const { sender, calls } = fakeSender();
    const importer = createFindingsV2Importer({
      destination,
      sender,
      healthImporter: fakeHub().healthImporter,
      credentials: async () => {
        throw new AwsError('ROLE_UNUSABLE', 'AccessDenied: not authorized to perform sts:AssumeRole');
      },
    });

    const error = await importer
      .importFindings(makeFindings({ destination, count: 2 }))
      .catch((e: unknown) => e);

    expect(error).toMatchObject({ code: 'ROLE_UNUSABLE', stopsDestination: true });
    expect(calls).toEqual([]);
  });

  it('isolates a finding whose call is refused as invalid by halving, and rejects it for good', async () => {
    const items = makeFindings({ destination, count: 5, idPrefix: 'invalid' });
    const bad = items[3]?.finding.Id ?? '';
    const { sender, calls } = fakeSender((findings) => {
      const ids = findings.map((f) => f.finding_info.uid);
      if (ids.includes(bad)) throw new FindingsV2Error('INVALID_INPUT', 'HTTP 400 ValidationException', 400);
      return { imported: ids, failed: [], stats: { requests: 1, retries: 0 } };
    });
    const importer = createFindingsV2Importer({
      destination,
      sender,
      healthImporter: fakeHub().healthImporter,
    });

    const result = await importer.importFindings(items);

    expect(new Set(result.imported)).toEqual(
      new Set(items.map((p) => p.finding.Id).filter((id) => id !== bad)),
    );
    expect(result.rejected).toEqual([
      expect.objectContaining({ actionId: items[3]?.action.id, retryable: false, code: 'IMPORT_REJECTED' }),
    ]);
    expect(calls.filter((c) => c.length === 1 && c[0]?.finding_info.uid === bad)).toHaveLength(1);
  });
});
