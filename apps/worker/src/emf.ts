import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { errorMessage } from '@vsh/core';
import type { Logger } from 'pino';
import type { MetricRecord, MetricsSink, WorkerMetricName } from './metrics.ts';
import {
  DIMENSIONS,
  METRIC_NAMES,
  METRICS_NAMESPACE,
  SERVICES,
  TENANT_PROPERTY,
} from './metrics-contract.ts';

type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];

/** How one series of the run code becomes an EMF metric within one invocation. */
interface EmfSeries {
  readonly name: string;
  readonly unit: Unit;
  /** `sum`: counters add up; `last`: a gauge keeps its last value; `values`: every observation. */
  readonly fold: 'sum' | 'last' | 'values';
}

const SERIES: Readonly<Record<WorkerMetricName, EmfSeries>> = {
  imported: { name: METRIC_NAMES.findingsImported, unit: MetricUnit.Count, fold: 'sum' },
  skipped: { name: METRIC_NAMES.actionsSkipped, unit: MetricUnit.Count, fold: 'sum' },
  throttles: { name: METRIC_NAMES.throttles, unit: MetricUnit.Count, fold: 'sum' },
  rejected: { name: METRIC_NAMES.recordsRejected, unit: MetricUnit.Count, fold: 'sum' },
  runs: { name: METRIC_NAMES.runs, unit: MetricUnit.Count, fold: 'sum' },
  lagSeconds: { name: METRIC_NAMES.cursorLag, unit: MetricUnit.Seconds, fold: 'last' },
  runDuration: { name: METRIC_NAMES.runDuration, unit: MetricUnit.Seconds, fold: 'values' },
};

/** Labels that become dimensions (closed sets); `tenant` becomes a property instead (ADR 0072). */
const LABEL_DIMENSIONS: Readonly<Record<string, string>> = {
  status: DIMENSIONS.status,
  stage: DIMENSIONS.stage,
};

// Powertools publishes a line by itself once a metric holds 100 values, and then clears the
// dimensions and properties the rest of the line was meant to carry: lines stop one short of that.
const MAX_VALUES_PER_LINE = 99;

/** An EMF sink: aggregates the recordings of one invocation and writes them to stdout on `flush()`. */
export interface EmfSink extends MetricsSink {
  /** Writes one EMF line per label set recorded since the last flush, then forgets them. */
  flush(): void;
}

export interface EmfSinkOptions {
  readonly logger: Logger;
  /** The `service` dimension; default `worker`. */
  readonly service?: string | undefined;
  /** The lines' `Timestamp` (milliseconds); default the time of the flush. */
  readonly clock?: (() => number) | undefined;
}

interface Group {
  readonly labels: Readonly<Record<string, string>>;
  readonly single: Map<WorkerMetricName, number>;
  readonly values: Map<WorkerMetricName, number[]>;
}

/**
 * The Lambda sink of `WorkerMetrics`: CloudWatch Embedded Metric Format lines through Powertools
 * Metrics, which writes them to stdout itself (not through `console`, which Lambda's JSON log format
 * would wrap). One line per label set: a tenant's counters and lag on one line with the tenant id as a
 * property, fleet-wide in CloudWatch (dimension `service` only); run counts and durations per status
 * with dimension sets `[service]` and `[service, Status]`; rejections per stage likewise with `Stage`.
 */
export function createEmfSink(options: EmfSinkOptions): EmfSink {
  const metrics = createPowertoolsMetrics(options.service ?? SERVICES.worker, options.logger);
  const clock = options.clock ?? Date.now;
  const groups = new Map<string, Group>();

  const publish = (group: Group, timestamp: number) => {
    const dimensions: Record<string, string> = {};
    let tenant: string | undefined;
    for (const [label, value] of Object.entries(group.labels)) {
      const dimension = LABEL_DIMENSIONS[label];
      if (dimension !== undefined) dimensions[dimension] = value;
      else if (label === 'tenant') tenant = value;
    }
    const pending = [...group.values].map(([metric, values]) => ({ series: SERIES[metric], values }));
    let first = true;
    while (first || pending.some((p) => p.values.length > 0)) {
      metrics.setTimestamp(timestamp);
      if (Object.keys(dimensions).length > 0) {
        // An empty set is published as `[service]`: the fleet-wide series next to the per-label one.
        metrics.addDimensions({});
        metrics.addDimensions(dimensions);
      }
      if (tenant !== undefined) metrics.addMetadata(TENANT_PROPERTY, tenant);
      if (first) {
        for (const [metric, value] of group.single) {
          metrics.addMetric(SERIES[metric].name, SERIES[metric].unit, value);
        }
      }
      for (const p of pending) {
        for (const value of p.values.splice(0, MAX_VALUES_PER_LINE)) {
          metrics.addMetric(p.series.name, p.series.unit, value);
        }
      }
      metrics.publishStoredMetrics();
      first = false;
    }
  };

  return {
    record({ metric, labels, value }: MetricRecord) {
      if (!Number.isFinite(value)) return;
      const key = JSON.stringify(Object.entries(labels).toSorted(([a], [b]) => a.localeCompare(b)));
      let group = groups.get(key);
      if (group === undefined) {
        group = { labels: { ...labels }, single: new Map(), values: new Map() };
        groups.set(key, group);
      }
      const { fold } = SERIES[metric];
      if (fold === 'values') group.values.set(metric, [...(group.values.get(metric) ?? []), value]);
      else if (fold === 'sum') group.single.set(metric, (group.single.get(metric) ?? 0) + value);
      else group.single.set(metric, value);
    },
    flush() {
      const timestamp = clock();
      try {
        for (const group of groups.values()) publish(group, timestamp);
      } catch (err) {
        // Metrics must never fail the invocation whose work is already done.
        options.logger.error({ err: errorMessage(err) }, 'EMF flush failed');
        metrics.clearMetrics();
        metrics.clearDimensions();
        metrics.clearMetadata();
      } finally {
        groups.clear();
      }
    },
  };
}

/** Publishes the dispatcher's one metric for a tick, with the schedule's execution as properties. */
export function publishDispatched(
  logger: Logger,
  dispatched: number,
  properties: Readonly<Record<string, string>>,
): void {
  const metrics = createPowertoolsMetrics(SERVICES.dispatcher, logger);
  for (const [key, value] of Object.entries(properties)) metrics.addMetadata(key, value);
  metrics.addMetric(METRIC_NAMES.tenantsDispatched, MetricUnit.Count, dispatched);
  metrics.publishStoredMetrics();
}

function createPowertoolsMetrics(service: string, logger: Logger): Metrics {
  // Powertools' own warnings (an invalid dimension, a timestamp out of range) go to the app's log.
  const say =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (...content: unknown[]) =>
      logger[level]({ source: 'powertools-metrics' }, content.map(String).join(' '));
  return new Metrics({
    namespace: METRICS_NAMESPACE,
    serviceName: service,
    logger: { debug: say('debug'), info: say('info'), warn: say('warn'), error: say('error') },
  });
}
