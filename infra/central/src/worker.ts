/**
 * The work side of the connector: the worker (an SQS consumer of the work queue), the dispatcher
 * that enqueues due tenants, and the schedule that runs the dispatcher every minute.
 */
import { Aws, Duration, type Stack } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import {
  ContextAttribute,
  Schedule,
  ScheduleExpression,
  ScheduleTargetInput,
} from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import type { Data } from './data.ts';
import { connectorFunction, type FunctionDefaults } from './functions.ts';
import type { Roles } from './iam.ts';
import type { Settings } from './settings.ts';

export interface WorkerFunctionsProps {
  readonly entries: { readonly worker: string; readonly dispatcher: string };
  readonly defaults: FunctionDefaults;
  readonly settings: Pick<
    Settings,
    'workerTimeout' | 'workerReservedConcurrency' | 'workerBatchSize' | 'workerInlineCursors'
  >;
  readonly data: Data;
  readonly roles: Roles;
}

/** The worker's run budget: its timeout less a fifth, at most a minute, kept for the run's last writes. */
function runBudget(timeout: Duration): Duration {
  const seconds = timeout.toSeconds();
  return Duration.seconds(seconds - Math.min(60, Math.floor(seconds / 5)));
}

/** Creates the worker (fed by the work queue) and the dispatcher directly in `stack`. */
export function buildWorkerFunctions(
  stack: Stack,
  props: WorkerFunctionsProps,
): { worker: NodejsFunction; dispatcher: NodejsFunction } {
  const { settings, data, roles, defaults } = props;
  const worker = connectorFunction(stack, 'Worker', defaults, {
    entry: props.entries.worker,
    role: roles.workerRole,
    description: 'Runs due tenants: Vaikora to Security Hub',
    memorySize: 1024,
    timeout: settings.workerTimeout,
    reservedConcurrentExecutions: settings.workerReservedConcurrency,
    environment: {
      STATE_TABLE_NAME: data.stateTable.tableName,
      // A run stops (and saves its cursors) before Lambda's timeout would kill it mid-write and
      // lose the metrics the invocation flushes at its end.
      RUN_BUDGET_MS: String(runBudget(settings.workerTimeout).toMilliseconds()),
      // ADR 0126: false for the first phase of an upgrade from a worker that predates it.
      STATE_INLINE_CURSORS: String(settings.workerInlineCursors),
    },
  });
  worker.addEventSource(
    new SqsEventSource(data.workQueue, {
      batchSize: settings.workerBatchSize,
      reportBatchItemFailures: true,
      maxConcurrency: settings.workerReservedConcurrency,
    }),
  );

  const dispatcher = connectorFunction(stack, 'Dispatcher', defaults, {
    entry: props.entries.dispatcher,
    role: roles.dispatcherRole,
    description: 'Enqueues due tenants',
    memorySize: 256,
    timeout: Duration.seconds(50),
    environment: { STATE_TABLE_NAME: data.stateTable.tableName },
  });
  return { worker, dispatcher };
}

/** Creates the every-minute schedule of the dispatcher, and the role it invokes it with, in `stack`. */
export function buildDispatchSchedule(
  stack: Stack,
  dispatcher: NodejsFunction,
): { scheduleRole: Role; dispatchSchedule: Schedule } {
  // One tick a minute; a missed or failed tick is not retried, the next one does its work.
  const scheduleRole = new Role(stack, 'DispatchScheduleRole', {
    assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
      conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
    }),
    description: 'EventBridge Scheduler: invokes the connector dispatcher',
  });
  const dispatchSchedule = new Schedule(stack, 'DispatchSchedule', {
    description: 'Runs the dispatcher every minute',
    schedule: ScheduleExpression.rate(Duration.minutes(1)),
    target: new LambdaInvoke(dispatcher, {
      role: scheduleRole,
      // Logged by the dispatcher and attached to its metric: which tick, and which attempt.
      input: ScheduleTargetInput.fromObject({
        executionId: ContextAttribute.executionId,
        scheduledTime: ContextAttribute.scheduledTime,
        attemptNumber: ContextAttribute.attemptNumber,
      }),
      retryAttempts: 0,
      maxEventAge: Duration.minutes(1),
    }),
  });
  return { scheduleRole, dispatchSchedule };
}
