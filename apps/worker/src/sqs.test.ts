import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { BackfillResult } from './backfill.ts';
import type { RunResult } from './run-tenant.ts';
import { handleTenantMessage } from './sqs.ts';

const logger = pino({ level: 'silent' });
const progress = {
  progressPercent: 100,
  pages: 1,
  actionsRead: 0,
  actionsInRange: 0,
  findingsImported: 0,
  recordsRejected: 0,
  actionsSkipped: 0,
};

/** A tenant runner that records what it was asked to run; one per test, so no test sees another's calls. */
function recordingRunner() {
  const tenantRuns: string[] = [];
  const run = async (tenantId: string): Promise<RunResult> => {
    tenantRuns.push(tenantId);
    return { kind: 'busy' };
  };
  return { tenantRuns, run };
}

describe('work messages', () => {
  it('hands a backfill message to the backfill runner: done when it ends or is no longer claimed, retried while the tenant is busy', async () => {
    const { tenantRuns, run } = recordingRunner();
    const answers: Array<BackfillResult | null> = [{ kind: 'done', progress }, null, { kind: 'busy' }];
    const asked: string[] = [];
    const runBackfill = async (id: string) => {
      asked.push(id);
      return answers.shift() ?? null;
    };
    const body = JSON.stringify({
      kind: 'backfill',
      backfillId: 'bkf_1',
      tenantId: 'ten_1',
      dispatchedAt: '2026-01-01T00:00:00Z',
    });

    const outcomes = [
      await handleTenantMessage(body, run, logger, undefined, runBackfill),
      await handleTenantMessage(body, run, logger, undefined, runBackfill),
      await handleTenantMessage(body, run, logger, undefined, runBackfill),
    ];

    expect(outcomes).toEqual(['done', 'done', 'retry']);
    expect(asked).toEqual(['bkf_1', 'bkf_1', 'bkf_1']);
    expect(tenantRuns).toEqual([]);
  });

  it('retries (then dead-letters) a backfill message with an unknown field or no runner, and still runs tenant messages', async () => {
    const { tenantRuns, run } = recordingRunner();
    const extra = JSON.stringify({
      kind: 'backfill',
      backfillId: 'b',
      tenantId: 't',
      dispatchedAt: 'x',
      more: 1,
    });
    const valid = JSON.stringify({ kind: 'backfill', backfillId: 'b', tenantId: 't', dispatchedAt: 'x' });

    const outcomes = [
      await handleTenantMessage(extra, run, logger, undefined, async () => null),
      await handleTenantMessage(valid, run, logger),
      await handleTenantMessage(JSON.stringify({ tenantId: 'ten_2', dispatchedAt: 'x' }), run, logger),
    ];

    expect(outcomes).toEqual(['retry', 'retry', 'done']);
    expect(tenantRuns).toEqual(['ten_2']);
  });
});
