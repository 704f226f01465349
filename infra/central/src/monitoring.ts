import {
  DIMENSIONS,
  FAILED_RUN_STATUS,
  METRIC_NAMES,
  METRICS_NAMESPACE,
  SERVICE_DIMENSION,
  SERVICES,
} from '@vsh/worker/metrics-contract';
import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  type IMetric,
  MathExpression,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { CentralStackError } from './errors.ts';

/** When the product alarms fire (docs/adr/0072). */
export interface ProductAlarmThresholds {
  /** The oldest stream cursor after a run, in seconds, anywhere in the fleet, for 30 minutes. Default a day. */
  readonly lagSeconds: number;
  /** Runs that failed, fleet-wide, within `failedRunsMinutes`. Default 10. */
  readonly failedRuns: number;
  /** Default 15. */
  readonly failedRunsMinutes: number;
  /** Rejected records as a percentage of records imported or rejected, within 15 minutes. Default 5. */
  readonly rejectedPercent: number;
  /** Fewer rejections than this in 15 minutes never alarm, whatever their share. Default 10. */
  readonly rejectedMinimum: number;
}

export const DEFAULT_PRODUCT_ALARM_THRESHOLDS: ProductAlarmThresholds = {
  lagSeconds: 24 * 3600,
  failedRuns: 10,
  failedRunsMinutes: 15,
  rejectedPercent: 5,
  rejectedMinimum: 10,
};

export interface ConnectorMonitoringProps {
  /** Notified when an alarm fires and when it clears. */
  readonly topic: ITopic;
  readonly thresholds?: Partial<ProductAlarmThresholds> | undefined;
}

/** The alarms this construct creates, by role. */
export interface ProductAlarms {
  readonly fleetLag: Alarm;
  readonly failedRuns: Alarm;
  readonly rejectedRecords: Alarm;
}

const REJECTED_WINDOW = Duration.minutes(15);

/**
 * Alarms on what the product does, from the metrics the worker Lambda publishes as EMF (namespace
 * `Vaikora/Connector`, fleet-wide series only): fleet lag, failed runs and the share of rejected
 * records. The infrastructure alarms (dead-letter queue, function errors and throttles, queue age,
 * API 5xx) stay with the resources in `CentralStack`.
 */
export class ConnectorMonitoring extends Construct {
  readonly alarms: ProductAlarms;
  readonly thresholds: ProductAlarmThresholds;

  constructor(scope: Construct, id: string, props: ConnectorMonitoringProps) {
    super(scope, id);
    const t = resolveProductAlarmThresholds(props.thresholds);
    this.thresholds = t;
    const worker: Record<string, string> = { [SERVICE_DIMENSION]: SERVICES.worker };
    const metric = (metricName: string, statistic: string, period: Duration, dims = worker) =>
      new Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: dims, statistic, period });
    const alarm = (
      alarmId: string,
      alarmMetric: IMetric,
      description: string,
      threshold: number,
      evaluationPeriods = 1,
    ): Alarm => {
      const created = new Alarm(this, alarmId, {
        metric: alarmMetric,
        alarmDescription: description,
        threshold,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods,
        datapointsToAlarm: evaluationPeriods,
        // No run, no data: an idle fleet is fine; the dispatcher and queue alarms cover "nothing runs".
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      created.addAlarmAction(new SnsAction(props.topic));
      created.addOkAction(new SnsAction(props.topic));
      return created;
    };

    this.alarms = {
      fleetLag: alarm(
        'FleetLagAlarm',
        metric(METRIC_NAMES.cursorLag, 'Maximum', Duration.minutes(15)),
        `A stream's cursor was ${t.lagSeconds} s or more behind after its runs for 30 minutes: the tenant's agent was quiet that long, or its stream is stuck (status page: its last runs and errors). Vaikora keeps 7 days; past that, actions expire unread.`,
        t.lagSeconds,
        2,
      ),
      failedRuns: alarm(
        'FailedRunsAlarm',
        metric(METRIC_NAMES.runs, 'Sum', Duration.minutes(t.failedRunsMinutes), {
          ...worker,
          [DIMENSIONS.status]: FAILED_RUN_STATUS,
        }),
        `${t.failedRuns} or more tenant runs failed in ${t.failedRunsMinutes} minutes. Which tenants: Logs Insights on the worker log group, filter msg = "run finished" and status = "failed" | stats count(*) by tenantId, errorCode; then their errors on the status page.`,
        t.failedRuns,
      ),
      rejectedRecords: alarm(
        'RejectedRecordsAlarm',
        new MathExpression({
          expression: `IF(rejected >= ${t.rejectedMinimum}, 100 * rejected / (rejected + FILL(imported, 0)), 0)`,
          usingMetrics: {
            rejected: metric(METRIC_NAMES.recordsRejected, 'Sum', REJECTED_WINDOW),
            imported: metric(METRIC_NAMES.findingsImported, 'Sum', REJECTED_WINDOW),
          },
          period: REJECTED_WINDOW,
          label: 'Rejected records (% of imported + rejected)',
        }),
        `${t.rejectedPercent} % or more of the records in 15 minutes were rejected (and at least ${t.rejectedMinimum}): a Vaikora format change or a mapping bug. The RecordsRejected series by Stage says where; the tenants' rejected records say why.`,
        t.rejectedPercent,
      ),
    };
  }
}

/** The defaults with what `partial` sets; throws `invalid_alarm_threshold` for a value no alarm can take. */
export function resolveProductAlarmThresholds(
  partial: Partial<ProductAlarmThresholds> | undefined,
): ProductAlarmThresholds {
  const defined = Object.entries(partial ?? {}).filter(([, value]) => value !== undefined);
  const t: ProductAlarmThresholds = { ...DEFAULT_PRODUCT_ALARM_THRESHOLDS, ...Object.fromEntries(defined) };
  const positive = (name: keyof ProductAlarmThresholds, max: number) => {
    const value = t[name];
    if (!Number.isInteger(value) || value < 1 || value > max) {
      throw new CentralStackError(
        'invalid_alarm_threshold',
        `productAlarms.${name} must be an integer from 1 to ${max}`,
      );
    }
  };
  positive('lagSeconds', 30 * 86_400);
  positive('failedRuns', 1_000_000);
  // CloudWatch alarms evaluate at most a day of data.
  positive('failedRunsMinutes', 1440);
  positive('rejectedPercent', 100);
  positive('rejectedMinimum', 1_000_000);
  return t;
}
