import { describe, expect, it } from 'vitest';
import { createWorkerMetrics, type MetricRecord } from './metrics.ts';

const series = async (metrics: ReturnType<typeof createWorkerMetrics>) =>
  (await metrics.registry.metrics())
    .split('\n')
    .filter((line) => line.startsWith('vsh_') && !line.includes('_bucket'));

describe('worker metrics', () => {
  it('serve every recording on the Prometheus registry under the names the endpoint has always had', async () => {
    const metrics = createWorkerMetrics();

    metrics.imported.inc({ tenant: 'ten_a' }, 7);
    metrics.skipped.inc({ tenant: 'ten_a' }, 2);
    metrics.throttles.inc({ tenant: 'ten_a' });
    metrics.rejected.inc({ tenant: 'ten_a', stage: 'map' });
    metrics.runs.inc({ status: 'ok' });
    metrics.runDuration.observe({ status: 'ok' }, 1.5);
    metrics.lagSeconds.set({ tenant: 'ten_a' }, 30);

    expect(await series(metrics)).toEqual([
      'vsh_findings_imported_total{tenant="ten_a"} 7',
      'vsh_records_rejected_total{tenant="ten_a",stage="map"} 1',
      'vsh_actions_skipped_total{tenant="ten_a"} 2',
      'vsh_throttles_total{tenant="ten_a"} 1',
      'vsh_runs_total{status="ok"} 1',
      'vsh_cursor_lag_seconds{tenant="ten_a"} 30',
      'vsh_run_duration_seconds_sum{status="ok"} 1.5',
      'vsh_run_duration_seconds_count{status="ok"} 1',
    ]);
  });

  it('hand the same recordings to every added sink, until it is removed', () => {
    const metrics = createWorkerMetrics();
    const seen: MetricRecord[] = [];
    const remove = metrics.addSink({ record: (entry) => seen.push(entry) });

    metrics.imported.inc({ tenant: 'ten_a' }, 3);
    metrics.runs.inc({ status: 'failed' });
    metrics.runDuration.observe({ status: 'failed' }, 0.25);
    metrics.lagSeconds.set({ tenant: 'ten_a' }, 12);
    remove();
    metrics.imported.inc({ tenant: 'ten_a' }, 5);

    expect(seen).toEqual([
      { metric: 'imported', labels: { tenant: 'ten_a' }, value: 3 },
      { metric: 'runs', labels: { status: 'failed' }, value: 1 },
      { metric: 'runDuration', labels: { status: 'failed' }, value: 0.25 },
      { metric: 'lagSeconds', labels: { tenant: 'ten_a' }, value: 12 },
    ]);
  });
});
