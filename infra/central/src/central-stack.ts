import { join } from 'node:path';
import { migrationCopyCommands, viewerAssetCopyCommands } from '@vsh/api/viewer-assets';
import { DEFAULT_WORKER_ROLE_NAME, IAM_ROLE_NAME_PATTERN } from '@vsh/customer-role';
import {
  Aws,
  CfnOutput,
  CfnParameter,
  type CfnResource,
  Duration,
  RemovalPolicy,
  Stack,
  type StackProps,
  Validations,
} from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { HttpApi, HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Alarm, ComparisonOperator, type IMetric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { type IVpc, SecurityGroup, type SubnetSelection, SubnetType, Vpc } from 'aws-cdk-lib/aws-ec2';
import { type IRole, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import {
  ApplicationLogLevel,
  Architecture,
  LoggingFormat,
  Runtime,
  SystemLogLevel,
  Tracing,
} from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction, type NodejsFunctionProps, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  ContextAttribute,
  Schedule,
  ScheduleExpression,
  ScheduleTargetInput,
} from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import {
  CUSTOMER_ROLE_ACTIONS,
  customerRoleArnPattern,
  DEFAULT_ENTRIES,
  DEFAULT_VAIKORA_HOSTS,
  REPO_ROOT,
  WORKER_TABLE_ACTIONS,
} from './constants.ts';
import { CentralStackError } from './errors.ts';
import {
  ConnectorMonitoring,
  type ProductAlarmThresholds,
  resolveProductAlarmThresholds,
} from './monitoring.ts';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

export interface CentralStackEntries {
  /** The SQS consumer (`handler` answers with partial batch responses). */
  readonly worker: string;
  /** Run every minute by EventBridge Scheduler; enqueues due tenants. */
  readonly dispatcher: string;
  /** The Hono control plane through `hono/aws-lambda`. */
  readonly api: string;
}

export interface CentralStackProps extends StackProps {
  /** Handler modules, each exporting `handler`; default the apps' Lambda entries (DEFAULT_ENTRIES). */
  readonly entries?: Partial<CentralStackEntries> | undefined;
  /** The worker role's fixed name, which customers' trust policies name; default `vsh-connector-worker`. */
  readonly workerRoleName?: string | undefined;
  /** Where the rendered customer template is published (https, S3); default a stack parameter. */
  readonly customerTemplateUrl?: string | undefined;
  /** Vaikora hosts the API accepts in tenants' settings; default `api.vaikora.com`. */
  readonly vaikoraAllowedHosts?: readonly string[] | undefined;
  /** Complete ARN of an existing secret {host,port,username,password,dbname}; default a placeholder secret. */
  readonly databaseSecretArn?: string | undefined;
  /** Complete ARN of an existing secret holding the operator API key; default a generated secret. */
  readonly operatorKeySecretArn?: string | undefined;
  /** Subscribed to the alarm topic when set (the address must confirm the subscription). */
  readonly alarmEmail?: string | undefined;
  /** Thresholds of the lag, failed-run and rejected-record alarms (docs/adr/0072). */
  readonly productAlarms?: Partial<ProductAlarmThresholds> | undefined;
  /** Runs the functions in this VPC's private subnets (for a database without a public endpoint). */
  readonly vpc?: IVpc | undefined;
  /** Looked up at synth (needs an explicit account and region) when `vpc` is not given. */
  readonly vpcId?: string | undefined;
  /** Default: private subnets with egress (the functions call STS, Security Hub and Vaikora). */
  readonly vpcSubnets?: SubnetSelection | undefined;
  /** Most worker instances at once; also the SQS event source's maximum concurrency. Default 10. */
  readonly workerReservedConcurrency?: number | undefined;
  /** Default 5 minutes; the queue's visibility timeout is six times this. */
  readonly workerTimeout?: Duration | undefined;
  /** Tenant messages per worker invocation; default 5. */
  readonly workerBatchSize?: number | undefined;
  /** HTTP API stage throttling; default 50 requests/s, bursts of 100. */
  readonly apiThrottle?: { readonly rateLimit: number; readonly burstLimit: number } | undefined;
  /** Default three months. */
  readonly logRetention?: RetentionDays | undefined;
  /** LOG_LEVEL for the apps; default `info`. */
  readonly logLevel?: LogLevel | undefined;
  /** Default Node.js 24 (see docs/adr/0070). */
  readonly runtime?: Runtime | undefined;
}

const SECRET_ARN =
  /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$/;
const HOST_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

// Lambda deprecated nodejs20.x with Node.js 20's end of life (30 April 2026) and then stops
// accepting it for new and updated functions; nodejs24.x is the latest, supported into 2028.
const DEFAULT_RUNTIME = Runtime.NODEJS_24_X;

// esbuild's ESM output has no `require`; CommonJS dependencies (pino, postgres) still call it.
const ESM_REQUIRE_BANNER =
  "import { createRequire as __vshCreateRequire } from 'node:module'; const require = __vshCreateRequire(import.meta.url);";

/**
 * Data443's hosted connector: state table, work queue and dead-letter queue, tenant-secrets key,
 * database and operator secrets, the worker, dispatcher and API functions with one role each,
 * the dispatch schedule, and the alarms. Environment-agnostic: no account or region is built in.
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
    const settings = validate(props);
    const entries = { ...DEFAULT_ENTRIES, ...props.entries };

    // --- state, queue, key, secrets -------------------------------------------------------------

    // AWS-owned encryption: the table holds leases and cursors, no secret; a customer managed key
    // would have to be granted (Encrypt and GenerateDataKey too) to every reader and writer.
    this.stateTable = new Table(this, 'StateTable', {
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      sortKey: { name: 'sk', type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: 'expiresAt',
      encryption: TableEncryption.DEFAULT,
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // SQS-managed encryption: messages carry a tenant id and a timestamp. Under the tenant-secrets
    // key the dispatcher would need kms:GenerateDataKey on the key that guards Vaikora API keys.
    this.deadLetterQueue = new Queue(this, 'WorkDeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.workQueue = new Queue(this, 'WorkQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // Six times the worker's timeout, as Lambda advises for SQS event sources: a message is not
      // handed to a second worker while the first may still be working on it.
      visibilityTimeout: Duration.seconds(settings.workerTimeout.toSeconds() * 6),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: 5 },
    });

    // Losing this key loses every tenant's Vaikora key: retained, and never scheduled for deletion
    // by a stack deletion.
    this.tenantSecretsKey = new Key(this, 'TenantSecretsKey', {
      description: `${this.stackName}: envelope encryption of tenants' Vaikora API keys`,
      enableKeyRotation: true,
      alias: `alias/${this.stackName}/tenant-secrets`,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.databaseSecret =
      props.databaseSecretArn === undefined
        ? this.placeholderDatabaseSecret()
        : Secret.fromSecretCompleteArn(this, 'DatabaseSecret', props.databaseSecretArn);
    this.operatorKeySecret =
      props.operatorKeySecretArn === undefined
        ? this.generatedOperatorKeySecret()
        : Secret.fromSecretCompleteArn(this, 'OperatorKeySecret', props.operatorKeySecretArn);

    const customerTemplateUrl = props.customerTemplateUrl ?? this.customerTemplateUrlParameter();

    // --- network (optional) ---------------------------------------------------------------------

    const vpc =
      props.vpc ??
      (props.vpcId === undefined ? undefined : Vpc.fromLookup(this, 'Vpc', { vpcId: props.vpcId }));
    const network =
      vpc === undefined
        ? undefined
        : {
            vpc,
            vpcSubnets: props.vpcSubnets ?? { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
            securityGroups: [
              new SecurityGroup(this, 'FunctionSecurityGroup', {
                vpc,
                description: 'The connector functions: allow this group on the database port',
                allowAllOutbound: true,
              }),
            ],
          };

    // --- roles ----------------------------------------------------------------------------------

    const lambdaPrincipal = new ServicePrincipal('lambda.amazonaws.com');
    this.apiRole = new Role(this, 'ApiRole', {
      assumedBy: lambdaPrincipal,
      description: 'The connector API (control plane)',
    });
    this.dispatcherRole = new Role(this, 'DispatcherRole', {
      assumedBy: lambdaPrincipal,
      description: 'The connector dispatcher: enqueues due tenants',
    });
    // A fixed name at the root path: customers' trust policies admit exactly
    // arn:<partition>:iam::<this account>:role/<this name> (docs/adr/0040).
    this.workerRole = new Role(this, 'WorkerRole', {
      roleName: settings.workerRoleName,
      assumedBy: lambdaPrincipal,
      description: 'The connector worker: assumes customer roles to import findings into Security Hub',
    });
    const workerRoleArn = this.formatArn({
      service: 'iam',
      region: '',
      resource: 'role',
      resourceName: settings.workerRoleName,
    });

    // The API verifies a customer role as the worker: customers trust only the worker role, so the
    // API assumes it (role chaining) and then the customer role (docs/adr/0070).
    this.workerRole.assumeRolePolicy?.addStatements(
      new PolicyStatement({
        sid: 'ApiVerifiesCustomerRolesAsTheWorker',
        principals: [this.apiRole],
        actions: ['sts:AssumeRole'],
      }),
    );

    this.workerRole.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'AssumeCustomerRoles',
        actions: [...CUSTOMER_ROLE_ACTIONS],
        resources: [customerRoleArnPattern(Aws.PARTITION)],
      }),
    );
    this.workerRole.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'UseOwnStateTable',
        actions: [...WORKER_TABLE_ACTIONS],
        resources: [this.stateTable.tableArn],
      }),
    );
    this.workerRole.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'DecryptTenantSecrets',
        actions: ['kms:Decrypt'],
        resources: [this.tenantSecretsKey.keyArn],
      }),
    );
    this.apiRole.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'EncryptAndDecryptTenantSecrets',
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: [this.tenantSecretsKey.keyArn],
      }),
    );
    this.apiRole.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'AssumeTheWorkerRoleToVerify',
        actions: ['sts:AssumeRole'],
        resources: [workerRoleArn],
      }),
    );
    this.databaseSecret.grantRead(this.workerRole);
    this.databaseSecret.grantRead(this.dispatcherRole);
    this.databaseSecret.grantRead(this.apiRole);
    this.operatorKeySecret.grantRead(this.apiRole);
    this.workQueue.grantSendMessages(this.dispatcherRole);
    this.workQueue.grantSendMessages(this.apiRole);
    if (network !== undefined) {
      for (const role of [this.workerRole, this.dispatcherRole, this.apiRole]) allowVpcNetworking(role);
    }

    // --- functions ------------------------------------------------------------------------------

    const baseEnvironment = {
      DATABASE_SECRET_ARN: this.databaseSecret.secretArn,
      KMS_KEY_ID: this.tenantSecretsKey.keyArn,
      WORK_QUEUE_URL: this.workQueue.queueUrl,
      LOG_LEVEL: settings.logLevel,
      NODE_OPTIONS: '--enable-source-maps',
      // Node 24's background compile threads each get a glibc malloc arena that keeps freed memory:
      // two arenas measured 129-138 MB after loading the worker's modules against 189 MB with the
      // default (issue 11's bench:hostile); the heap itself is the same.
      MALLOC_ARENA_MAX: '2',
    };
    const fn = (
      id: string,
      entry: string,
      role: Role,
      description: string,
      options: Pick<NodejsFunctionProps, 'memorySize' | 'timeout' | 'reservedConcurrentExecutions'> & {
        environment: Record<string, string>;
        /** Shell commands run in the asset folder after esbuild, e.g. to copy files it cannot bundle. */
        afterBundling?: (outputDir: string) => string[];
      },
    ): NodejsFunction => {
      const { afterBundling, ...functionOptions } = options;
      const logGroup = new LogGroup(this, `${id}LogGroup`, {
        retention: settings.logRetention,
        removalPolicy: RemovalPolicy.RETAIN,
      });
      logGroup.grantWrite(role);
      return new NodejsFunction(this, id, {
        entry,
        handler: 'handler',
        description,
        role,
        logGroup,
        runtime: settings.runtime,
        architecture: Architecture.ARM_64,
        loggingFormat: LoggingFormat.JSON,
        applicationLogLevelV2: ApplicationLogLevel.INFO,
        systemLogLevelV2: SystemLogLevel.WARN,
        tracing: Tracing.DISABLED,
        projectRoot: REPO_ROOT,
        depsLockFilePath: join(REPO_ROOT, 'pnpm-lock.yaml'),
        bundling: {
          forceDockerBundling: false,
          format: OutputFormat.ESM,
          mainFields: ['module', 'main'],
          banner: ESM_REQUIRE_BANNER,
          minify: true,
          sourceMap: true,
          // The repository pins every @aws-sdk/* to one tested release; the runtime's copy differs.
          bundleAwsSDK: true,
          ...(afterBundling === undefined
            ? {}
            : {
                commandHooks: {
                  beforeBundling: () => [],
                  beforeInstall: () => [],
                  afterBundling: (_inputDir: string, outputDir: string) => afterBundling(outputDir),
                },
              }),
        },
        ...(network === undefined ? {} : network),
        ...functionOptions,
      });
    };

    this.worker = fn('Worker', entries.worker, this.workerRole, 'Runs due tenants: Vaikora to Security Hub', {
      memorySize: 1024,
      timeout: settings.workerTimeout,
      reservedConcurrentExecutions: settings.workerReservedConcurrency,
      environment: {
        ...baseEnvironment,
        STATE_TABLE_NAME: this.stateTable.tableName,
        // A run stops (and saves its cursors) before Lambda's timeout would kill it mid-write and
        // lose the metrics the invocation flushes at its end.
        RUN_BUDGET_MS: String(runBudget(settings.workerTimeout).toMilliseconds()),
      },
    });
    this.worker.addEventSource(
      new SqsEventSource(this.workQueue, {
        batchSize: settings.workerBatchSize,
        reportBatchItemFailures: true,
        maxConcurrency: settings.workerReservedConcurrency,
      }),
    );

    this.dispatcher = fn('Dispatcher', entries.dispatcher, this.dispatcherRole, 'Enqueues due tenants', {
      memorySize: 256,
      timeout: Duration.seconds(50),
      environment: { ...baseEnvironment, STATE_TABLE_NAME: this.stateTable.tableName },
    });

    this.api = fn('Api', entries.api, this.apiRole, 'The connector control plane (Hono)', {
      // Read at run time from beside the bundle: the /docs viewer's files (ADR 0097), and the migrations
      // the API applies at start and counts for /ready.
      afterBundling: (outputDir) => [
        ...viewerAssetCopyCommands(outputDir),
        ...migrationCopyCommands(outputDir),
      ],
      memorySize: 512,
      // API Gateway's integration timeout is 30 s.
      timeout: Duration.seconds(29),
      environment: {
        ...baseEnvironment,
        APP_ENV: 'production',
        OPERATOR_KEY_SECRET_ARN: this.operatorKeySecret.secretArn,
        DATA443_ACCOUNT_ID: Aws.ACCOUNT_ID,
        WORKER_ROLE_NAME: settings.workerRoleName,
        WORKER_ROLE_ARN: workerRoleArn,
        CUSTOMER_TEMPLATE_URL: customerTemplateUrl,
        VAIKORA_ALLOWED_HOSTS: settings.vaikoraAllowedHosts.join(','),
      },
    });

    // One tick a minute; a missed or failed tick is not retried, the next one does its work.
    this.scheduleRole = new Role(this, 'DispatchScheduleRole', {
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
      description: 'EventBridge Scheduler: invokes the connector dispatcher',
    });
    this.dispatchSchedule = new Schedule(this, 'DispatchSchedule', {
      description: 'Runs the dispatcher every minute',
      schedule: ScheduleExpression.rate(Duration.minutes(1)),
      target: new LambdaInvoke(this.dispatcher, {
        role: this.scheduleRole,
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

    // --- HTTP API -------------------------------------------------------------------------------

    this.httpApi = new HttpApi(this, 'HttpApi', {
      description: 'Vaikora to Security Hub connector: control plane',
      defaultIntegration: new HttpLambdaIntegration('ApiIntegration', this.api),
      createDefaultStage: false,
    });
    // Sign-in links (ADR 0098) name the control plane's public address; behind a custom domain, set the
    // API's PUBLIC_BASE_URL to it instead.
    this.api.addEnvironment('PUBLIC_BASE_URL', this.httpApi.apiEndpoint);
    const accessLogs = new LogGroup(this, 'HttpApiAccessLogs', {
      retention: settings.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    new HttpStage(this, 'HttpApiDefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: settings.apiThrottle,
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.jsonWithStandardFields(),
      },
    });

    // --- alarms ---------------------------------------------------------------------------------

    this.alarmTopic = new Topic(this, 'AlarmTopic', {
      displayName: 'Vaikora Security Hub connector alarms',
      enforceSSL: true,
    });
    if (props.alarmEmail !== undefined)
      this.alarmTopic.addSubscription(new EmailSubscription(props.alarmEmail));
    this.monitoring = new ConnectorMonitoring(this, 'ProductMetrics', {
      topic: this.alarmTopic,
      thresholds: settings.productAlarms,
    });
    this.alarms = { ...this.createAlarms(), ...this.monitoring.alarms };

    this.acknowledgeNagFindings(network !== undefined);

    // --- outputs --------------------------------------------------------------------------------

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
    if (network !== undefined) {
      const [group] = network.securityGroups;
      if (group !== undefined) {
        outputs.FunctionSecurityGroupId = [group.securityGroupId, 'Allow on the database port'];
      }
    }
    for (const [name, [value, description]] of Object.entries(outputs)) {
      new CfnOutput(this, name, { value, description });
    }
  }

  private placeholderDatabaseSecret(): Secret {
    // The password is generated; host (and whatever else differs) is filled in by Data443 before
    // the functions are used. No value of it ever appears in the template.
    return new Secret(this, 'DatabaseSecret', {
      description: `${this.stackName}: PostgreSQL connection {host,port,username,password,dbname}; fill in host`,
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ host: '', port: 5432, username: 'vsh', dbname: 'vsh' }),
        generateStringKey: 'password',
        excludePunctuation: true,
        passwordLength: 40,
      },
      // It may hold the only copy of the database password.
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  private generatedOperatorKeySecret(): Secret {
    return new Secret(this, 'OperatorKeySecret', {
      description: `${this.stackName}: the operator API key of the control plane`,
      generateSecretString: { excludePunctuation: true, passwordLength: 64 },
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  private customerTemplateUrlParameter(): string {
    return new CfnParameter(this, 'CustomerTemplateUrl', {
      type: 'String',
      description:
        'https URL (S3) of the published customer-role template, rendered with this account ID (renderTemplateBody)',
      allowedPattern: '^https://[^\\s]+$',
      constraintDescription: 'must be an https URL',
    }).valueAsString;
  }

  private createAlarms(): Record<string, Alarm> {
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
      const created = new Alarm(this, id, {
        metric,
        alarmDescription: description,
        threshold,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        ...periods,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      created.addAlarmAction(new SnsAction(this.alarmTopic));
      created.addOkAction(new SnsAction(this.alarmTopic));
      return created;
    };
    const fiveMinutes = Duration.minutes(5);
    return {
      deadLetters: alarm(
        'DeadLetterMessagesAlarm',
        this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: fiveMinutes,
          statistic: 'Maximum',
        }),
        'Tenant messages failed five times and reached the dead-letter queue: read the worker logs for those tenant ids, fix, then redrive the DLQ.',
        1,
      ),
      workerErrors: alarm(
        'WorkerErrorsAlarm',
        this.worker.metricErrors({ period: fiveMinutes, statistic: 'Sum' }),
        'Worker invocations failed as a whole (crash, timeout, bad deploy); per-tenant failures are batch item failures, not errors.',
        1,
      ),
      workerThrottles: alarm(
        'WorkerThrottlesAlarm',
        this.worker.metricThrottles({ period: fiveMinutes, statistic: 'Sum' }),
        'Worker invocations were throttled: the account concurrency or the reserved concurrency is exhausted.',
        1,
      ),
      workQueueAge: alarm(
        'WorkQueueBacklogAlarm',
        this.workQueue.metricApproximateAgeOfOldestMessage({ period: fiveMinutes, statistic: 'Maximum' }),
        'The oldest tenant message waited more than 15 minutes: workers are not keeping up (raise the reserved concurrency) or failing.',
        900,
      ),
      dispatcherErrors: alarm(
        'DispatcherErrorsAlarm',
        this.dispatcher.metricErrors({ period: Duration.minutes(1), statistic: 'Sum' }),
        'The dispatcher failed in two of the last three minutes: no tenant is being enqueued (database or queue unreachable?).',
        1,
        { evaluationPeriods: 3, datapointsToAlarm: 2 },
      ),
      apiServerErrors: alarm(
        'ApiServerErrorsAlarm',
        this.httpApi.metricServerError({ period: fiveMinutes, statistic: 'Sum' }),
        'The API answered 5xx (the app maps every expected failure to 4xx): read the API function logs.',
        1,
      ),
    };
  }

  /**
   * cdk-nag findings that stay, each acknowledged on the construct it concerns with the reason
   * (cdk-nag 3 reads CDK's own `Validations.of(scope).acknowledge()`; docs/adr/0070).
   */
  private acknowledgeNagFindings(inVpc: boolean): void {
    Validations.of(this.workerRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${customerRoleArnPattern('<AWS::Partition>')}]`,
      reason:
        "Customer accounts are unknown by construction (any customer may onboard), hence the '*' account; the Data443-Vaikora name prefix, each customer's trust policy (this role only, by aws:PrincipalArn) and the per-registration sts:ExternalId close it.",
    });
    Validations.of(this.scheduleRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${this.getLogicalId(this.dispatcher.node.defaultChild as CfnResource)}.Arn>:*]`,
      reason:
        "CDK's grantInvoke adds the dispatcher's own qualified ARNs (versions and aliases, '<arn>:*'); the statement names this one function and no other.",
    });
    if (this.worker.runtime.name !== DEFAULT_RUNTIME.name) {
      for (const f of [this.worker, this.dispatcher, this.api]) {
        Validations.of(f).acknowledge({
          id: 'AwsSolutions-L1',
          reason: `props.runtime chose ${f.runtime.name} over the latest Node.js runtime for this deployment on purpose.`,
        });
      }
    }
    if (this.databaseSecret instanceof Secret) {
      Validations.of(this.databaseSecret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          "The database user's password is rotated where the database is run (e.g. RDS-managed master password rotation, then this secret updated); a rotation Lambda here would have to know that database.",
      });
    }
    if (this.operatorKeySecret instanceof Secret) {
      Validations.of(this.operatorKeySecret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'The operator key is rotated by hand (put a new value, then redeploy the API): the operators holding it must switch at the same moment, which an automatic rotation cannot arrange.',
      });
    }
    const route = this.httpApi.node.tryFindChild('DefaultRoute');
    if (route !== undefined) {
      Validations.of(route).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason:
          'The API authenticates every request itself (the operator key and per-tenant API keys, hashed in the database); an API Gateway authorizer would repeat that lookup and add no check.',
      });
    }
    if (inVpc) {
      for (const role of [this.workerRole, this.dispatcherRole, this.apiRole]) {
        Validations.of(role).acknowledge({
          id: 'AwsSolutions-IAM5[Resource::*]',
          reason:
            "Lambda creates and deletes the functions' network interfaces with the execution role; ec2:DescribeNetworkInterfaces and DescribeSubnets support no resource-level permissions.",
        });
      }
    }
  }
}

/** The worker's run budget: its timeout less a fifth, at most a minute, kept for the run's last writes. */
function runBudget(timeout: Duration): Duration {
  const seconds = timeout.toSeconds();
  return Duration.seconds(seconds - Math.min(60, Math.floor(seconds / 5)));
}

function allowVpcNetworking(role: IRole): void {
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'ManageFunctionNetworkInterfaces',
      actions: [
        'ec2:AssignPrivateIpAddresses',
        'ec2:CreateNetworkInterface',
        'ec2:DeleteNetworkInterface',
        'ec2:DescribeNetworkInterfaces',
        'ec2:DescribeSubnets',
        'ec2:UnassignPrivateIpAddresses',
      ],
      resources: ['*'],
    }),
  );
}

interface Settings {
  workerRoleName: string;
  vaikoraAllowedHosts: readonly string[];
  workerReservedConcurrency: number;
  workerTimeout: Duration;
  workerBatchSize: number;
  apiThrottle: { rateLimit: number; burstLimit: number };
  logRetention: RetentionDays;
  logLevel: LogLevel;
  runtime: Runtime;
  productAlarms: ProductAlarmThresholds;
}

function validate(props: CentralStackProps): Settings {
  const workerRoleName = props.workerRoleName ?? DEFAULT_WORKER_ROLE_NAME;
  if (!IAM_ROLE_NAME_PATTERN.test(workerRoleName)) {
    throw new CentralStackError('invalid_worker_role_name', 'workerRoleName must be an IAM role name');
  }
  for (const [name, arn] of [
    ['databaseSecretArn', props.databaseSecretArn],
    ['operatorKeySecretArn', props.operatorKeySecretArn],
  ] as const) {
    if (arn !== undefined && !SECRET_ARN.test(arn)) {
      throw new CentralStackError(
        'invalid_secret_arn',
        `${name} must be a complete Secrets Manager ARN (with the 6-character suffix)`,
      );
    }
  }
  if (props.customerTemplateUrl !== undefined && !/^https:\/\/\S+$/.test(props.customerTemplateUrl)) {
    throw new CentralStackError('invalid_template_url', 'customerTemplateUrl must be an https URL');
  }
  const vaikoraAllowedHosts = props.vaikoraAllowedHosts ?? DEFAULT_VAIKORA_HOSTS;
  if (vaikoraAllowedHosts.length === 0 || vaikoraAllowedHosts.some((host) => !HOST_NAME.test(host))) {
    throw new CentralStackError('invalid_allowed_hosts', 'vaikoraAllowedHosts must be lower-case host names');
  }
  const workerReservedConcurrency = props.workerReservedConcurrency ?? 10;
  // The SQS event source's maximum concurrency must be 2 to 1000.
  if (
    !Number.isInteger(workerReservedConcurrency) ||
    workerReservedConcurrency < 2 ||
    workerReservedConcurrency > 1000
  ) {
    throw new CentralStackError(
      'invalid_concurrency',
      'workerReservedConcurrency must be an integer from 2 to 1000',
    );
  }
  if (props.alarmEmail !== undefined && !EMAIL.test(props.alarmEmail)) {
    throw new CentralStackError('invalid_email', 'alarmEmail must be an email address');
  }
  return {
    workerRoleName,
    vaikoraAllowedHosts,
    workerReservedConcurrency,
    workerTimeout: props.workerTimeout ?? Duration.minutes(5),
    workerBatchSize: props.workerBatchSize ?? 5,
    apiThrottle: props.apiThrottle ?? { rateLimit: 50, burstLimit: 100 },
    logRetention: props.logRetention ?? RetentionDays.THREE_MONTHS,
    logLevel: props.logLevel ?? 'info',
    runtime: props.runtime ?? DEFAULT_RUNTIME,
    productAlarms: resolveProductAlarmThresholds(props.productAlarms),
  };
}
