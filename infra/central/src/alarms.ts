/**
 * The alarm topic and every alarm on it: the service alarms here (dead letters, worker errors and
 * throttles, queue backlog, dispatcher errors, API 5xx) and the product alarms of monitoring.ts.
 */
import { Duration, type Stack } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import { Alarm, ComparisonOperator, type IMetric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Data } from './data.ts';
import { ConnectorMonitoring, type ProductAlarmThresholds } from './monitoring.ts';

export interface AlarmsProps {
  readonly data: Pick<Data, 'deadLetterQueue' | 'workQueue'>;
  readonly worker: NodejsFunction;
  readonly dispatcher: NodejsFunction;
  readonly httpApi: HttpApi;
  /** Subscribed to the topic when set. */
  readonly alarmEmail?: string | undefined;
  readonly productAlarms: ProductAlarmThresholds;
}

export interface Alarms {
  readonly alarmTopic: Topic;
  readonly monitoring: ConnectorMonitoring;
  readonly alarms: Readonly<Record<string, Alarm>>;
}

/** Creates the topic, the product metrics' alarms and the service alarms directly in `stack`. */
export function buildAlarms(stack: Stack, props: AlarmsProps): Alarms {
  const alarmTopic = new Topic(stack, 'AlarmTopic', {
    displayName: 'Vaikora Security Hub connector alarms',
    enforceSSL: true,
  });
  if (props.alarmEmail !== undefined) alarmTopic.addSubscription(new EmailSubscription(props.alarmEmail));
  const monitoring = new ConnectorMonitoring(stack, 'ProductMetrics', {
    topic: alarmTopic,
    thresholds: props.productAlarms,
  });
  return {
    alarmTopic,
    monitoring,
    alarms: { ...serviceAlarms(stack, alarmTopic, props), ...monitoring.alarms },
  };
}

function serviceAlarms(stack: Stack, topic: Topic, props: AlarmsProps): Record<string, Alarm> {
  const alarm = (
    id: string,
    metric: IMetric,
    description: string,
    threshold: number,
    periods: { evaluationPeriods: number; datapointsToAlarm: number } = {
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
    },
  ): Alarm => {
    const created = new Alarm(stack, id, {
      metric,
      alarmDescription: description,
      threshold,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      ...periods,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    created.addAlarmAction(new SnsAction(topic));
    created.addOkAction(new SnsAction(topic));
    return created;
  };
  const fiveMinutes = Duration.minutes(5);
  const { deadLetterQueue, workQueue } = props.data;
  return {
    deadLetters: alarm(
      'DeadLetterMessagesAlarm',
      deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: fiveMinutes,
        statistic: 'Maximum',
      }),
      'Tenant messages failed five times and reached the dead-letter queue: read the worker logs for those tenant ids, fix, then redrive the DLQ.',
      1,
    ),
    workerErrors: alarm(
      'WorkerErrorsAlarm',
      props.worker.metricErrors({ period: fiveMinutes, statistic: 'Sum' }),
      'Worker invocations failed as a whole (crash, timeout, bad deploy); per-tenant failures are batch item failures, not errors.',
      1,
    ),
    workerThrottles: alarm(
      'WorkerThrottlesAlarm',
      props.worker.metricThrottles({ period: fiveMinutes, statistic: 'Sum' }),
      'Worker invocations were throttled: the account concurrency or the reserved concurrency is exhausted.',
      1,
    ),
    workQueueAge: alarm(
      'WorkQueueBacklogAlarm',
      workQueue.metricApproximateAgeOfOldestMessage({ period: fiveMinutes, statistic: 'Maximum' }),
      'The oldest tenant message waited more than 15 minutes: workers are not keeping up (raise the reserved concurrency) or failing.',
      900,
    ),
    dispatcherErrors: alarm(
      'DispatcherErrorsAlarm',
      props.dispatcher.metricErrors({ period: Duration.minutes(1), statistic: 'Sum' }),
      'The dispatcher failed in two of the last three minutes: no tenant is being enqueued (database or queue unreachable?).',
      1,
      { evaluationPeriods: 3, datapointsToAlarm: 2 },
    ),
    apiServerErrors: alarm(
      'ApiServerErrorsAlarm',
      props.httpApi.metricServerError({ period: fiveMinutes, statistic: 'Sum' }),
      'The API answered 5xx (the app maps every expected failure to 4xx): read the API function logs.',
      1,
    ),
  };
}
