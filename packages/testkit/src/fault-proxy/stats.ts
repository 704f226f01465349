/**
 * What the fault proxy counts: per operation (requests and the fault each met), per Security Hub
 * account and region (imports, distinct ids, re-imports), and per finding id (entries sent, and sent
 * again after Security Hub had accepted the id). Pure.
 */
import { isRecord, type RequestInfo } from './wire.ts';

export interface OperationStats {
  requests: number;
  forwarded: number;
  answeredLocally: number;
  throttled: number;
  injected5xx: number;
  timeouts: number;
  resets: number;
  delayed: number;
  failedFindings: number;
  upstreamErrors: number;
  /** Entries of the SQS batch requests (`…Batch`) that passed every fault rule and reached SQS. */
  batchEntries: number;
}

export interface SecurityHubImportStats {
  importRequests: number;
  findingsReceived: number;
  /** Distinct finding ids that were imported successfully. */
  distinctIds: number;
  /** Successful imports of an id that had been imported before (updates, retries, duplicates). */
  reimports: number;
  failedFindings: number;
}

/** The BatchImportFindings entries that carried one finding id. */
export interface FindingEntryStats {
  /**
   * Entries carrying this id, counted as each request reaches the proxy: whatever happened to it next
   * (accepted, failed per finding, throttled, 5xx, dropped) and whether or not it was a retry.
   */
  sent: number;
  /** Of those, entries sent after Security Hub had already accepted this id once (true re-sends). */
  afterAccepted: number;
}

export interface FaultProxyStats {
  /** service → operation → counters. */
  operations: Record<string, Record<string, OperationStats>>;
  /** `account/region` → BatchImportFindings counters. */
  securityHub: Record<string, SecurityHubImportStats>;
  /** `account/region` → finding id → BatchImportFindings entries carrying it. */
  findingEntries: Record<string, Record<string, FindingEntryStats>>;
}

/** Counters of an operation never seen. */
export function emptyOperationStats(): OperationStats {
  return {
    requests: 0,
    forwarded: 0,
    answeredLocally: 0,
    throttled: 0,
    injected5xx: 0,
    timeouts: 0,
    resets: 0,
    delayed: 0,
    failedFindings: 0,
    upstreamErrors: 0,
    batchEntries: 0,
  };
}

/** The counters; `reset` clears them but keeps which ids Security Hub accepted (that is its state). */
export class StatsRecorder {
  private readonly operations = new Map<string, OperationStats>();
  private readonly imports = new Map<string, SecurityHubImportStats & { ids: Set<string> }>();
  private readonly entries = new Map<string, Map<string, FindingEntryStats>>();
  /** `account/region` → ids Security Hub accepted at least once. */
  private readonly accepted = new Map<string, Set<string>>();

  /** The live counters of a request's operation, for the server to increment. */
  forRequest(info: RequestInfo): OperationStats {
    const key = `${info.service}\u0000${info.operation}`;
    let stats = this.operations.get(key);
    if (stats === undefined) {
      stats = emptyOperationStats();
      this.operations.set(key, stats);
    }
    return stats;
  }

  /** Counts the entries of a BatchImportFindings request as it arrives, before any fault is rolled. */
  countEntries(hubKey: string, findings: unknown): void {
    if (!Array.isArray(findings)) return;
    let byId = this.entries.get(hubKey);
    if (byId === undefined) {
      byId = new Map();
      this.entries.set(hubKey, byId);
    }
    const accepted = this.accepted.get(hubKey);
    for (const finding of findings) {
      const id = isRecord(finding) && typeof finding.Id === 'string' ? finding.Id : undefined;
      if (id === undefined) continue;
      let counts = byId.get(id);
      if (counts === undefined) {
        counts = { sent: 0, afterAccepted: 0 };
        byId.set(id, counts);
      }
      counts.sent++;
      if (accepted?.has(id)) counts.afterAccepted++;
    }
  }

  /** Records one answered BatchImportFindings request: how many came, failed, and which ids succeeded. */
  recordImport(hubKey: string, received: number, failed: number, succeeded: readonly string[]): void {
    let counters = this.imports.get(hubKey);
    if (counters === undefined) {
      counters = {
        importRequests: 0,
        findingsReceived: 0,
        distinctIds: 0,
        reimports: 0,
        failedFindings: 0,
        ids: new Set(),
      };
      this.imports.set(hubKey, counters);
    }
    counters.importRequests++;
    counters.findingsReceived += received;
    counters.failedFindings += failed;
    let accepted = this.accepted.get(hubKey);
    if (accepted === undefined) {
      accepted = new Set();
      this.accepted.set(hubKey, accepted);
    }
    for (const id of succeeded) {
      accepted.add(id);
      if (counters.ids.has(id)) counters.reimports++;
      else counters.ids.add(id);
    }
    counters.distinctIds = counters.ids.size;
  }

  /** A copy of every counter. */
  snapshot(): FaultProxyStats {
    const operations: FaultProxyStats['operations'] = {};
    for (const [key, stats] of this.operations) {
      const [service = '', operation = ''] = key.split('\u0000');
      operations[service] ??= {};
      operations[service][operation] = { ...stats };
    }
    const securityHub: FaultProxyStats['securityHub'] = {};
    for (const [key, { ids: _ids, ...stats }] of this.imports) securityHub[key] = { ...stats };
    const findingEntries: FaultProxyStats['findingEntries'] = {};
    for (const [key, byId] of this.entries) {
      const copy: Record<string, FindingEntryStats> = {};
      for (const [id, counts] of byId) copy[id] = { ...counts };
      findingEntries[key] = copy;
    }
    return { operations, securityHub, findingEntries };
  }

  /** A copy of one operation's counters (zeros when it was never seen). */
  operation(service: string, operation: string): OperationStats {
    return { ...(this.operations.get(`${service}\u0000${operation}`) ?? emptyOperationStats()) };
  }

  reset(): void {
    this.operations.clear();
    this.imports.clear();
    this.entries.clear();
  }
}
