import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { captureStdout, type EmfDocument, emfViolations } from './emf.test-support.ts';
import { createEmfSink, publishDispatched } from './emf.ts';
import { createWorkerMetrics } from './metrics.ts';
import { FAILED_RUN_STATUS, METRICS_NAMESPACE } from './metrics-contract.ts';
import type { RunSummary } from './ports.ts';

const logger = pino({ level: 'silent' });
const NOW = Date.UTC(2026, 5, 1, 12, 0, 0);
let stdout: ReturnType<typeof captureStdout> | undefined;
afterEach(() => stdout?.restore());

/** A worker's metrics with an EMF sink on a fixed clock, stdout captured. */
function setup() {
  stdout = captureStdout();
  const metrics = createWorkerMetrics();
  const emf = createEmfSink({ logger, clock: () => NOW });
  metrics.addSink(emf);
  return { metrics, emf, out: stdout };
}

/** Records what one finished run of `tenant` records (the calls `run-tenant.ts` makes). */
function recordRun(
  metrics: ReturnType<typeof createWorkerMetrics>,
  tenant: string,
  run: {
    status: RunSummary['status'];
    imported: number;
    skipped: number;
    throttles: number;
    lag: number;
    seconds: number;
  },
) {
  metrics.imported.inc({ tenant }, run.imported);
  metrics.skipped.inc({ tenant }, run.skipped);
  metrics.throttles.inc({ tenant }, run.throttles);
  metrics.runs.inc({ status: run.status });
  metrics.runDuration.observe({ status: run.status }, run.seconds);
  metrics.lagSeconds.set({ tenant }, run.lag);
}

const byTenant = (lines: EmfDocument[], tenant: string) => lines.find((l) => l.tenantId === tenant);
const byStatus = (lines: EmfDocument[], status: string) => lines.find((l) => l.Status === status);

describe('the EMF sink', () => {
  it('writes nothing until flushed, then one line per tenant and per status, each valid EMF', () => {
    const { metrics, emf, out } = setup();
    recordRun(metrics, 'ten_a', {
      status: 'ok',
      imported: 7,
      skipped: 2,
      throttles: 1,
      lag: 30,
      seconds: 1.5,
    });
    recordRun(metrics, 'ten_b', {
      status: 'failed',
      imported: 0,
      skipped: 0,
      throttles: 0,
      lag: 900,
      seconds: 0.2,
    });
    recordRun(metrics, 'ten_c', {
      status: 'ok',
      imported: 3,
      skipped: 0,
      throttles: 0,
      lag: 12,
      seconds: 2.5,
    });

    expect(out.emf()).toEqual([]);
    emf.flush();

    const lines = out.emf();
    expect(lines).toHaveLength(5);
    for (const line of lines) expect(emfViolations(line, NOW)).toEqual([]);
    for (const line of lines) expect(line._aws.Timestamp).toBe(NOW);
    expect(byTenant(lines, 'ten_a')).toEqual({
      _aws: {
        Timestamp: NOW,
        CloudWatchMetrics: [
          {
            Namespace: METRICS_NAMESPACE,
            Dimensions: [['service']],
            Metrics: [
              { Name: 'FindingsImported', Unit: 'Count' },
              { Name: 'ActionsSkipped', Unit: 'Count' },
              { Name: 'Throttles', Unit: 'Count' },
              { Name: 'CursorLagSeconds', Unit: 'Seconds' },
            ],
          },
        ],
      },
      service: 'worker',
      tenantId: 'ten_a',
      FindingsImported: 7,
      ActionsSkipped: 2,
      Throttles: 1,
      CursorLagSeconds: 30,
    });
    expect(byStatus(lines, 'ok')).toEqual({
      _aws: {
        Timestamp: NOW,
        CloudWatchMetrics: [
          {
            Namespace: METRICS_NAMESPACE,
            Dimensions: [['service'], ['service', 'Status']],
            Metrics: [
              { Name: 'Runs', Unit: 'Count' },
              { Name: 'RunDuration', Unit: 'Seconds' },
            ],
          },
        ],
      },
      service: 'worker',
      Status: 'ok',
      Runs: 2,
      RunDuration: [1.5, 2.5],
    });
    expect(byStatus(lines, FAILED_RUN_STATUS)).toMatchObject({ Runs: 1, RunDuration: 0.2 });
  });

  it('never makes the tenant a dimension: fleet-wide series only, the tenant id a property', () => {
    const { metrics, emf, out } = setup();
    for (let i = 0; i < 30; i++) {
      recordRun(metrics, `ten_${i}`, {
        status: 'ok',
        imported: i,
        skipped: 0,
        throttles: 0,
        lag: i,
        seconds: 1,
      });
    }

    emf.flush();

    const dimensionNames = new Set(
      out.emf().flatMap((l) => l._aws.CloudWatchMetrics.flatMap((d) => d.Dimensions.flat())),
    );
    expect([...dimensionNames].toSorted()).toEqual(['Status', 'service']);
    expect(out.emf().filter((l) => typeof l.tenantId === 'string')).toHaveLength(30);
  });

  it('counts rejections per tenant and stage, with the fleet-wide and per-stage series', () => {
    const { metrics, emf, out } = setup();
    metrics.rejected.inc({ tenant: 'ten_a', stage: 'map' });
    metrics.rejected.inc({ tenant: 'ten_a', stage: 'map' });
    metrics.rejected.inc({ tenant: 'ten_a', stage: 'import' });

    emf.flush();

    const lines = out.emf();
    for (const line of lines) expect(emfViolations(line, NOW)).toEqual([]);
    expect(
      lines.map(({ _aws, ...rest }) => ({ dims: _aws.CloudWatchMetrics[0]?.Dimensions, ...rest })),
    ).toEqual([
      {
        dims: [['service'], ['service', 'Stage']],
        service: 'worker',
        Stage: 'map',
        tenantId: 'ten_a',
        RecordsRejected: 2,
      },
      {
        dims: [['service'], ['service', 'Stage']],
        service: 'worker',
        Stage: 'import',
        tenantId: 'ten_a',
        RecordsRejected: 1,
      },
    ]);
  });

  it('splits more than 100 observations over lines that each keep their dimensions', () => {
    const { metrics, emf, out } = setup();
    for (let i = 0; i < 250; i++) {
      metrics.runs.inc({ status: 'ok' });
      metrics.runDuration.observe({ status: 'ok' }, i / 10);
    }

    emf.flush();

    const lines = out.emf();
    expect(lines.length).toBe(3);
    for (const line of lines) {
      expect(emfViolations(line, NOW)).toEqual([]);
      expect(line.Status).toBe('ok');
      expect(line._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['service'], ['service', 'Status']]);
    }
    expect(lines.flatMap((l) => l.RunDuration as number[])).toHaveLength(250);
    expect(lines.map((l) => l.Runs)).toEqual([250, undefined, undefined]);
  });

  it('writes only the namespace, service, closed-set dimensions, the tenant id and metric values', () => {
    const { emf, out } = setup();
    // A label nobody declared (here one that would leak a key) is never written.
    emf.record({ metric: 'imported', labels: { tenant: 'ten_a', apiKey: 'vk_live_secret' }, value: 1 });
    emf.record({
      metric: 'lagSeconds',
      labels: { tenant: 'ten_a', apiKey: 'vk_live_secret' },
      value: Number.NaN,
    });

    emf.flush();

    const [line, ...rest] = out.emf();
    expect(rest).toEqual([]);
    expect(Object.keys(line ?? {}).toSorted()).toEqual(['FindingsImported', '_aws', 'service', 'tenantId']);
    expect(out.text()).not.toContain('vk_live_secret');
  });

  it('forgets what it flushed: a second flush with nothing recorded writes nothing', () => {
    const { metrics, emf, out } = setup();
    recordRun(metrics, 'ten_a', { status: 'ok', imported: 1, skipped: 0, throttles: 0, lag: 1, seconds: 1 });
    emf.flush();
    const first = out.text();

    emf.flush();

    expect(out.text()).toBe(first);
  });
});

describe("the dispatcher's metric", () => {
  it('is one EMF line with TenantsDispatched and the tick as properties', () => {
    stdout = captureStdout();

    publishDispatched(logger, 4, { executionId: 'd32c5kddcf5bb8c3', scheduledTime: '2026-06-01T12:00:00Z' });

    const [line, ...rest] = stdout.emf();
    expect(rest).toEqual([]);
    expect(emfViolations(line)).toEqual([]);
    expect(line).toMatchObject({
      _aws: {
        CloudWatchMetrics: [
          {
            Namespace: METRICS_NAMESPACE,
            Dimensions: [['service']],
            Metrics: [{ Name: 'TenantsDispatched', Unit: 'Count' }],
          },
        ],
      },
      service: 'dispatcher',
      executionId: 'd32c5kddcf5bb8c3',
      scheduledTime: '2026-06-01T12:00:00Z',
      TenantsDispatched: 4,
    });
  });
});
