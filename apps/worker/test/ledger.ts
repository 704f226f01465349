import { setTimeout as sleep } from 'node:timers/promises';
import { type AttributeValue, type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { GetFindingsCommand, SecurityHubClient } from '@aws-sdk/client-securityhub';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { parseAction } from '@vsh/core';
import { rowsOf, runs, tenantSchedules } from '@vsh/db';
import {
  type AsffFinding,
  type FaultProxy,
  type FaultProxyStats,
  testAwsConfig,
  type VaikoraSimStore,
} from '@vsh/testkit';
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
  /**
   * Findings (held or sent) in a hub whose tenants do not own that action at all, by the simulator's
   * per-tenant actions: another tenant's data delivered to this account and region.
   */
  misdelivered: number;
  /**
   * Actions held under more than one finding id (by `ProductFields['vaikora/action_id']`), beyond the
   * first. A finding id itself can be held only once: the hub, like Security Hub, is keyed by id.
   */
  duplicateIds: number;
  /** Successful imports of an id Security Hub already had (the price of at-least-once delivery). */
  reimports: number;
  /** Findings received by Security Hub in BatchImportFindings calls that passed the proxy's faults. */
  findingsReceived: number;
  /**
   * BatchImportFindings entries sent to these hubs, counted at the proxy as each request arrives: accepted
   * or failed, throttled or dropped, first try or retry.
   */
  entriesSent: number;
  /** Finding ids those entries carried. */
  distinctIdsSent: number;
  /** entriesSent / distinctIdsSent, 2 decimals (0 when nothing was sent). */
  entriesPerId: number;
  /** Entries for an id Security Hub had already accepted once: true re-sends. */
  extra: number;
  /**
   * Connector health findings (ADR 0116) held in the tenants' own hubs: no action's, so in none of the
   * figures above (opened, then archived, one is sent twice by design). One naming a tenant that does
   * not own the hub counts as misdelivered.
   */
  healthFindings: number;
}

/** What the ledger reads: the AWS proxy's hubs and counters, the simulator's data, the expected findings. */
export interface LedgerSource<T extends LedgerTenant> {
  readonly proxy: Pick<FaultProxy, 'stats' | 'memoryFindings'>;
  readonly sim: { readonly store: Pick<VaikoraSimStore, 'list'> };
  expectedFindingIds(tenant: T, sinceMs: number): Set<string>;
}

/** The parts of a seeded tenant the ledger uses. */
export type LedgerTenant = Pick<SeededTenant, 'tenantId' | 'accountId' | 'region' | 'vaikoraKey' | 'agents'>;

/** Where connector health finding ids live (`vaikora-health {tenant}/{destination}/{condition}`, @vsh/core). */
const HEALTH_ID_PREFIX = 'vaikora-health ';

/** The tenant a connector health finding id names; undefined for any other finding. */
function healthTenantOf(findingId: string): string | undefined {
  return findingId.startsWith(HEALTH_ID_PREFIX)
    ? findingId.slice(HEALTH_ID_PREFIX.length).split('/')[0]
    : undefined;
}

/** The proxy's counters at the start of a phase: figures taken with it count only what was sent after. */
export interface LedgerPhase {
  readonly stats: FaultProxyStats;
}

/** Starts a phase (a "no faults" stretch, say): snapshots the counters the phase's figures subtract. */
export function startLedgerPhase(h: { readonly proxy: Pick<FaultProxy, 'stats'> }): LedgerPhase {
  return { stats: h.proxy.stats() };
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** The action id a finding stands for: its `vaikora/action_id` product field, else its id without the prefix. */
function actionIdOf(finding: AsffFinding | undefined, findingId: string): string {
  const fields = finding?.ProductFields as Record<string, unknown> | undefined;
  const field = fields?.['vaikora/action_id'];
  return typeof field === 'string' ? field : findingId.replace(/^vaikora-/, '');
}

/**
 * Compares every tenant's memory Security Hub with the simulator's qualifying actions, and counts the
 * BatchImportFindings entries sent to those hubs (since `phase` started, when given). Tenants sharing an
 * account and region are judged together, as one hub.
 */
export function ledger<T extends LedgerTenant>(
  h: LedgerSource<T>,
  tenants: readonly T[],
  phase?: LedgerPhase,
): LedgerFigures {
  const figures: LedgerFigures = {
    expected: 0,
    stored: 0,
    lost: 0,
    unexpected: 0,
    misdelivered: 0,
    duplicateIds: 0,
    reimports: 0,
    findingsReceived: 0,
    entriesSent: 0,
    distinctIdsSent: 0,
    entriesPerId: 0,
    extra: 0,
    healthFindings: 0,
  };
  const stats = h.proxy.stats();
  const before = phase?.stats;
  const hubs = new Map<string, T[]>();
  for (const t of tenants) {
    const key = `${t.accountId}/${t.region}`;
    hubs.set(key, [...(hubs.get(key) ?? []), t]);
  }
  for (const [hubKey, owners] of hubs) {
    const [first] = owners;
    if (first === undefined) continue;
    const expected = new Set<string>();
    for (const t of owners) for (const id of h.expectedFindingIds(t, 0)) expected.add(id);
    const stored = new Map<string, AsffFinding>();
    const ownerIds = new Set(owners.map((t) => t.tenantId));
    for (const f of h.proxy.memoryFindings(first.accountId, first.region)) {
      const id = String(f.Id);
      const healthOf = healthTenantOf(id);
      if (healthOf === undefined) stored.set(id, f);
      else if (ownerIds.has(healthOf)) figures.healthFindings++;
      else figures.misdelivered++;
    }
    figures.expected += expected.size;
    figures.stored += stored.size;
    for (const id of expected) if (!stored.has(id)) figures.lost++;

    const idsByAction = new Map<string, number>();
    for (const [id, f] of stored) {
      const action = actionIdOf(f, id);
      idsByAction.set(action, (idsByAction.get(action) ?? 0) + 1);
      if (!expected.has(id)) figures.unexpected++;
    }
    for (const n of idsByAction.values()) if (n > 1) figures.duplicateIds += n - 1;

    const sent = new Set<string>();
    const entries = stats.findingEntries[hubKey] ?? {};
    const entriesBefore = before?.findingEntries[hubKey] ?? {};
    for (const [id, counts] of Object.entries(entries)) {
      if (healthTenantOf(id) !== undefined) continue;
      const sentNow = counts.sent - (entriesBefore[id]?.sent ?? 0);
      if (sentNow <= 0) continue;
      sent.add(id);
      figures.entriesSent += sentNow;
      figures.extra += counts.afterAccepted - (entriesBefore[id]?.afterAccepted ?? 0);
    }
    figures.distinctIdsSent += sent.size;

    // Only ids that are no qualifying action of this hub can be another tenant's: check those alone.
    const suspects = [...new Set([...stored.keys(), ...sent])].filter((id) => !expected.has(id));
    if (suspects.length > 0) {
      const owned = new Set<string>();
      for (const t of owners) {
        for (const agentId of t.agents) {
          for (const a of h.sim.store.list(t.vaikoraKey, agentId)) {
            const parsed = parseAction(a.raw);
            if (parsed.ok) owned.add(parsed.action.id);
            const rawId = (a.raw as { id?: unknown } | null)?.id;
            if (typeof rawId === 'string' || typeof rawId === 'number') owned.add(String(rawId).trim());
          }
        }
      }
      for (const id of suspects) if (!owned.has(actionIdOf(stored.get(id), id))) figures.misdelivered++;
    }

    const hub = stats.securityHub[hubKey];
    const hubBefore = before?.securityHub[hubKey];
    figures.reimports += (hub?.reimports ?? 0) - (hubBefore?.reimports ?? 0);
    figures.findingsReceived += (hub?.findingsReceived ?? 0) - (hubBefore?.findingsReceived ?? 0);
  }
  figures.entriesPerId =
    figures.distinctIdsSent === 0 ? 0 : round2(figures.entriesSent / figures.distinctIdsSent);
  return figures;
}

/** A cursor as stored in DynamoDB (the fields the checks read). */
interface StoredCursor {
  readonly pk: string;
  readonly sk: string;
  readonly positionMs: number;
  readonly idsAtPosition: readonly string[];
}

interface CursorWatchResult {
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
 * regressions (positionMs lower than seen before), and, every `deliveryEveryMs`, cursors that have put
 * an action behind them for good (older than the position minus the workers' overlap, ADR 0004) while
 * its finding is not in the tenant's Security Hub (the cursor is read first, so a finding imported
 * after the read only helps).
 */
export function watchCursors(
  h: Harness,
  tenants: readonly SeededTenant[],
  options: { everyMs?: number; deliveryEveryMs?: number; overlapMs?: number } = {},
): CursorWatch {
  const everyMs = options.everyMs ?? 100;
  const overlapMs = options.overlapMs ?? 10 * 60_000;
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

  /**
   * Every stream's cursor as the store reads it (ADR 0126): cursor items, and the inline cursors of the
   * lease items, merged by the further position.
   */
  const scan = async (client: DynamoDBClient): Promise<Array<StoredCursor & { version: number }>> => {
    const byStream = new Map<string, StoredCursor & { version: number }>();
    const keep = (c: StoredCursor & { version: number }) => {
      const key = `${c.pk}|${c.sk}`;
      const other = byStream.get(key);
      if (other === undefined || other.positionMs < c.positionMs) byStream.set(key, c);
    };
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await client.send(
        new ScanCommand({
          TableName: h.tableName,
          ConsistentRead: true,
          FilterExpression: 'begins_with(sk, :c) OR sk = :lease',
          ExpressionAttributeValues: { ':c': { S: 'CURSOR#' }, ':lease': { S: 'LEASE' } },
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        }),
      );
      for (const raw of page.Items ?? []) {
        const item = unmarshall(raw);
        if (item.sk === 'LEASE') {
          for (const [streamId, entry] of Object.entries(
            (item.c ?? {}) as Record<string, { p: number; v: number }>,
          )) {
            keep({
              pk: String(item.pk),
              sk: `CURSOR#${streamId}`,
              positionMs: Number(entry.p),
              idsAtPosition: [],
              version: Number(entry.v ?? 0),
            });
          }
          continue;
        }
        keep({
          pk: String(item.pk),
          sk: String(item.sk),
          positionMs: Number(item.positionMs),
          idsAtPosition: Array.isArray(item.idsAtPosition) ? item.idsAtPosition.map(String) : [],
          version: Number(item.version ?? 0),
        });
      }
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return [...byStream.values()];
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
      for (const a of h.qualifyingActions(tenant, agentId)) {
        const passed = a.timestampMs < c.positionMs - overlapMs;
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
