import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runs } from '@vsh/db';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVERY_ACTION, type Harness, type SeededTenant, startHarness } from '../test/harness.ts';

// FINDINGS_V2_PREVIEW end to end (ADR 0120): with the flag on, a role destination's findings go as OCSF to
// BatchImportFindingsV2, signed with the tenant role's session; a local server stands in for the preview
// operation (absent from moto and the public SDK). With the flag off, the same tenant imports as before.

const REGION = 'eu-west-1';

interface V2Request {
  readonly path: string;
  readonly authorization: string;
  readonly findings: { finding_info: { uid: string }; class_uid: number; metadata: { tenant_uid: string } }[];
}

/** A stand-in for POST /findingsv2/import that takes every finding and records each request. */
async function startV2Hub() {
  const requests: V2Request[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as {
        Findings?: V2Request['findings'];
      };
      const findings = body.Findings ?? [];
      requests.push({ path: req.url ?? '', authorization: req.headers.authorization ?? '', findings });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          ProcessedFindings: findings.map((f) => ({
            FindingIdentifier: { FindingInfoUid: f.finding_info.uid },
          })),
          UnprocessedFindings: [],
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('FINDINGS_V2_PREVIEW: role destinations import OCSF with BatchImportFindingsV2', () => {
  let h: Harness;
  let v2: Awaited<ReturnType<typeof startV2Hub>>;
  let tenant: SeededTenant;
  const startedAt = Date.now();

  beforeAll(async () => {
    [h, v2] = await Promise.all([
      startHarness({ sim: { seed: 122, initialActionsPerAgent: 0, burstRate: 0, badRate: 0, aliasRate: 0 } }),
      startV2Hub(),
    ]);
    h.sim.store.addTenant('vk_test_v2', ['agt-v2-a', 'agt-v2-b'], 130);
    tenant = await h.seedTenant({
      name: 'findings v2',
      accountId: '420000000001',
      region: REGION,
      agents: ['agt-v2-a', 'agt-v2-b'],
      vaikoraKey: 'vk_test_v2',
      thresholds: EVERY_ACTION,
    });
  }, 120_000);
  afterAll(async () => {
    await Promise.allSettled([v2?.stop(), h?.close()]);
  });

  it('sends every expected finding once, as OCSF, signed by the tenant role, and none with BatchImportFindings', async () => {
    const runtime = h.runtime({ findingsV2Preview: true, findingsV2Endpoint: v2.endpoint });
    const expected = h.expectedFindingIds(tenant, startedAt - 24 * 3600_000);
    expect(expected.size).toBe(260);

    const result = await runtime.run(tenant.tenantId);

    expect(result.kind).toBe('ran');
    const received = v2.requests.flatMap((r) => r.findings);
    const counts = new Map<string, number>();
    for (const f of received) counts.set(f.finding_info.uid, (counts.get(f.finding_info.uid) ?? 0) + 1);
    expect(new Set(counts.keys())).toEqual(expected);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(received.every((f) => f.class_uid === 2004 && f.metadata.tenant_uid === tenant.accountId)).toBe(
      true,
    );
    for (const request of v2.requests) {
      expect(request.path).toBe('/findingsv2/import');
      expect(request.findings.length).toBeLessThanOrEqual(100);
      // SigV4 for Security Hub in the stream's region, with the assumed role's key, not the worker's own.
      const scope = /Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(request.authorization);
      expect(scope?.slice(2)).toEqual([REGION, 'securityhub']);
      expect(scope?.[1]).not.toBe('testing');
    }
    expect(h.proxy.importBatches().filter((b) => b.accounts.includes(tenant.accountId))).toEqual([]);
    expect(h.actionFindings(tenant.accountId, REGION)).toEqual([]);
    const [run] = await h.database.db
      .select()
      .from(runs)
      .where(eq(runs.id, result.kind === 'ran' ? result.runId : ''));
    expect(run).toMatchObject({ status: 'ok', findingsImported: expected.size, recordsRejected: 0 });
  }, 120_000);

  it('imports with BatchImportFindings again once the flag is off', async () => {
    const before = new Set(v2.requests.flatMap((r) => r.findings.map((f) => f.finding_info.uid)));
    for (const agent of tenant.agents) h.sim.store.append(tenant.vaikoraKey, agent, 10);
    const added = [...h.expectedFindingIds(tenant, startedAt - 24 * 3600_000)].filter(
      (id) => !before.has(id),
    );
    const requestsBefore = v2.requests.length;

    const result = await h.runtime().run(tenant.tenantId);

    expect(result.kind).toBe('ran');
    expect(added).toHaveLength(20);
    expect(v2.requests.length).toBe(requestsBefore);
    expect(new Set(h.actionFindings(tenant.accountId, REGION).map((f) => f.Id))).toEqual(new Set(added));
  }, 120_000);
});
