import {
  buildHealthFinding,
  buildHeartbeatFinding,
  errorInfo,
  HEALTH_CONDITIONS,
  HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_KIND,
  type HealthCondition,
  type HealthFinding,
  prepareHealthFinding,
} from '@vsh/core';
import type { Logger } from 'pino';
import {
  type DestinationConfig,
  destinationOf,
  type FindingImporter,
  type HealthStateStore,
  type Lease,
  type OpenHealthCondition,
} from './ports.ts';

// Connector health findings (ADR 0116): at the end of a run, each condition that opened is imported as
// an ACTIVE finding into the hub of every destination of the tenant it concerns, and each that cleared
// as ARCHIVED under the same Id. What is open is kept in the state table, so a condition that holds
// run after run is imported once, not on every run. A destination with the heartbeat on (ADR 0118) gets
// its heartbeat finding again once it is `HEARTBEAT_INTERVAL_MS` old, archived when the heartbeat is off.

/** One hub of the tenant's own: a destination in one of its stream regions, and its importer. */
export interface HealthTarget {
  readonly destination: DestinationConfig;
  readonly region: string;
  readonly importer: FindingImporter;
}

/** What a run could tell about the tenant's conditions. */
export interface HealthObservation {
  /** Conditions that hold, by destination id, with what was seen (shown in the finding). */
  readonly open: ReadonlyMap<string, ReadonlyMap<HealthCondition, string>>;
  /** Conditions this run could judge, by destination id: one judged and not open has cleared. */
  readonly judged: ReadonlyMap<string, ReadonlySet<HealthCondition>>;
}

export interface HealthReconcileInput {
  readonly tenantId: string;
  readonly lease: Lease;
  readonly nowMs: number;
  readonly targets: readonly HealthTarget[];
  /** Every destination the tenant still has: open conditions of any other are forgotten. */
  readonly destinationIds: ReadonlySet<string>;
  readonly observation: HealthObservation;
  /** How long a condition must hold before its finding is imported (absent: at once). */
  readonly thresholdsMs?: Partial<Record<HealthCondition, number>> | undefined;
  /** Destinations whose heartbeat is on (ADR 0118); absent: none. */
  readonly heartbeat?: ReadonlySet<string> | undefined;
  /** How old the heartbeat finding must be before it is imported again (default `HEARTBEAT_INTERVAL_MS`). */
  readonly heartbeatEveryMs?: number | undefined;
  readonly store: HealthStateStore;
  /** The open conditions as the run read them with its cursors; absent: read from `store` here. */
  readonly stored?: readonly OpenHealthCondition[] | undefined;
  readonly log: Logger;
}

/**
 * What reconciling did: findings imported as ACTIVE or ARCHIVED, heartbeats imported, and imports
 * that failed (retried next run).
 */
export interface HealthReport {
  opened: number;
  archived: number;
  heartbeats: number;
  failed: number;
}

/**
 * True when `reconcileHealthFindings` will import, read and store nothing (ADR 0140): the open
 * conditions were read with the cursors and none is open, none is observed open now, and no destination
 * has the heartbeat on. Then no stored entry can clear, be forgotten or be due, and nothing changes.
 */
export function reconcileIsIdle(
  input: Pick<HealthReconcileInput, 'stored' | 'observation' | 'heartbeat'>,
): boolean {
  return (
    input.stored !== undefined &&
    input.stored.length === 0 &&
    (input.heartbeat === undefined || input.heartbeat.size === 0) &&
    [...input.observation.open.values()].every((open) => open.size === 0)
  );
}

const isCondition = (value: string): value is HealthCondition =>
  (HEALTH_CONDITIONS as readonly string[]).includes(value);

/**
 * Imports the health findings whose condition opened (and held for its threshold) or cleared since
 * the stored state, then stores the new state. Never throws: a failed import is tried again by the
 * next run, and a failed read skips health findings for this run.
 */
export async function reconcileHealthFindings(input: HealthReconcileInput): Promise<HealthReport> {
  const { tenantId, log, observation } = input;
  const report: HealthReport = { opened: 0, archived: 0, heartbeats: 0, failed: 0 };
  let stored: readonly OpenHealthCondition[];
  try {
    stored = input.stored ?? (await input.store.getOpenHealth(tenantId));
  } catch (err) {
    log.warn({ err: errorInfo(err) }, 'health state not read; no health finding this run');
    return report;
  }
  const next = stored.filter(
    (c) =>
      input.destinationIds.has(c.destinationId) &&
      (isCondition(c.condition) || c.condition === HEARTBEAT_KIND),
  );
  let changed = next.length !== stored.length;
  const nowIso = new Date(input.nowMs).toISOString();

  /** Imports one finding (a condition's, or the heartbeat's); true when Security Hub took it. */
  const send = async (
    target: HealthTarget,
    condition: HealthCondition | typeof HEARTBEAT_KIND,
    state: 'open' | 'cleared',
    openedAtMs: number,
    facts: string | undefined,
  ): Promise<boolean> => {
    const { destination, region } = target;
    const common = {
      tenantId,
      destinationId: destination.id,
      destination: destinationOf(destination, region),
      state,
      openedAt: new Date(openedAtMs).toISOString(),
      now: nowIso,
    };
    const finding: HealthFinding =
      condition === HEARTBEAT_KIND
        ? buildHeartbeatFinding(common)
        : buildHealthFinding({ ...common, condition, facts });
    const where = { destinationId: destination.id, region, condition, findingId: finding.Id };
    const prepared = prepareHealthFinding(finding);
    if (!prepared.ok) {
      // A bug: the finding is built from constants and checked ids. Logged, never sent.
      log.error({ ...where, reason: prepared.rejection.reason }, 'health finding is invalid');
      return false;
    }
    try {
      const outcome = await target.importer.importFindings([prepared.value]);
      if (outcome.imported.includes(finding.Id)) return true;
      log.warn({ ...where, reason: outcome.rejected[0]?.reason }, 'health finding not imported');
    } catch (err) {
      log.warn({ ...where, err: errorInfo(err) }, 'health finding not imported');
    }
    return false;
  };

  const everyMs = input.heartbeatEveryMs ?? HEARTBEAT_INTERVAL_MS;
  /** The heartbeat of one hub: imported when on and due, archived once when turned off; true when `next` changed. */
  const heartbeat = async (target: HealthTarget): Promise<boolean> => {
    const { destination, region } = target;
    const index = next.findIndex(
      (c) => c.destinationId === destination.id && c.region === region && c.condition === HEARTBEAT_KIND,
    );
    const entry = index === -1 ? undefined : next[index];
    const where = { destinationId: destination.id, region, condition: HEARTBEAT_KIND };
    if (input.heartbeat?.has(destination.id) !== true) {
      if (entry === undefined) return false;
      // Turned off: one ARCHIVED import, so a SOC alerting on a stale heartbeat sees it was meant.
      if (!(await send(target, HEARTBEAT_KIND, 'cleared', entry.openedAtMs, undefined))) {
        report.failed++;
        return false;
      }
      log.info(where, 'heartbeat finding archived');
      next.splice(index, 1);
      return true;
    }
    // Each import is billed: at most one per `everyMs` per hub, however often the tenant runs.
    const sentAtMs = entry?.sentAtMs;
    if (sentAtMs !== undefined && input.nowMs - sentAtMs < everyMs) return false;
    const openedAtMs = entry?.openedAtMs ?? input.nowMs;
    if (!(await send(target, HEARTBEAT_KIND, 'open', openedAtMs, undefined))) {
      report.failed++;
      return false;
    }
    report.heartbeats++;
    log.debug(where, 'heartbeat finding imported');
    const kept = { ...where, openedAtMs, imported: true, sentAtMs: input.nowMs };
    if (entry === undefined) next.push(kept);
    else next[index] = kept;
    return true;
  };

  for (const target of input.targets) {
    const { destination, region } = target;
    // A Security Lake destination (ADR 0120) has no Security Hub to hold a health finding: its importer
    // writes OCSF Parquet, and a health finding (ASFF, no Vaikora action behind it) has no OCSF form. Its
    // conditions still show in the destination's status; nothing is imported or kept for them here.
    if (destination.securityLake !== undefined) continue;
    const openHere = observation.open.get(destination.id);
    const judgedHere = observation.judged.get(destination.id);
    for (const condition of HEALTH_CONDITIONS) {
      const index = next.findIndex(
        (c) => c.destinationId === destination.id && c.region === region && c.condition === condition,
      );
      const entry = index === -1 ? undefined : next[index];
      const facts = openHere?.get(condition);
      const where = { destinationId: destination.id, region, condition };
      if (facts !== undefined) {
        if (entry?.imported === true) continue;
        // Seen, not yet in Security Hub: imported once it has held for its threshold (at once for most).
        const openedAtMs = entry?.openedAtMs ?? input.nowMs;
        const due = input.nowMs - openedAtMs >= (input.thresholdsMs?.[condition] ?? 0);
        const imported = due && (await send(target, condition, 'open', openedAtMs, facts));
        const kept = { ...where, openedAtMs, imported };
        if (entry === undefined) next.push(kept);
        else next[index] = kept;
        changed ||= entry === undefined || imported;
        if (imported) {
          report.opened++;
          log.info(where, 'health finding opened');
        } else if (due) {
          report.failed++;
        }
        continue;
      }
      if (entry === undefined || judgedHere?.has(condition) !== true) continue;
      // Cleared: archive what Security Hub holds; a condition that never reached it is just forgotten.
      if (entry.imported) {
        if (!(await send(target, condition, 'cleared', entry.openedAtMs, undefined))) {
          report.failed++;
          continue;
        }
        report.archived++;
        log.info(where, 'health finding archived');
      }
      next.splice(index, 1);
      changed = true;
    }
    changed = (await heartbeat(target)) || changed;
  }
  if (!changed) return report;
  try {
    await input.store.saveOpenHealth(input.lease, next);
  } catch (err) {
    // The findings are in Security Hub; the next run imports the same Ids again (an update, not a copy).
    log.warn({ err: errorInfo(err) }, 'health state not saved');
  }
  return report;
}
