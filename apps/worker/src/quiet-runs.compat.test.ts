import type { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { StateError } from '@vsh/aws';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { countingImporter, testRunDeps } from '../test/counting-hub.ts';
import { memoryState, memoryTenantStore, memoryVaikora } from '../test/memory-ports.ts';
import { DEFAULT_RUN_OPTIONS } from './ports.ts';
import { runTenant } from './run-tenant.ts';
import {
  backfillMessageSchema,
  createSqsLambdaHandler,
  dispatchDueTenants,
  handleTenantMessage,
} from './sqs.ts';
import { ONE_STREAM_TENANT, testAction } from './tenant.test-support.ts';

// ADR 0136 across releases and clocks (a second review of its fixes): the quiet hint rides in a message
// attribute that a worker of the release before ignores; a message with a field this worker does not
// know is run; the run budget is kept on the monotonic clock, not the one AWS answers set.

const logger = pino({ level: 'silent' });

/** The work-queue schema of the worker released before ADR 0136 (b52c741 and earlier: unchanged since). */
const previousWorkMessageSchema = z.union([
  z.object({ tenantId: z.string().min(1).max(64), dispatchedAt: z.string() }).strict(),
  backfillMessageSchema,
]);

/** An SQS client that keeps the bodies of every SendMessageBatch. */
function sendingSqs() {
  const bodies: string[] = [];
  const sqs = {
    send: async (command: SendMessageBatchCommand) => {
      for (const e of command.input.Entries ?? []) bodies.push(e.MessageBody ?? '');
      return { Successful: [], Failed: [] };
    },
  } as unknown as SQSClient;
  return { sqs, bodies };
}

describe('the work message across versions (rolling deploys, ADR 0136)', () => {
  it('a quiet tenant dispatched by this release is a message the worker of the release before can run', async () => {
    const { sqs, bodies } = sendingSqs();
    await dispatchDueTenants({
      scheduler: {
        claimDueTenants: async () => [
          { tenantId: 'ten_busy', lastRunQuiet: false },
          { tenantId: 'ten_quiet', lastRunQuiet: true },
        ],
      },
      sqs,
      queueUrl: 'https://sqs.local/q',
      now: new Date('2026-12-05T10:00:00Z'),
      limit: 10,
      holdMs: 60_000,
    });
    // A worker still on the previous release (a rolling deploy of the sqs-consumer fleet, a Lambda
    // updated after its dispatcher, a worker rolled back) parses each body with its strict schema and
    // retries what it cannot parse until the message is dead-lettered: the quiet tenant never runs there.
    const parsed = bodies.map((body) => previousWorkMessageSchema.safeParse(JSON.parse(body)).success);
    expect(parsed).toEqual([true, true]);
  });

  it('a tenant message from a newer dispatcher (one more field, or the flag written as false) is run, not dead-lettered', async () => {
    const ran: string[] = [];
    const run = async (tenantId: string) => {
      ran.push(tenantId);
      return { kind: 'busy' } as const;
    };
    const outcomes = [
      await handleTenantMessage(
        JSON.stringify({ tenantId: 'ten_1', dispatchedAt: '2026-12-05T10:00:00Z', quiet: false }),
        run,
        logger,
      ),
      await handleTenantMessage(
        JSON.stringify({ tenantId: 'ten_2', dispatchedAt: '2026-12-05T10:00:00Z', quiet: true, priority: 1 }),
        run,
        logger,
      ),
    ];
    // The change just made shows it: a field added to the tenant message is a message every worker one
    // release back refuses (`.strict()`), retried five times and dead-lettered.
    expect(outcomes).toEqual(['done', 'done']);
    expect(ran).toEqual(['ten_1', 'ten_2']);
  });
});

describe('the quiet hint on the queue (ADR 0136)', () => {
  it('reaches the run from the message attribute in a Lambda event, and only from it', async () => {
    const hints: unknown[] = [];
    const handler = createSqsLambdaHandler(async (_tenantId, _signal, hint) => {
      hints.push(hint);
      return { kind: 'busy' };
    }, logger);
    const body = JSON.stringify({ tenantId: 'ten_1', dispatchedAt: '2026-12-05T10:00:00Z' });
    const out = await handler({
      Records: [
        { messageId: 'm1', body, messageAttributes: { 'vsh-quiet': { stringValue: 'true' } } },
        { messageId: 'm2', body },
        { messageId: 'm3', body, messageAttributes: { 'vsh-quiet': { stringValue: 'false' } } },
      ],
    });
    expect(out.batchItemFailures).toEqual([]);
    expect(hints).toEqual([{ lastRunQuiet: true }, undefined, undefined]);
  });
});

const config = ONE_STREAM_TENANT;
const action = (id: string, timestampMs: number) => testAction(id, 'agt-1', timestampMs);

const CYCLE_MS = 5 * 60_000;

describe('the shared run budget, taken before the first AWS answer (ADR 0135, 0136)', () => {
  it('the first run of a process whose clock is behind AWS still retries its final cursor write: its actions are imported once', async () => {
    // The host's clock is 2 minutes behind AWS (ADR 0135's case). The run's clock is the server clock,
    // which reads 0 offset until the process's first DynamoDB answer (no lease is taken before one).
    const SKEW_MS = 2 * 60_000;
    let local = Date.parse('2026-12-05T10:00:00Z');
    let offset = 0;
    const clock = () => local + offset;
    const list: unknown[] = [];
    const state = memoryState(clock);
    const acquire = state.acquireLease.bind(state);
    state.acquireLease = async (...args) => {
      offset = SKEW_MS; // the first answer: the server clock now reads AWS's time
      return acquire(...args);
    };
    // A passing DynamoDB failure: the run's checkpoint write fails (a missed optimisation), then the
    // first attempt of its final cursor write, which the run tries again (ADR 0132) while in its window.
    const advance = state.advanceCursor.bind(state);
    let failures = 2;
    state.advanceCursor = async (...args) => {
      if (failures > 0) {
        failures--;
        throw new StateError('UNAVAILABLE', 'DynamoDB did not answer', true);
      }
      return advance(...args);
    };
    const tenant = memoryTenantStore(config);
    const { importer, imports } = countingImporter();
    let slow = true;
    // A slow Vaikora: the first run's sweep takes 4 of its 5 budget minutes.
    const vaikora = memoryVaikora(() => {
      if (slow) {
        slow = false;
        local += 4 * 60_000;
      }
      return list;
    });
    const deps = testRunDeps({
      sleep: async () => undefined,
      store: tenant.store,
      state,
      vaikora: () => vaikora,
      importer: () => importer,
      clock,
      // A lease that outlives the fake clock's jump (its renewals run on the real clock).
      options: { ...DEFAULT_RUN_OPTIONS, leaseTtlMs: 30 * 60_000 },
    });
    for (let i = 0; i < 5; i++) list.unshift(action(`act-${i}`, clock() + SKEW_MS - 60_000 + i * 1000));
    const first = await runTenant('ten_1', deps, undefined, tenant.hint);
    // The final write comes 4 minutes into the run (AWS's clock), inside its retry window (budget plus an
    // eighth: 5.6 minutes). But `endsAtMs` was taken in runTenant before the first DynamoDB answer, by the
    // clock still 2 minutes behind: the window closed 2 minutes early, the write is not tried again
    // (CURSOR_NOT_SAVED), and the next run imports the same actions again (billed twice). Before the fix
    // the window was taken in TenantRun, after the lease was acquired.
    expect(first).toMatchObject({ kind: 'ran', summary: { status: 'ok' } });
    local += CYCLE_MS;
    await runTenant('ten_1', deps, undefined, tenant.hint);
    expect(imports.size).toBe(5);
    expect([...imports.values()].every((n) => n === 1)).toBe(true);
  });
});
