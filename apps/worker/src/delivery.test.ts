import { AwsError } from '@vsh/aws';
import { DEFAULT_THRESHOLDS, type PreparedFinding, parseAction, reject, type VaikoraAction } from '@vsh/core';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { type DeliveryContext, type DeliveryTarget, deliverToStream, keepRejections } from './delivery.ts';
import type { ImportOutcome } from './ports.ts';
import { testAction, testDestination } from './tenant.test-support.ts';

const NOW = Date.parse('2026-12-01T12:00:00.000Z');

function actionOf(
  id: string,
  agentId: string,
  minutesAgo: number,
  risk: 'high' | 'low' = 'high',
): VaikoraAction {
  const parsed = parseAction(testAction(id, agentId, NOW - minutesAgo * 60_000, risk));
  if (!parsed.ok) throw new Error('fixture does not parse');
  return parsed.action;
}

const ctx = (over: Partial<DeliveryContext> = {}): DeliveryContext => ({
  agentId: 'agt-1',
  routedAgents: new Set(['agt-1', 'agt-2']),
  thresholds: DEFAULT_THRESHOLDS,
  nowIso: new Date(NOW).toISOString(),
  importChunk: 1,
  stopping: () => false,
  ...over,
});

const target = (
  importFindings: (items: readonly PreparedFinding[]) => Promise<ImportOutcome>,
): DeliveryTarget => ({
  stream: { id: 'str_1', destinationId: 'dst_1', agentId: 'agt-1', region: 'us-east-1' },
  destination: testDestination('dst_1', '111111111111'),
  importer: { importFindings },
});

const takesAll = async (items: readonly PreparedFinding[]): Promise<ImportOutcome> => ({
  imported: items.map((p) => p.finding.Id),
  rejected: [],
  stats: { throttled: 0 },
});

describe('deliverToStream', () => {
  it('accounts for every action read exactly once: not due, another agent, skipped, or mapped', async () => {
    const actions = [
      actionOf('old', 'agt-1', 1),
      actionOf('other', 'agt-2', 2),
      actionOf('unrouted', 'agt-9', 3),
      actionOf('quiet', 'agt-1', 4, 'low'),
      actionOf('new', 'agt-1', 5),
    ];

    const d = await deliverToStream(target(takesAll), actions, (a) => a.id !== 'old', ctx());

    expect(d).toMatchObject({
      read: 5,
      alreadySent: 1,
      otherAgent: 1,
      skipped: 1,
      mapped: 2,
      imported: 2,
      notSent: 0,
    });
    expect(d.read).toBe(d.alreadySent + d.otherAgent + d.skipped + d.rejections.length + d.mapped);
    // An agent the tenant does not route is the swept agent's: the filter matched it.
    expect(d.sent.map((p) => p.action.id)).toEqual(['unrouted', 'new']);
    expect(d.handled.map((h) => h.id).sort()).toEqual(['new', 'other', 'quiet', 'unrouted']);
  });

  it('stops before the next import when told to, and marks the oldest action not sent', async () => {
    let calls = 0;
    const stopping = () => calls > 0;
    const importer = async (items: readonly PreparedFinding[]) => {
      calls++;
      return takesAll(items);
    };
    const actions = [actionOf('a', 'agt-1', 1), actionOf('b', 'agt-1', 2), actionOf('c', 'agt-1', 3)];

    const d = await deliverToStream(target(importer), actions, () => true, ctx({ stopping }));

    expect(d).toMatchObject({ imported: 1, notSent: 2, blockedAtMs: NOW - 3 * 60_000, failure: null });
  });

  it('a failed import call stops the stream for the page and returns the failure as data', async () => {
    const importer = async (): Promise<ImportOutcome> => {
      throw new AwsError('ACCESS_DENIED', 'denied');
    };

    const d = await deliverToStream(target(importer), [actionOf('a', 'agt-1', 1)], () => true, ctx());

    expect(d.failure?.code).toBe('ACCESS_DENIED');
    expect(d).toMatchObject({ imported: 0, notSent: 1, blockedAtMs: NOW - 60_000 });
  });

  it('findings refused for good are rejections and handled; those not taken yet are reported as refused', async () => {
    const importer = async (items: readonly PreparedFinding[]): Promise<ImportOutcome> => ({
      imported: [],
      rejected: items.map((p) =>
        reject(
          'IMPORT_REJECTED',
          'import',
          p.action.id === 'a' ? 'Throttled' : 'Invalid',
          p.action.id,
          undefined,
          p.action.id === 'a',
        ),
      ),
      stats: { throttled: 0 },
    });

    const d = await deliverToStream(
      target(importer),
      [actionOf('a', 'agt-1', 1), actionOf('b', 'agt-1', 2)],
      () => true,
      ctx(),
    );

    // The one not taken yet is the run's to settle (ADR 0133): it blocks the cursor there.
    expect(d).toMatchObject({
      notTakenYet: 'Throttled',
      refused: [{ id: 'a', timestampMs: NOW - 60_000 }],
      notSent: 1,
    });
    expect(d.rejections.map((r) => r.rejection.actionId)).toEqual(['b']);
    expect(d.handled.map((h) => h.id)).toEqual(['b']);
  });
});

describe('deliverToStream: refusals with a passing error (ADR 0133)', () => {
  /** A hub that takes 'ok' and refuses 'x' with `retryable`. */
  const refusing =
    (retryable: boolean, reason: string) =>
    async (items: readonly PreparedFinding[]): Promise<ImportOutcome> => ({
      imported: items.filter((p) => p.action.id !== 'x').map((p) => p.finding.Id),
      rejected: items
        .filter((p) => p.action.id === 'x')
        .map((p) => reject('IMPORT_REJECTED', 'import', reason, p.action.id, undefined, retryable)),
      stats: { throttled: 0 },
    });

  it('reports a passing refusal with the refusal itself, neither handled nor in blockedAtMs: the run decides (it may give up on it)', async () => {
    const d = await deliverToStream(
      target(refusing(true, 'InternalFailure: x')),
      [actionOf('x', 'agt-1', 1), actionOf('ok', 'agt-1', 1)],
      () => true,
      ctx({ importChunk: 10 }),
    );
    expect(d.refused).toEqual([
      expect.objectContaining({ id: 'x', rejection: expect.objectContaining({ destinationId: 'dst_1' }) }),
    ]);
    expect(d.refused[0]?.rejection.rejection).toMatchObject({
      retryable: true,
      reason: 'InternalFailure: x',
    });
    expect(d.handled.map((h) => h.id)).toEqual(['ok']);
    expect(d).toMatchObject({
      blockedAtMs: Number.POSITIVE_INFINITY,
      notTakenYet: 'InternalFailure: x',
      notSent: 1,
    });
  });

  it('keeps a permanent refusal as a rejection with its own reason, handled', async () => {
    const d = await deliverToStream(
      target(refusing(false, 'InvalidInput: bad field')),
      [actionOf('x', 'agt-1', 1)],
      () => true,
      ctx(),
    );
    expect(d.rejections.map((r) => r.rejection.reason)).toEqual(['InvalidInput: bad field']);
    expect(d.refused).toEqual([]);
  });
});

describe('keepRejections', () => {
  it('counts a store that rejects anyway as failed, never failing the sweep', async () => {
    const rejection = {
      rejection: reject('MISSING_ID', 'parse', 'no id', null),
      destinationId: null,
      agentId: 'agt-1',
    };

    const kept = await keepRejections(
      async () => {
        throw new Error('Failed query');
      },
      [rejection],
      pino({ level: 'silent' }),
    );

    expect(kept).toEqual({ inserted: 0, repeated: 0, failed: 1 });
  });
});
