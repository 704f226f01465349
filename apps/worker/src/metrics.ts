import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The worker's Prometheus metrics, on a registry of its own (no global default registry). */
export interface WorkerMetrics {
  readonly registry: Registry;
  readonly imported: Counter<'tenant'>;
  readonly rejected: Counter<'tenant' | 'stage'>;
  readonly skipped: Counter<'tenant'>;
  readonly throttles: Counter<'tenant'>;
  readonly runs: Counter<'status'>;
  readonly lagSeconds: Gauge<'tenant'>;
  readonly runDuration: Histogram<'status'>;
}

/** Creates the metrics; tenant ids are labels (bounded by the number of tenants a process serves). */
export function createWorkerMetrics(): WorkerMetrics {
  const registry = new Registry();
  const registers = [registry];
  return {
    registry,
    imported: new Counter({
      name: 'vsh_findings_imported_total',
      help: 'Findings accepted by Security Hub',
      labelNames: ['tenant'],
      registers,
    }),
    rejected: new Counter({
      name: 'vsh_records_rejected_total',
      help: 'Records that could not become findings',
      labelNames: ['tenant', 'stage'],
      registers,
    }),
    skipped: new Counter({
      name: 'vsh_actions_skipped_total',
      help: 'Actions below the tenant thresholds',
      labelNames: ['tenant'],
      registers,
    }),
    throttles: new Counter({
      name: 'vsh_throttles_total',
      help: 'Throttling responses absorbed',
      labelNames: ['tenant'],
      registers,
    }),
    runs: new Counter({
      name: 'vsh_runs_total',
      help: 'Tenant runs by outcome',
      labelNames: ['status'],
      registers,
    }),
    lagSeconds: new Gauge({
      name: 'vsh_cursor_lag_seconds',
      help: 'Age of the oldest stream cursor after a run',
      labelNames: ['tenant'],
      registers,
    }),
    runDuration: new Histogram({
      name: 'vsh_run_duration_seconds',
      help: 'Tenant run duration',
      labelNames: ['status'],
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
      registers,
    }),
  };
}
