import { createRng } from '@vsh/fixtures';
import type { SimAction } from '@vsh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVERY_ACTION, type Harness, type SeededTenant, startHarness } from '../test/harness.ts';

/**
 * A Vaikora listing by arrival, newest first, hostile in every way this project has met (ADR 0131,
 * 0142-0146): buffered uploads of late actions head the list (up to 9 pages, some headed by actions
 * stamped inside the window), the 50 newest actions are listed again at the head at their own times on
 * half the requests, sweeps are cut off at page 2, and Security Hub fails every finding for a run. Seeded
 * rounds through the real worker, DynamoDB Local, PostgreSQL and moto; exactly once is counted at the
 * fault proxy. With this seed: 143 due; 119 imported on 490922a, 139 on 26afc16, 143 since ADR 0146.
 */

const SEED = 144;
const ROUNDS = 18;
const KEY = 'vk_test_arrival_chaos';
const AGENTS = ['agt-arrival-a', 'agt-arrival-b'];
const MIN = 60_000;

type Round = 'ok' | 'cut-at-page-2' | 'hub-failing';

describe('exactly once over a hostile list ordered by arrival (ADR 0131, 0142-0144)', () => {
  let h: Harness;
  let tenant: SeededTenant;

  beforeAll(async () => {
    h = await startHarness({
      sim: {
        seed: SEED,
        initialActionsPerAgent: 0,
        order: 'arrival',
        relistRate: 0.5,
        maxPerPage: 50,
        defaultPerPage: 50,
      },
    });
    h.sim.store.addTenant(KEY, AGENTS, 0);
    tenant = await h.seedTenant({
      name: 'arrival chaos',
      accountId: '314400000001',
      region: 'us-east-1',
      agents: AGENTS,
      vaikoraKey: KEY,
      thresholds: { ...EVERY_ACTION, minRiskScore: null },
    });
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it('imports every action that arrived inside its window once, and none twice, over 18 seeded rounds', {
    timeout: 240_000,
  }, async () => {
    const rng = createRng(SEED);
    const runtime = h.runtime();
    const due = new Set<string>();
    const findingIds = (actions: readonly SimAction[]) =>
      actions.map((a) => `vaikora-${String((a.raw as { id: unknown }).id)}`);
    const rounds: Round[] = [];
    const statuses: string[] = [];
    let uploads = 0;
    try {
      let previous: Round = 'ok';
      for (let i = 0; i < ROUNDS; i++) {
        const now = Date.now();
        for (const agent of AGENTS) {
          for (const id of findingIds(h.sim.store.append(KEY, agent, 1 + Math.floor(rng.next() * 6))))
            due.add(id);
          // An upload only after a run that read the whole list (one whose hub failed did): two in a row,
          // both unread, may be more than the 20 pages a sweep reads past the cursor's stop (ADR 0145's bound).
          if (i > 0 && previous !== 'cut-at-page-2' && rng.chance(0.6)) {
            uploads++;
            // Stamped 30 to 60 minutes ago: never due (out of every window), but they fill up to 9 pages of
            // 50, past the 3 a sweep reads when it expects nothing (ADR 0145, 0146).
            h.sim.store.upload(KEY, agent, 40 + Math.floor(rng.next() * 410), now - 60 * MIN, now - 30 * MIN);
            // Then, half the time, its newest actions, stamped inside the window: due, and heading the list.
            if (rng.chance(0.5)) {
              const head = h.sim.store.upload(
                KEY,
                agent,
                1 + Math.floor(rng.next() * 3),
                now - 5 * MIN,
                now - MIN,
              );
              for (const id of findingIds(head)) due.add(id);
            }
          }
        }
        const round: Round = i === 0 ? 'ok' : rng.pick(['ok', 'ok', 'cut-at-page-2', 'hub-failing']);
        rounds.push(round);
        if (round === 'cut-at-page-2') h.sim.setOptions({ refusePages: [2] });
        if (round === 'hub-failing') {
          h.proxy.setRules({
            failedFindings: [{ when: () => true, errorCode: 'InternalFailure', errorMessage: 'hub failing' }],
          });
        }
        const result = await runtime.run(tenant.tenantId);
        statuses.push(result.kind === 'ran' ? result.summary.status : result.kind);
        h.sim.setOptions({ refusePages: [] });
        h.proxy.setRules({});
        previous = round;
      }
      // Settle: two runs with nothing new.
      for (let i = 0; i < 2; i++) {
        const result = await runtime.run(tenant.tenantId);
        statuses.push(result.kind === 'ran' ? result.summary.status : result.kind);
      }

      const stored = new Set(h.actionFindings(tenant.accountId, tenant.region).map((f) => String(f.Id)));
      const hub = h.proxy.stats().securityHub[`${tenant.accountId}/${tenant.region}`];
      const relists = h.sim.stats().relists;
      console.log(
        `arrival chaos: rounds ${rounds.join(',')}; statuses ${statuses.join(',')}; ${uploads} uploads, ` +
          `${relists} actions listed again; ${due.size} due, ${stored.size} stored, reimports ${hub?.reimports ?? 0}`,
      );

      // The hostility fired: uploads, repeats at the head, cut sweeps and a failing hub.
      expect(uploads).toBeGreaterThan(3);
      expect(relists).toBeGreaterThan(5);
      expect(new Set(rounds)).toEqual(new Set(['ok', 'cut-at-page-2', 'hub-failing']));
      expect({
        missing: [...due].filter((id) => !stored.has(id)),
        reimports: hub?.reimports ?? 0,
        lastStatuses: statuses.slice(-2),
      }).toEqual({ missing: [], reimports: 0, lastStatuses: ['ok', 'ok'] });
    } finally {
      await runtime.close();
    }
  });
});
