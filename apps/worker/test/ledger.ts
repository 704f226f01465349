import { setTimeout as sleep } from 'node:timers/promises';
import { type AttributeValue, type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { GetFindingsCommand, SecurityHubClient } from '@aws-sdk/client-securityhub';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { rowsOf, runs, tenantSchedules } from '@vsh/db';
import { testAwsConfig } from '@vsh/testkit';
import { inArray, sql } from 'drizzle-orm';
import type { Harness, SeededTenant } from './harness.ts';

/** Polls `check` until it returns true; throws with `describe()` when `timeoutMs` passes first. */
export async function waitFor(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  describe: () => Promise<string> | string = () => '',
  everyMs = 200,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${await describe()}`);
    await sleep(everyMs);
  }
}

/** "Run now" for the given tenants, as the control plane does it: due now, with a run request. */
export async function makeDue(h: Harness, tenantIds: readonly string[]): Promise<void> {
  if (tenantIds.length === 0) return;
  await h.database.db
    .update(tenantSchedules)
    .set({ nextRunAt: sql`now()`, runRequestedAt: sql`now()` })
    .where(inArray(tenantSchedules.tenantId, [...tenantIds]));
}

/** Finished runs per tenant that started at or after `since` (optionally only with one status). */
export async function finishedRuns(
  h: Harness,
  since: Date,
  status?: 'ok' | 'partial' | 'failed',
): Promise<Map<string, number>> {
  const rows = await h.database.db.execute(sql`
    select tenant_id, count(*)::int as n from ${runs}
    where finished_at is not null and started_at >= ${since.toISOString()}::timestamptz
    ${status === undefined ? sql`` : sql`and status = ${status}`}
    group by tenant_id`);
  return new Map(rowsOf<{ tenant_id: string; n: number }>(rows).map((r) => [r.tenant_id, r.n]));
}

/** What Security Hub holds against what Vaikora has, over a set of tenants. */
export interface LedgerFigures {
  /** Qualifying actions (every one must be a finding in its tenant's hub). */
  expected: number;
  /** Findings held, over the tenants' hubs. */
  stored: number;
  /** Qualifying actions with no finding. */
  lost: number;
  /** Findings that are no qualifying action of that tenant (another tenant's, or made up). */
  unexpected: number;
  /** Finding ids held more than once as separate findings, plus actions held under more than one finding. */
  duplicateIds: number;
  /** Successful imports of an id Security Hub already had (the price of at-least-once delivery). */
  reimports: number;
  /** Findings received by Security Hub in BatchImportFindings calls. */
  findingsReceived: number;
}

/** Compares every tenant's memory Security Hub with the simulator's qualifying actions. */
export function ledger(h: Harness, tenants: readonly SeededTenant[]): LedgerFigures {
  const figures: LedgerFigures = {
    expected: 0,
    stored: 0,
    lost: 0,
    unexpected: 0,
    duplicateIds: 0,
    reimports: 0,
    findingsReceived: 0,
  };
  const hubStats = h.proxy.stats().securityHub;
  for (const t of tenants) {
    const expected = h.expectedFindingIds(t, 0);
    const stored = h.proxy.memoryFindings(t.accountId, t.region);
    const byId = new Map<string, number>();
    const byAction = new Map<string, number>();
    for (const f of stored) {
      const id = String(f.Id);
      byId.set(id, (byId.get(id) ?? 0) + 1);
      const fields = f.ProductFields as Record<string, string> | undefined;
      const action = fields?.['vaikora/action_id'] ?? id;
      byAction.set(action, (byAction.get(action) ?? 0) + 1);
    }
    figures.expected += expected.size;
    figures.stored += stored.length;
    for (const id of expected) if (!byId.has(id)) figures.lost++;
    for (const id of byId.keys()) if (!expected.has(id)) figures.unexpected++;
    for (const n of byId.values()) if (n > 1) figures.duplicateIds += n - 1;
    for (const n of byAction.values()) if (n > 1) figures.duplicateIds += n - 1;
    const s = hubStats[`${t.accountId}/${t.region}`];
    figures.reimports += s?.reimports ?? 0;
    figures.findingsReceived += s?.findingsReceived ?? 0;
  }
  return figures;
}

/** A cursor as stored in DynamoDB (the fields the checks read). */
interface StoredCursor {
  readonly pk: string;
  readonly sk: string;
  readonly positionMs: number;
  readonly idsAtPosition: readonly string[];
}

export interface CursorWatchResult {
  /** Scans of the state table made. */
  readonly polls: number;
  /** Times a cursor was seen behind where it had been (lower positionMs). */
  readonly regressions: number;
  /** Times a cursor was seen past a qualifying action that was not in Security Hub. */
  readonly passedUndelivered: number;
  /** Cursor writes observed (version changes between polls). */
  readonly changes: number;
  /** Cursor items stored when the watch stopped. */
  readonly cursorsAtEnd: number;
  readonly details: string[];
}

export interface CursorWatch {
  /** Cursor items seen in the last scan. */
  readonly cursors: number;
  stop(): Promise<CursorWatchResult>;
}

/**
 * Reads every cursor item straight from DynamoDB Local every `everyMs` while workers run, and counts:
 * regressions (positionMs lower than seen before), and, every `deliveryEveryMs`, cursors that claim an
 * action as handled (older than the position, or at it and listed) while its finding is not in the
 * tenant's Security Hub (the cursor is read first, so a finding imported after the read only helps).
 */
export function watchCursors(
  h: Harness,
  tenants: readonly SeededTenant[],
  options: { everyMs?: number; deliveryEveryMs?: number } = {},
): CursorWatch {
  const everyMs = options.everyMs ?? 100;
  const deliveryEveryMs = options.deliveryEveryMs ?? 500;
  const streams = new Map<string, { tenant: SeededTenant; agentId: string }>();
  for (const t of tenants) {
    for (const [agentId, streamId] of Object.entries(t.streamIds)) {
      streams.set(`TENANT#${t.tenantId}|CURSOR#${streamId}`, { tenant: t, agentId });
    }
  }
  const highest = new Map<string, number>();
  const versions = new Map<string, number>();
  const result = {
    polls: 0,
    regressions: 0,
    passedUndelivered: 0,
    changes: 0,
    cursorsAtEnd: 0,
    details: [] as string[],
  };
  let stopped = false;
  let lastDeliveryCheck = 0;
  let seen = 0;

  const scan = async (client: DynamoDBClient): Promise<Array<StoredCursor & { version: number }>> => {
    const items: Array<StoredCursor & { version: number }> = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await client.send(
        new ScanCommand({
          TableName: h.tableName,
          ConsistentRead: true,
          FilterExpression: 'begins_with(sk, :c)',
          ExpressionAttributeValues: { ':c': { S: 'CURSOR#' } },
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        }),
      );
      for (const raw of page.Items ?? []) {
        const item = unmarshall(raw);
        items.push({
          pk: String(item.pk),
          sk: String(item.sk),
          positionMs: Number(item.positionMs),
          idsAtPosition: Array.isArray(item.idsAtPosition) ? item.idsAtPosition.map(String) : [],
          version: Number(item.version ?? 0),
        });
      }
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return items;
  };

  const checkDelivery = (items: readonly StoredCursor[]): void => {
    const hubs = new Map<string, Set<string>>();
    for (const c of items) {
      const stream = streams.get(`${c.pk}|${c.sk}`);
      if (stream === undefined) continue;
      const { tenant, agentId } = stream;
      const hubKey = `${tenant.accountId}/${tenant.region}`;
      let hub = hubs.get(hubKey);
      if (hub === undefined) {
        hub = new Set(h.proxy.memoryFindings(tenant.accountId, tenant.region).map((f) => String(f.Id)));
        hubs.set(hubKey, hub);
      }
      const at = new Set(c.idsAtPosition);
      for (const a of h.qualifyingActions(tenant, agentId)) {
        const passed = a.timestampMs < c.positionMs || (a.timestampMs === c.positionMs && at.has(a.actionId));
        if (passed && !hub.has(a.findingId)) {
          result.passedUndelivered++;
          if (result.details.length < 20)
            result.details.push(`${c.sk} at ${c.positionMs} passed ${a.findingId} (${a.timestampMs})`);
        }
      }
    }
  };

  const loop = (async () => {
    while (!stopped) {
      const items = await scan(h.dynamodb);
      result.polls++;
      seen = items.length;
      for (const c of items) {
        const key = `${c.pk}|${c.sk}`;
        const before = highest.get(key);
        if (before !== undefined && c.positionMs < before) {
          result.regressions++;
          if (result.details.length < 20)
            result.details.push(`${key} went back from ${before} to ${c.positionMs}`);
        }
        highest.set(key, Math.max(before ?? c.positionMs, c.positionMs));
        if (versions.has(key) && versions.get(key) !== c.version) result.changes++;
        versions.set(key, c.version);
      }
      if (Date.now() - lastDeliveryCheck >= deliveryEveryMs) {
        lastDeliveryCheck = Date.now();
        checkDelivery(items);
      }
      await sleep(everyMs);
    }
  })();

  return {
    get cursors() {
      return seen;
    },
    async stop() {
      stopped = true;
      await loop;
      // One last look, after everything has settled.
      const items = await scan(h.dynamodb);
      result.cursorsAtEnd = items.length;
      checkDelivery(items);
      return result;
    },
  };
}

/**
 * Reads the tenant's findings back by id through the SDK, as the customer would: AssumeRole into the
 * tenant's role (with the ExternalId the role trusts) and GetFindings with an Id filter, 20 ids a call.
 */
export async function getFindingsById(
  h: Harness,
  tenant: SeededTenant,
  ids: readonly string[],
): Promise<string[]> {
  const sts = new STSClient(testAwsConfig(h.proxy.endpoint, tenant.region));
  try {
    const { Credentials } = await sts.send(
      new AssumeRoleCommand({
        RoleArn: tenant.roleArn,
        RoleSessionName: 'soc-analyst',
        ExternalId: tenant.externalId,
      }),
    );
    if (!Credentials?.AccessKeyId || !Credentials.SecretAccessKey) throw new Error('no credentials');
    const hub = new SecurityHubClient({
      endpoint: h.proxy.endpoint,
      region: tenant.region,
      maxAttempts: 10,
      credentials: {
        accessKeyId: Credentials.AccessKeyId,
        secretAccessKey: Credentials.SecretAccessKey,
        ...(Credentials.SessionToken ? { sessionToken: Credentials.SessionToken } : {}),
      },
    });
    const found: string[] = [];
    try {
      for (let i = 0; i < ids.length; i += 20) {
        const chunk = ids.slice(i, i + 20);
        let token: string | undefined;
        do {
          const page = await hub.send(
            new GetFindingsCommand({
              Filters: { Id: chunk.map((Value) => ({ Value, Comparison: 'EQUALS' })) },
              MaxResults: 100,
              ...(token === undefined ? {} : { NextToken: token }),
            }),
          );
          for (const f of page.Findings ?? []) if (f.Id !== undefined) found.push(f.Id);
          token = page.NextToken;
        } while (token !== undefined);
      }
    } finally {
      hub.destroy();
    }
    return found;
  } finally {
    sts.destroy();
  }
}
