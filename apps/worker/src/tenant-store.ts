import { DEFAULT_THRESHOLDS, type PartnerProduct, partitionOfRegion, thresholdsSchema } from '@vsh/core';
import {
  awsDestinations,
  type Database,
  keepRejectedRecords,
  newId,
  type RejectionToKeep,
  rejectionScope,
  rowsOf,
  runs,
  streams,
  tenantSchedules,
  tenants,
} from '@vsh/db';
import { parseRoleArn } from '@vsh/role-contract';
import { Secret, type SecretBox } from '@vsh/secrets';
import { type BaseUrlPolicy, checkBaseUrl } from '@vsh/vaikora';
import { and, eq, type SQL, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { DestinationHealth } from './health.ts';
import type {
  DestinationConfig,
  KeptRejections,
  RecordedRejection,
  RunSummary,
  StateSnapshot,
  TenantConfig,
  TenantStore,
} from './ports.ts';

export interface DbTenantStoreOptions {
  readonly db: Database;
  readonly secrets: SecretBox;
  readonly logger: Logger;
  /**
   * The Vaikora base URLs a run may call: the API's policy, checked again here so a URL stored before a
   * policy change (or written around the API) is never fetched. Default: production (https to
   * api.vaikora.com only).
   */
  readonly baseUrlPolicy?: BaseUrlPolicy | undefined;
  /**
   * Data443's partner product (ADR 0121) when this deployment offers partner-product mode; a
   * destination in that mode is not run without it (and the API does not create one).
   */
  readonly partnerProduct?: PartnerProduct | undefined;
}

export const PRODUCTION_BASE_URL_POLICY: BaseUrlPolicy = {
  mode: 'production',
  allowedHosts: ['api.vaikora.com'],
};

/** A run's counts as both run statements take them (their placeholders). */
function countsOf(summary: RunSummary) {
  return {
    actionsRead: summary.actionsRead,
    findingsMapped: summary.findingsMapped,
    findingsImported: summary.findingsImported,
    actionsSkipped: summary.actionsSkipped,
    recordsRejected: summary.recordsRejected,
    throttles: summary.throttles,
    lagSeconds: summary.lagSeconds,
    recentFindings: [...summary.recentFindings],
    destinationStats: summary.destinationStats,
  };
}

/** A `StateSnapshot` as stored (jsonb, ADR 0137): one that does not parse is not used. */
const stateSnapshotSchema = z.object({
  readAtMs: z.number().finite(),
  cursors: z.record(
    z.string(),
    z
      .object({
        positionMs: z.number().finite(),
        updatedAtMs: z.number().finite(),
        windowDigest: z.string().max(256).optional(),
      })
      .nullable(),
  ),
});

/** The stored snapshot, or undefined when there is none or it does not parse (the run then reads the store). */
function storedSnapshot(stored: unknown): StateSnapshot | undefined {
  if (stored === null || stored === undefined) return undefined;
  const parsed = stateSnapshotSchema.safeParse(stored);
  return parsed.success ? parsed.data : undefined;
}

/** The worker's view of the control-plane database, on drizzle (PostgreSQL or PGlite). */
export function createDbTenantStore({
  db,
  secrets,
  logger,
  baseUrlPolicy = PRODUCTION_BASE_URL_POLICY,
  partnerProduct,
}: DbTenantStoreOptions): TenantStore & TenantScheduler {
  // The tenant with its settings, destinations and enabled streams in one statement (a relational query:
  // drizzle aggregates the children in lateral subqueries), prepared once: a run is 1 round trip here,
  // not 4 (issue 16).
  const tenantQuery = db.query.tenants
    .findFirst({
      columns: { id: true },
      where: and(eq(tenants.id, sql.placeholder('tenantId')), eq(tenants.state, 'active')),
      with: {
        vaikoraSettings: true,
        destinations: true,
        streams: { where: eq(streams.enabled, true) },
        schedule: { columns: { quietState: true, leaseRuns: true } },
      },
    })
    .prepare('worker_load_tenant');

  // A run's two writes, prepared once like the tenant query (issue 16: building them with the query
  // builder on every run cost more CPU than sending them).
  const placeholder = sql.placeholder;
  // An update's placeholder, encoded by its column as a value would be (a Date, a jsonb object).
  // drizzle's types admit placeholders in an insert's values but not in an update's set, though its
  // runtime treats both alike: mapUpdateSet wraps a placeholder in a Param of the column, and
  // fillPlaceholders encodes it with that column's codec. tenant-store.int.test.ts reads back every field.
  const setTo = (name: string): SQL => placeholder(name) as unknown as SQL;
  // The caller holds the tenant's lease, so no other run of it is alive: a run still marked running was
  // cut short (its worker was killed or ran out of memory) and is closed as failed. Or it released its
  // lease with its last cursor write (ADR 0140) and is recording its end: its finishRun then writes how
  // it ended over this. One statement (a data-modifying CTE): the insert does not see the row it adds to
  // the update.
  const interrupted = db.$with('interrupted').as(
    db
      .update(runs)
      .set({
        status: 'failed',
        finishedAt: setTo('startedAt'),
        errorCode: 'RUN_INTERRUPTED',
        errorMessage: 'the worker running it stopped before the run finished; this run took over',
      })
      .where(and(eq(runs.tenantId, placeholder('tenantId')), eq(runs.status, 'running')))
      .returning({ id: runs.id }),
  );
  // A run under the lease may write anything: the state a quiet run kept is no longer the tenant's
  // (ADR 0137). Cleared as the run starts, before its first write, and the run counted: a quiet run
  // that loaded the tenant before it keeps no state when it ends (a count, not the runs' clocks).
  const leaseRunStarted = db.$with('lease_run_started').as(
    db
      .update(tenantSchedules)
      .set({ quietState: sql`null`, leaseRuns: sql`${tenantSchedules.leaseRuns} + 1` })
      .where(eq(tenantSchedules.tenantId, placeholder('tenantId')))
      .returning({ tenantId: tenantSchedules.tenantId }),
  );
  const startRunQuery = db
    .with(interrupted, leaseRunStarted)
    .insert(runs)
    .values({
      id: placeholder('id'),
      tenantId: placeholder('tenantId'),
      workerId: placeholder('workerId'),
      startedAt: placeholder('startedAt'),
      status: 'running',
    })
    .prepare('worker_start_run');
  // The run's counts and the tenant's next due time in one statement (a data-modifying CTE).
  const finished = db.$with('finished').as(
    db
      .update(runs)
      .set({
        status: setTo('status'),
        finishedAt: setTo('finishedAt'),
        actionsRead: setTo('actionsRead'),
        findingsMapped: setTo('findingsMapped'),
        findingsImported: setTo('findingsImported'),
        actionsSkipped: setTo('actionsSkipped'),
        recordsRejected: setTo('recordsRejected'),
        throttles: setTo('throttles'),
        lagSeconds: setTo('lagSeconds'),
        errorCode: setTo('errorCode'),
        errorMessage: setTo('errorMessage'),
        recentFindings: setTo('recentFindings'),
        destinationStats: setTo('destinationStats'),
      })
      .where(eq(runs.id, placeholder('runId')))
      .returning({ id: runs.id }),
  );
  // A "run now" asked for after this run started is kept (due at once); one asked before is served.
  const requestedSince = sql`${tenantSchedules.runRequestedAt} > ${placeholder('runStartedAt')}::timestamptz`;
  const nextDue = {
    nextRunAt: sql`case when ${requestedSince} then now() else ${placeholder('nextRunAt')}::timestamptz end`,
    runRequestedAt: sql`case when ${requestedSince} then ${tenantSchedules.runRequestedAt} else null end`,
  };
  const finishRunQuery = db
    .with(finished)
    .update(tenantSchedules)
    .set({
      ...nextDue,
      lastRunStartedAt: setTo('lastRunStartedAt'),
      lastRunFinishedAt: setTo('lastRunFinishedAt'),
      lastRunQuiet: setTo('lastRunQuiet'),
      quietState: sql`${placeholder('quietState')}::jsonb`,
    })
    .where(eq(tenantSchedules.tenantId, placeholder('tenantId')))
    .prepare('worker_finish_run');
  // A quiet run (ADR 0136) holds no lease, so it cannot tell a run alive elsewhere from one cut short
  // by its status: only a run started longer ago than any run lives is closed as interrupted.
  const quietInterrupted = db.$with('quiet_interrupted').as(
    db
      .update(runs)
      .set({
        status: 'failed',
        finishedAt: setTo('startedAt'),
        errorCode: 'RUN_INTERRUPTED',
        errorMessage: 'the worker running it stopped before the run finished; a later run took over',
      })
      .where(
        and(
          eq(runs.tenantId, placeholder('tenantId')),
          eq(runs.status, 'running'),
          sql`${runs.startedAt} < ${placeholder('interruptedBefore')}::timestamptz`,
        ),
      )
      .returning({ id: runs.id }),
  );
  // Its row, already finished: nothing between its start and its end was written anywhere.
  const quietRow = db.$with('quiet_row').as(
    db
      .insert(runs)
      .values({
        id: placeholder('runId'),
        tenantId: placeholder('tenantId'),
        workerId: placeholder('workerId'),
        startedAt: placeholder('startedAt'),
        status: 'ok',
        quiet: true,
        finishedAt: placeholder('finishedAt'),
        actionsRead: placeholder('actionsRead'),
        findingsMapped: placeholder('findingsMapped'),
        findingsImported: placeholder('findingsImported'),
        actionsSkipped: placeholder('actionsSkipped'),
        recordsRejected: placeholder('recordsRejected'),
        throttles: placeholder('throttles'),
        lagSeconds: placeholder('lagSeconds'),
        recentFindings: placeholder('recentFindings'),
        destinationStats: placeholder('destinationStats'),
      })
      .returning({ id: runs.id }),
  );
  const recordQuietRunQuery = db
    .with(quietInterrupted, quietRow)
    .update(tenantSchedules)
    .set({
      ...nextDue,
      lastRunStartedAt: setTo('startedAt'),
      lastRunFinishedAt: setTo('finishedAt'),
      lastRunQuiet: true,
      quietState: sql`${placeholder('quietState')}::jsonb`,
    })
    // A run of the tenant under the lease that started since this one loaded the tenant (ADR 0137: the
    // count, not the runs' clocks), or was recorded meanwhile having started after it (a quiet run may
    // overlap one), is what the schedule says, not this one: it may have written since.
    .where(
      and(
        eq(tenantSchedules.tenantId, placeholder('tenantId')),
        sql`${tenantSchedules.leaseRuns} = ${placeholder('leaseRunsStarted')}::integer`,
        sql`(${tenantSchedules.lastRunStartedAt} is null or ${tenantSchedules.lastRunStartedAt} <= ${placeholder('runStartedAt')}::timestamptz)`,
      ),
    )
    .prepare('worker_record_quiet_run');

  return {
    async loadTenant(tenantId) {
      const tenant = await tenantQuery.execute({ tenantId });
      if (tenant === undefined) return null;
      const settings = tenant.vaikoraSettings ?? undefined;
      const destinationRows = tenant.destinations;
      const streamRows = tenant.streams;

      let vaikora: TenantConfig['vaikora'] = null;
      let vaikoraProblem: TenantConfig['vaikoraProblem'];
      const url = settings === undefined ? null : checkBaseUrl(settings.baseUrl, baseUrlPolicy);
      if (url !== null && !url.ok) {
        vaikoraProblem = {
          code: 'VAIKORA_URL_NOT_ALLOWED',
          message: `the stored Vaikora base URL ${url.reason}; set it again`,
        };
      } else if (settings !== undefined) {
        try {
          const apiKey = new Secret(await secrets.open(settings.apiKeyCiphertext, { tenantId }));
          const thresholds = thresholdsSchema.safeParse(settings.thresholds);
          if (!thresholds.success)
            logger.warn({ tenantId }, 'stored thresholds are invalid; using the defaults');
          vaikora = {
            baseUrl: settings.baseUrl,
            apiKey,
            timeFilterParam: settings.timeFilterParam,
            thresholds: thresholds.success ? thresholds.data : DEFAULT_THRESHOLDS,
            pollIntervalSeconds: settings.pollIntervalSeconds,
          };
        } catch (err) {
          vaikoraProblem = {
            code: 'VAIKORA_KEY_UNREADABLE',
            message: `the stored Vaikora key could not be opened (${err instanceof Error ? err.name : 'error'}); set it again`,
          };
        }
      }
      const destinations: DestinationConfig[] = [];
      for (const d of destinationRows) {
        let route: Pick<DestinationConfig, 'partition' | 'roleArn' | 'product' | 'securityLake'>;
        if (d.delivery === 'partner') {
          // Partner-product mode (ADR 0121): no role; Data443's product in the account's partition.
          const partition = partitionOfRegion(d.regions[0] ?? '');
          if (partnerProduct === undefined || partition === undefined) {
            logger.warn(
              { tenantId, destinationId: d.id },
              'partner-product destination not run: this deployment offers no partner product',
            );
            continue;
          }
          route = { partition, roleArn: '', product: partnerProduct };
        } else {
          const arn = d.roleArn === null ? null : parseRoleArn(d.roleArn);
          if (arn === null || d.roleArn === null) continue;
          route = { partition: arn.partition, roleArn: d.roleArn };
          if (d.delivery === 'security_lake') {
            // Security Lake (ADR 0120): written through the same role into the lake's custom source.
            if (d.securityLakeBucket === null || d.securityLakeSource === null) {
              logger.warn(
                { tenantId, destinationId: d.id },
                'Security Lake destination not run: it names no bucket or source',
              );
              continue;
            }
            route = {
              ...route,
              securityLake: { bucket: d.securityLakeBucket, sourceName: d.securityLakeSource },
            };
          }
        }
        destinations.push({
          id: d.id,
          accountId: d.accountId,
          ...route,
          externalId: d.externalId,
          state: d.state,
          heartbeat: d.heartbeatEnabled,
          health: {
            state: d.state,
            consecutiveFailures: d.consecutiveFailures,
            firstFailureAtMs: d.firstFailureAt?.getTime() ?? null,
          },
        });
      }
      return {
        tenantId,
        vaikora,
        vaikoraProblem,
        destinations,
        streams: streamRows.map((s) => ({
          id: s.id,
          destinationId: s.destinationId,
          agentId: s.agentId,
          region: s.region,
        })),
        stateSnapshot: storedSnapshot(tenant.schedule?.quietState),
        leaseRunsStarted: tenant.schedule?.leaseRuns,
      };
    },

    async startRun(tenantId, workerId, startedAt) {
      const id = newId('run', startedAt);
      await startRunQuery.execute({ id, tenantId, workerId, startedAt });
      return id;
    },

    async finishRun(runId, summary: RunSummary, finishedAt, schedule) {
      const { tenantId, nextRunAt, runStartedAt } = schedule;
      await finishRunQuery.execute({
        runId,
        status: summary.status,
        finishedAt,
        ...countsOf(summary),
        errorCode: summary.errorCode,
        errorMessage: summary.errorMessage,
        tenantId,
        nextRunAt: nextRunAt.toISOString(),
        runStartedAt: runStartedAt.toISOString(),
        lastRunStartedAt: runStartedAt,
        lastRunFinishedAt: new Date(),
        lastRunQuiet: schedule.quiet,
        quietState:
          schedule.quiet && schedule.snapshot !== undefined ? JSON.stringify(schedule.snapshot) : null,
      });
    },

    async recordQuietRun(tenantId, workerId, summary, startedAt, finishedAt, schedule) {
      const runId = newId('run', startedAt);
      await recordQuietRunQuery.execute({
        runId,
        tenantId,
        workerId,
        startedAt,
        finishedAt,
        ...countsOf(summary),
        nextRunAt: schedule.nextRunAt.toISOString(),
        runStartedAt: schedule.runStartedAt.toISOString(),
        interruptedBefore: schedule.interruptedBefore.toISOString(),
        quietState: schedule.snapshot === undefined ? null : JSON.stringify(schedule.snapshot),
        // Unknown: never equal, so nothing is kept.
        leaseRunsStarted: schedule.leaseRunsStarted ?? -1,
      });
      return runId;
    },

    async recordRejections(
      tenantId,
      runId,
      rejections: readonly RecordedRejection[],
    ): Promise<KeptRejections> {
      return keepRejectedRecords(
        db,
        { tenantId, runId, rejections: rejections.map(rejectionToKeep) },
        logger,
      );
    },

    async saveDestinationHealth(destinationId, health: DestinationHealth, lastError) {
      await db
        .update(awsDestinations)
        .set({
          state: health.state,
          consecutiveFailures: health.consecutiveFailures,
          firstFailureAt: health.firstFailureAtMs === null ? null : new Date(health.firstFailureAtMs),
          lastError,
        })
        .where(eq(awsDestinations.id, destinationId));
    },

    async claimDueTenants(now, limit, holdMs) {
      const nowIso = now.toISOString();
      const until = new Date(now.getTime() + holdMs).toISOString();
      // One statement: pick due, active tenants oldest-due first, skip rows another dispatcher holds,
      // and push them out by `holdMs` so they are not handed out twice while their run is queued.
      const result = await db.execute(sql`
        update ${tenantSchedules} set next_run_at = ${until}::timestamptz
        where ${tenantSchedules.tenantId} in (
          select s.tenant_id from ${tenantSchedules} s
          join ${tenants} t on t.id = s.tenant_id and t.state = 'active'
          where s.next_run_at <= ${nowIso}::timestamptz
          -- "Run now" first, then the longest overdue.
          order by (s.run_requested_at is null), s.next_run_at
          limit ${limit}
          for update of s skip locked
        )
        returning ${tenantSchedules.tenantId} as tenant_id, ${tenantSchedules.lastRunQuiet} as last_run_quiet`);
      return rowsOf<{ tenant_id: string; last_run_quiet: boolean }>(result).map((r) => ({
        tenantId: r.tenant_id,
        lastRunQuiet: r.last_run_quiet === true,
      }));
    },
  };
}

/**
 * A recorded rejection as the rejected-records table keeps it: once per scope (its destination, or its agent
 * when it was rejected while reading) and fingerprint (ADR 0033); the core's `map` stage is stored as `validate`.
 */
export function rejectionToKeep({ rejection, destinationId, agentId }: RecordedRejection): RejectionToKeep {
  return {
    // agentId may be missing at run time from a caller built before it was added to the port.
    scope: rejectionScope(destinationId, agentId ?? null),
    destinationId,
    actionId: rejection.actionId,
    stage: rejection.stage === 'map' ? 'validate' : rejection.stage,
    code: rejection.code,
    reason: rejection.reason,
    raw: rejection.raw,
    fingerprint: rejection.fingerprint,
  };
}

/** A tenant handed out to run, with what its run should try first. */
export interface DueTenant {
  readonly tenantId: string;
  /** Its last run was quiet (ADR 0136): the run first tries without the lease. */
  readonly lastRunQuiet: boolean;
}

/** Hands out due tenants: one index range scan, cheap at 10,000 tenants. */
export interface TenantScheduler {
  /** Claims up to `limit` due tenants (pushing them `holdMs` into the future until their run reschedules them). */
  claimDueTenants(now: Date, limit: number, holdMs: number): Promise<DueTenant[]>;
}
