import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { vaikoraSettings } from '@vsh/db';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVERY_ACTION, type Harness, startHarness } from '../test/harness.ts';

/**
 * ADR 0131, through the worker: a Vaikora list ordered by arrival, newest first, where an agent's
 * buffered upload lands in front of an action that arrived before it. A hostile probe found that one
 * record of the upload stamped inside the range the stream handled before ended the sweep at the
 * upload's older pages: the action behind them was never read, the position moved past it, and it was
 * lost with every run `ok`.
 */

interface Listed {
  readonly id: string;
  readonly ms: number;
}

const MIN = 60_000;

/** A Vaikora whose list is in arrival order, newest arrival first. */
async function arrivalOrderVaikora(agentId: string) {
  const list: Listed[] = [];
  // Pages answered 400 (a request Vaikora refuses: not retried) while listed here, after their hook.
  const refused = new Map<number, () => Promise<void>>();
  let requests = 0;
  const server = createServer(async (req, res) => {
    requests++;
    const url = new URL(req.url ?? '/', 'http://vaikora.test');
    const page = Number(url.searchParams.get('page') ?? '1');
    const refusal = refused.get(page);
    if (refusal !== undefined) {
      await refusal();
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end('{"error":"bad request"}');
      return;
    }
    const perPage = Number(url.searchParams.get('per_page') ?? '100');
    const slice = list.slice((page - 1) * perPage, page * perPage);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        actions: slice.map((r) => ({
          id: r.id,
          agent_id: agentId,
          timestamp: new Date(r.ms).toISOString(),
          risk_level: 'high',
          action_type: 'api_call',
        })),
        total: list.length,
        page,
        per_page: perPage,
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/api/v1`,
    /** Actions arriving now, listed in the order given, ahead of every earlier arrival. */
    arrive: (actions: readonly Listed[]) => list.unshift(...actions),
    listed: () => [...list],
    /** Gives a listed action a new time, in place (a record re-stamped in Vaikora). */
    restamp: (id: string, ms: number) => {
      const at = list.findIndex((a) => a.id === id);
      if (at >= 0) list[at] = { id, ms };
    },
    /** Deletes an action from the list (a deletion in Vaikora). */
    remove: (id: string) => {
      const at = list.findIndex((a) => a.id === id);
      if (at >= 0) list.splice(at, 1);
    },
    requests: () => requests,
    /** Refuses `page` until told otherwise, running `first` before each refusal is answered. */
    refuse: (page: number, on: boolean, first: () => Promise<void> = async () => {}) =>
      on ? refused.set(page, first) : refused.delete(page),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe('a late upload in front of a punctual action, in a list ordered by arrival (ADR 0131)', () => {
  let h: Harness;
  const servers: Array<Awaited<ReturnType<typeof arrivalOrderVaikora>>> = [];
  let tenants = 0;

  beforeAll(async () => {
    h = await startHarness({ sim: { seed: 131, initialActionsPerAgent: 0 } });
  }, 120_000);
  afterAll(async () => {
    for (const s of servers) await s.stop();
    await h?.close();
  });

  /**
   * One run over 20 punctual actions (its position P is the newest), then action N stamped a minute after
   * P arrives, then a buffer of 200 actions (two pages, fewer than LATE_PAGES) headed by `head`, then two
   * runs; then action M stamped 20 minutes after P (the window moves past N) and two runs more. Returns
   * the ids every run should have delivered that Security Hub does not hold, and the findings received.
   */
  /**
   * A tenant of one agent whose Vaikora is a new arrival-ordered list; `run` runs it once and records its
   * status (with the error code when not ok) and the Vaikora requests it made.
   */
  async function arrivalTenant() {
    const n = ++tenants;
    const agentId = `agt-arrival-${n}`;
    const vaikora = await arrivalOrderVaikora(agentId);
    servers.push(vaikora);
    h.sim.store.addTenant(`vk_test_arrival_${n}`, [agentId], 0);
    const tenant = await h.seedTenant({
      name: `arrival-${n}`,
      accountId: `3310000${String(n).padStart(5, '0')}`,
      region: 'us-east-1',
      agents: [agentId],
      vaikoraKey: `vk_test_arrival_${n}`,
      thresholds: { ...EVERY_ACTION, minRiskScore: null },
    });
    await h.database.db
      .update(vaikoraSettings)
      .set({ baseUrl: vaikora.baseUrl })
      .where(eq(vaikoraSettings.tenantId, tenant.tenantId));
    const runtime = h.runtime();
    const statuses: string[] = [];
    const requests: number[] = [];
    const run = async () => {
      const before = vaikora.requests();
      const r = await runtime.run(tenant.tenantId);
      const status = r.kind === 'ran' ? r.summary.status : r.kind;
      statuses.push(r.kind === 'ran' && status !== 'ok' ? `${status}:${r.summary.errorCode}` : status);
      requests.push(vaikora.requests() - before);
    };
    const findings = () => {
      const counters = h.proxy.stats().securityHub[`${tenant.accountId}/${tenant.region}`];
      return {
        stored: new Set(h.actionFindings(tenant.accountId, tenant.region).map((f) => String(f.Id))),
        received: counters?.findingsReceived ?? 0,
        reimports: counters?.reimports ?? 0,
      };
    };
    return { vaikora, tenant, runtime, run, statuses, requests, findings };
  }

  /**
   * An idle agent with days of history (3,000 actions, 30 pages) and 20 actions in the window of P,
   * run twice: its sweeps read 2 pages. Returns P.
   */
  async function idleWithHistory(
    vaikora: Awaited<ReturnType<typeof arrivalOrderVaikora>>,
    run: () => Promise<void>,
  ) {
    const p = Date.now() - 50 * MIN;
    vaikora.arrive(
      Array.from({ length: 3_000 }, (_, i) => ({ id: `old-${i}`, ms: p - 2 * 86_400_000 - i * 10_000 })),
    );
    vaikora.arrive(Array.from({ length: 20 }, (_, i) => ({ id: `handled-${i}`, ms: p - i * 25_000 })));
    await run();
    await run();
    return p;
  }

  /**
   * One run over `handled` punctual actions (20 by default; its position P is the newest), then action N
   * stamped a minute after P arrives, then a buffer of 200 actions (two pages, fewer than LATE_PAGES)
   * headed by `head`, then two runs; then action M stamped 20 minutes after P (the window moves past N)
   * and two runs more. Returns the ids every run should have delivered that Security Hub does not hold,
   * and the findings received.
   */
  async function scenario(
    head: (p: number) => readonly Listed[],
    options: {
      partialFirst?: boolean;
      leaseLostAtFailure?: boolean;
      uploadSize?: number;
      handled?: number;
    } = {},
  ) {
    const { vaikora, tenant, runtime, run, statuses, findings } = await arrivalTenant();
    try {
      const p = Date.now() - 50 * MIN;
      const handled = options.handled ?? 20;
      // Inside the 10-minute window of the position: 30 s apart, or closer for many.
      const spacing = Math.min(30_000, Math.floor((9.5 * MIN) / handled));
      vaikora.arrive(
        Array.from({ length: handled }, (_, i) => ({ id: `handled-${i}`, ms: p - i * spacing })),
      );
      await run();
      vaikora.arrive([{ id: 'punctual-N', ms: p + MIN }]);
      const buffered = head(p);
      vaikora.arrive([
        ...buffered,
        ...Array.from({ length: (options.uploadSize ?? 200) - buffered.length }, (_, i) => ({
          id: `late-${i}`,
          ms: p - 30 * MIN - i * 2_000,
        })),
      ]);
      // A run that reads the upload's first page and fails at its second: what it sent goes into the
      // seen-set, and the position stays.
      if (options.partialFirst === true) {
        // The lease taken over while the run reads page 2 (by a holder that then let it expire): the
        // run's write of what it sent puts the seen-set, and its cursor update is refused.
        const takeLease = async () => {
          await h.dynamodb.send(
            new UpdateItemCommand({
              TableName: h.tableName,
              Key: { pk: { S: `TENANT#${tenant.tenantId}` }, sk: { S: 'LEASE' } },
              UpdateExpression: 'SET #owner = :ghost, epoch = epoch + :one, leaseExpiresAtMs = :gone',
              ExpressionAttributeNames: { '#owner': 'owner' },
              ExpressionAttributeValues: {
                ':ghost': { S: 'ghost' },
                ':one': { N: '1' },
                ':gone': { N: '0' },
              },
            }),
          );
        };
        vaikora.refuse(2, true, options.leaseLostAtFailure === true ? takeLease : undefined);
        await run();
        vaikora.refuse(2, false);
      }
      await run();
      await run();
      vaikora.arrive([{ id: 'punctual-M', ms: p + 20 * MIN }]);
      await run();
      await run();

      const { stored, received, reimports } = findings();
      // The `late-` actions are stamped 30 to 60 minutes before P: older than the 10-minute overlap, they
      // are out of every window (ADR 0004). Every other action was inside the window when it arrived.
      const due = [
        ...new Set(
          vaikora
            .listed()
            .filter((a) => !a.id.startsWith('late-'))
            .map((a) => `vaikora-${a.id}`),
        ),
      ];
      return { statuses, missing: due.filter((id) => !stored.has(id)), received, reimports, due: due.length };
    } finally {
      await runtime.close();
    }
  }

  it.each<[string, (p: number) => readonly Listed[], number, { uploadSize?: number; handled?: number }?]>([
    // The first two fail on 4fc48c5: the upload's head, stamped inside the range the stream handled, ended
    // the sweep.
    ['headed by one action stamped a minute before P', (p) => [{ id: 'buffered-in-range', ms: p - MIN }], 23],
    [
      // The agent buffered from 8.5 minutes before P (inside the window) to 30 s after it, newest first.
      'of an agent that reconnects, its actions spanning P',
      (p) => Array.from({ length: 10 }, (_, i) => ({ id: `reconnect-${i}`, ms: p + 30_000 - i * 60_000 })),
      32,
    ],
    // A hostile list (or one ordered by last update) that lists a handled action again, at its old time,
    // at the head ahead of the upload: that one id was vouched for, and ended the reading (fails on 4ba56f3;
    // ADR 0144).
    [
      'headed by an action handled before, listed again at its old time',
      (p) => [{ id: 'handled-0', ms: p }],
      22,
    ],
    // An agent offline for hours uploads 1,500 actions (15 pages) ahead of N: more than the 3 pages ADR 0131
    // reads past the cursor's stop, fewer than the 20 it reads while it expects handled actions it has not
    // met (fails on d15ea7d; ADR 0145).
    ['of 15 pages', (p) => [{ id: 'buffered-in-range', ms: p - MIN }], 23, { uploadSize: 1_500 }],
    // A busy agent: 1,100 actions in the window are more than a digest hashes, so the last write could not
    // vouch for them, and the sweep expected nothing: it read 3 pages of the upload of 6 and stopped
    // (fails on 26afc16; ADR 0146: the digest counts them without a hash).
    ['of 6 pages, after a window of 1,100 actions', () => [], 1_102, { handled: 1_100, uploadSize: 600 }],
  ])('delivers the action behind an upload %s', { timeout: 120_000 }, async (_, head, due, options) => {
    const r = await scenario(head, options);
    expect(r).toEqual({
      statuses: ['ok', 'ok', 'ok', 'ok', 'ok'],
      missing: [],
      received: due,
      reimports: 0,
      due,
    });
  });

  // A run sends the upload's newest action and then fails at its second page: the seen-set of a run that
  // stopped early is not what earlier runs read (review of ADR 0142; the first two fail on 3fcd8fb). In the
  // third, that run's cursor update is refused after its seen-set put landed (the lease lost): the stream
  // keeps the digest of the run before beside an id that no vouching write handled (ADR 0143; fails on
  // 490922a).
  // In the fourth, the upload is 15 pages: the cut run's write removed the digest, so the sweep expected
  // nothing and read 3 pages (fails on 26afc16; ADR 0146: a write at the same position keeps the digest).
  it.each([
    ['stamped 30 s after P (new)', 30_000, false, 200],
    ['stamped a minute before P (late, inside the handled range)', -MIN, false, 200],
    ['stamped a minute before P, its cursor update refused after its seen-set put', -MIN, true, 200],
    ['stamped a minute before P, the upload 15 pages long', -MIN, false, 1_500],
  ])(
    'delivers the action behind an upload whose head a failed run sent, %s',
    { timeout: 120_000 },
    async (_, offsetMs, leaseLostAtFailure, uploadSize) => {
      const r = await scenario((p) => [{ id: 'head-sent-by-failed-run', ms: p + offsetMs }], {
        partialFirst: true,
        leaseLostAtFailure,
        uploadSize,
      });
      expect({ ...r, statuses: r.statuses.map((s) => s === 'ok') }).toEqual({
        statuses: [true, false, true, true, true, true],
        missing: [],
        received: r.due,
        reimports: 0,
        due: 23,
      });
    },
  );

  // Longer than the 20 pages it reads past the stop: N is not read, and the run says that it may not be.
  it('says so when an upload is longer than the pages it may read past: 25 pages', {
    timeout: 120_000,
  }, async () => {
    const r = await scenario((p) => [{ id: 'buffered-in-range', ms: p - MIN }], { uploadSize: 2_500 });
    expect(r.statuses).toContain('partial:LATE_UPLOAD_UNREAD');
    expect(r.missing).toEqual(['vaikora-punctual-N']);
    expect(r.reimports).toBe(0);
  });

  // An idle agent with days of history (30 pages): a run reads 2 pages. An action its digest counted is
  // deleted, or re-stamped: the count cannot be met. Each run read 22 pages and recorded LATE_UPLOAD_UNREAD
  // until the agent acted again, since an idle stream wrote nothing (the first two fail on 26afc16). Now the
  // first run after the deletion pays once and writes the new count; a re-stamp inside the window changes
  // nothing. When every counted action is gone, no page reaches the window and its seen-set is not read: a
  // digest that counts none is written once (fails on 6f7ac99), and the stream reads ADR 0131's 3 pages
  // past the stop, as a stream with nothing in its window always did.
  type Vaikora = Awaited<ReturnType<typeof arrivalOrderVaikora>>;
  it.each<[string, (v: Vaikora, p: number) => void, number[], string]>([
    ['one deleted', (v) => v.remove('handled-5'), [22, 2, 2], 'partial:LATE_UPLOAD_UNREAD'],
    ['one re-stamped 20 s after the position', (v, p) => v.restamp('handled-0', p + 20_000), [2, 2, 2], 'ok'],
    [
      'every one deleted',
      (v) => {
        for (let i = 0; i < 20; i++) v.remove(`handled-${i}`);
      },
      [21, 4, 4],
      'partial:LATE_UPLOAD_UNREAD',
    ],
  ])(
    'an idle stream whose counted actions were changed (%s) reads 20 pages past the stop once at most',
    { timeout: 120_000 },
    async (_, change, after, firstStatus) => {
      const { vaikora, runtime, run, statuses, requests, findings } = await arrivalTenant();
      try {
        const p = await idleWithHistory(vaikora, run);
        change(vaikora, p);
        for (let i = 0; i < 3; i++) await run();

        expect({ statuses, requests, reimports: findings().reimports }).toEqual({
          statuses: ['ok', 'ok', firstStatus, 'ok', 'ok'],
          requests: [2, 2, ...after],
          reimports: 0,
        });
      } finally {
        await runtime.close();
      }
    },
  );

  // A cursor whose digest was stored before ADR 0146: ADR 0128's hash alone, or ADR 0144's hash and count.
  // Read as no digest, it made the sweep expect nothing, read 3 pages of a 6-page upload and stop, every
  // run: a third probe lost x for good (fails on 8b1e73e). Read as a count of 1 of any epoch, it is
  // expected, and the first complete sweep writes a digest of its own.
  it.each<[string, (digest: string) => string]>([
    ['a hash alone (ADR 0128)', (digest) => digest.split('.')[0] ?? ''],
    ['a hash and a count (ADR 0144)', (digest) => digest.split('.').slice(0, 2).join('')],
  ])(
    'delivers the action behind a 6-page upload to a stream whose digest was stored as %s',
    {
      timeout: 120_000,
    },
    async (_, older) => {
      const { vaikora, tenant, runtime, run, statuses, findings } = await arrivalTenant();
      try {
        const p = await idleWithHistory(vaikora, run);
        // The stream's inline cursor (the lease item's map `c`) given the older digest.
        const Key = { pk: { S: `TENANT#${tenant.tenantId}` }, sk: { S: 'LEASE' } };
        const lease = await h.dynamodb.send(
          new GetItemCommand({ TableName: h.tableName, Key, ConsistentRead: true }),
        );
        const [streamId, entry] = Object.entries(lease.Item?.c?.M ?? {})[0] ?? [];
        const digest = entry?.M?.d?.S;
        if (streamId === undefined || digest === undefined) throw new Error('no inline cursor with a digest');
        await h.dynamodb.send(
          new UpdateItemCommand({
            TableName: h.tableName,
            Key,
            UpdateExpression: 'SET #c.#s.d = :d',
            ExpressionAttributeNames: { '#c': 'c', '#s': streamId },
            ExpressionAttributeValues: { ':d': { S: older(digest) } },
          }),
        );
        vaikora.arrive([{ id: 'x', ms: p + MIN }]);
        vaikora.arrive(
          Array.from({ length: 600 }, (_, i) => ({ id: `up-${i}`, ms: p - 86_400_000 - i * 1_000 })),
        );
        await run();
        await run();
        const after = await h.dynamodb.send(
          new GetItemCommand({ TableName: h.tableName, Key, ConsistentRead: true }),
        );

        expect({
          statuses,
          missing: findings().stored.has('vaikora-x') ? [] : ['vaikora-x'],
          reimports: findings().reimports,
        }).toEqual({ statuses: ['ok', 'ok', 'ok', 'ok'], missing: [], reimports: 0 });
        expect(after.Item?.c?.M?.[streamId]?.M?.d?.S).toMatch(/^[A-Za-z0-9_-]{22}\.[0-9]+\.[0-9]+$/);
      } finally {
        await runtime.close();
      }
    },
  );
});
