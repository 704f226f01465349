import { Counter, Gauge, Histogram, Registry } from 'prom-client';

type Labels<L extends string> = Readonly<Record<L, string>>;

/** A counter as the run code records it. */
export interface CounterMetric<L extends string> {
  inc(labels: Labels<L>, value?: number): void;
}

/** A gauge as the run code records it. */
export interface GaugeMetric<L extends string> {
  set(labels: Labels<L>, value: number): void;
}

/** A histogram as the run code records it. */
export interface HistogramMetric<L extends string> {
  observe(labels: Labels<L>, value: number): void;
}

/** The worker's series, by the name of the `WorkerMetrics` member that records each. */
export type WorkerMetricName =
  | 'imported'
  | 'rejected'
  | 'skipped'
  | 'throttles'
  | 'runs'
  | 'lagSeconds'
  | 'runDuration';

/** One recording, as every sink receives it. */
export interface MetricRecord {
  readonly metric: WorkerMetricName;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Where recordings go besides Prometheus (the Lambda's EMF sink). Must not throw. */
export interface MetricsSink {
  record(entry: MetricRecord): void;
}

/**
 * The one place a run's metrics are recorded. Every recording goes to the Prometheus registry (served
 * on METRICS_PORT by a worker process) and to each added sink (EMF lines in Lambda, `emf.ts`).
 */
export interface WorkerMetrics {
  /** The Prometheus registry, of its own (no global default registry). */
  readonly registry: Registry;
  readonly imported: CounterMetric<'tenant'>;
  readonly rejected: CounterMetric<'tenant' | 'stage'>;
  readonly skipped: CounterMetric<'tenant'>;
  readonly throttles: CounterMetric<'tenant'>;
  readonly runs: CounterMetric<'status'>;
  readonly lagSeconds: GaugeMetric<'tenant'>;
  readonly runDuration: HistogramMetric<'status'>;
  /** Sends every later recording to `sink` as well; returns the function that stops it. */
  addSink(sink: MetricsSink): () => void;
}

/** Creates the metrics; tenant ids are Prometheus labels (bounded by the number of tenants a process serves). */
export function createWorkerMetrics(): WorkerMetrics {
  const registry = new Registry();
  const registers = [registry];
  const prometheus = {
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
  const sinks = new Set<MetricsSink>();
  const fanOut = (metric: WorkerMetricName, labels: Readonly<Record<string, string>>, value: number) => {
    for (const sink of sinks) sink.record({ metric, labels, value });
  };
  /** A counter recorded in Prometheus and in every sink. */
  const counter = (name: 'imported' | 'rejected' | 'skipped' | 'throttles' | 'runs') => ({
    inc: (labels: Readonly<Record<string, string>>, value = 1) => {
      (prometheus[name] as Counter<string>).inc(labels, value);
      fanOut(name, labels, value);
    },
  });
  return {
    registry,
    imported: counter('imported'),
    rejected: counter('rejected'),
    skipped: counter('skipped'),
    throttles: counter('throttles'),
    runs: counter('runs'),
    lagSeconds: {
      set: (labels, value) => {
        prometheus.lagSeconds.set(labels, value);
        fanOut('lagSeconds', labels, value);
      },
    },
    runDuration: {
      observe: (labels, value) => {
        prometheus.runDuration.observe(labels, value);
        fanOut('runDuration', labels, value);
      },
    },
    addSink(sink) {
      sinks.add(sink);
      return () => {
        sinks.delete(sink);
      };
    },
  };
}
