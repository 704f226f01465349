import { CfnOutput, Stack } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import type { Role } from 'aws-cdk-lib/aws-iam';
import type { Key } from 'aws-cdk-lib/aws-kms';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Schedule } from 'aws-cdk-lib/aws-scheduler';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Topic } from 'aws-cdk-lib/aws-sns';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { buildAlarms } from './alarms.ts';
import { buildApiFunction, buildHttpApi, customerTemplateUrlParameter } from './api.ts';
import { DEFAULT_ENTRIES } from './constants.ts';
import { buildData } from './data.ts';
import { baseEnvironment, type FunctionDefaults } from './functions.ts';
import { buildRoles } from './iam.ts';
import type { ConnectorMonitoring } from './monitoring.ts';
import { acknowledgeNagFindings } from './nag.ts';
import { buildNetwork } from './network.ts';
import type { CentralStackProps } from './props.ts';
import { resolveSettings } from './settings.ts';
import { buildDispatchSchedule, buildWorkerFunctions } from './worker.ts';

export type { CentralStackEntries, CentralStackProps, LogLevel } from './props.ts';

/**
 * Data443's hosted connector: state table, work queue and dead-letter queue, tenant-secrets key,
 * database and operator secrets, the worker, dispatcher and API functions with one role each,
 * the dispatch schedule, and the alarms. Environment-agnostic: no account or region is built in.
 *
 * The builders create their constructs directly in this stack, in this order: construct ids, and so
 * logical ids, are those of the single constructor this replaced (changing one replaces a resource).
 */
export class CentralStack extends Stack {
  readonly stateTable: Table;
  readonly workQueue: Queue;
  readonly deadLetterQueue: Queue;
  readonly tenantSecretsKey: Key;
  readonly databaseSecret: ISecret;
  readonly operatorKeySecret: ISecret;
  readonly workerRole: Role;
  readonly dispatcherRole: Role;
  readonly apiRole: Role;
  readonly worker: NodejsFunction;
  readonly dispatcher: NodejsFunction;
  readonly api: NodejsFunction;
  readonly httpApi: HttpApi;
  readonly dispatchSchedule: Schedule;
  readonly scheduleRole: Role;
  readonly alarmTopic: Topic;
  readonly monitoring: ConnectorMonitoring;
  readonly alarms: Readonly<Record<string, Alarm>>;

  constructor(scope: Construct, id: string, props: CentralStackProps = {}) {
    super(scope, id, props);
    const settings = resolveSettings(props);
    const entries = { ...DEFAULT_ENTRIES, ...props.entries };

    const data = buildData(this, {
      workerTimeout: settings.workerTimeout,
      databaseSecretArn: props.databaseSecretArn,
      operatorKeySecretArn: props.operatorKeySecretArn,
    });
    ({
      stateTable: this.stateTable,
      deadLetterQueue: this.deadLetterQueue,
      workQueue: this.workQueue,
      tenantSecretsKey: this.tenantSecretsKey,
      databaseSecret: this.databaseSecret,
      operatorKeySecret: this.operatorKeySecret,
    } = data);
    const customerTemplateUrl = props.customerTemplateUrl ?? customerTemplateUrlParameter(this);
    const network = buildNetwork(this, props);

    const roles = buildRoles(this, {
      workerRoleName: settings.workerRoleName,
      data,
      inVpc: network !== undefined,
      partnerProductName: settings.partnerProductName,
    });
    ({ apiRole: this.apiRole, dispatcherRole: this.dispatcherRole, workerRole: this.workerRole } = roles);

    const defaults: FunctionDefaults = {
      logRetention: settings.logRetention,
      runtime: settings.runtime,
      network,
      environment: baseEnvironment(data, settings),
    };
    ({ worker: this.worker, dispatcher: this.dispatcher } = buildWorkerFunctions(this, {
      entries,
      defaults,
      settings,
      data,
      roles,
    }));
    this.api = buildApiFunction(this, {
      entry: entries.api,
      defaults,
      settings,
      data,
      roles,
      customerTemplateUrl,
    });
    ({ scheduleRole: this.scheduleRole, dispatchSchedule: this.dispatchSchedule } = buildDispatchSchedule(
      this,
      this.dispatcher,
    ));
    this.httpApi = buildHttpApi(this, this.api, settings);

    ({
      alarmTopic: this.alarmTopic,
      monitoring: this.monitoring,
      alarms: this.alarms,
    } = buildAlarms(this, {
      data,
      worker: this.worker,
      dispatcher: this.dispatcher,
      httpApi: this.httpApi,
      alarmEmail: props.alarmEmail,
      productAlarms: settings.productAlarms,
    }));

    acknowledgeNagFindings(this, {
      roles,
      scheduleRole: this.scheduleRole,
      functions: { worker: this.worker, dispatcher: this.dispatcher, api: this.api },
      databaseSecret: this.databaseSecret,
      operatorKeySecret: this.operatorKeySecret,
      httpApi: this.httpApi,
      inVpc: network !== undefined,
      partnerProductName: settings.partnerProductName,
    });

    const outputs: Record<string, [string, string]> = {
      ApiUrl: [this.httpApi.apiEndpoint, 'The control plane (operators and onboarding)'],
      WorkerRoleArn: [this.workerRole.roleArn, "The role customers' trust policies name"],
      StateTableName: [this.stateTable.tableName, 'Worker leases and cursors'],
      WorkQueueUrl: [this.workQueue.queueUrl, 'One message per due tenant'],
      DeadLetterQueueUrl: [this.deadLetterQueue.queueUrl, 'Tenant messages that failed five times'],
      TenantSecretsKeyArn: [this.tenantSecretsKey.keyArn, "Envelope encryption of tenants' Vaikora keys"],
      DatabaseSecretArn: [this.databaseSecret.secretArn, 'Fill host, port, username, password, dbname'],
      OperatorKeySecretArn: [this.operatorKeySecret.secretArn, 'The operator API key'],
      AlarmTopicArn: [this.alarmTopic.topicArn, 'Subscribe on-call to this topic'],
    };
    const [group] = network?.securityGroups ?? [];
    if (group !== undefined)
      outputs.FunctionSecurityGroupId = [group.securityGroupId, 'Allow on the database port'];
    for (const [name, [value, description]] of Object.entries(outputs)) {
      new CfnOutput(this, name, { value, description });
    }
  }
}
