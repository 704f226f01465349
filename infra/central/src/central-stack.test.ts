import {
  ACCOUNT_ID_PATTERN,
  CUSTOMER_ROLE_PARAMETERS,
  customerTrustPolicy,
  DEFAULT_ROLE_NAME,
  DEFAULT_WORKER_ROLE_NAME,
  IAM_ROLE_NAME_PATTERN,
  isCustomerRoleName,
  loadTemplate,
  ROLE_NAME_PATTERN,
  ROLE_NAME_PREFIX,
  roleArn,
  SUPPORTED_PARTITIONS,
} from '@vsh/customer-role';
import {
  DIMENSIONS,
  FAILED_RUN_STATUS,
  METRIC_NAMES,
  METRICS_NAMESPACE,
  SERVICE_DIMENSION,
  SERVICES,
} from '@vsh/worker/metrics-contract';
import { Validations } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  evaluate,
  iamGlobMatches,
  logicalId,
  normalize,
  property,
  roleStatements,
  type Statement,
  synthesize,
} from '../test/synth.ts';
import { CUSTOMER_ROLE_ACTIONS, WORKER_TABLE_ACTIONS } from './constants.ts';

// One synthesized stack for the whole file (the synth, with cdk-nag, takes seconds): the resources,
// each role's exact permissions, the cdk-nag verdict, and the contract with the customer template.
const synth = synthesize();
const { stack, template, json } = synth;
afterAll(() => synth.cleanup());

const id = {
  table: logicalId(stack, stack.stateTable),
  queue: logicalId(stack, stack.workQueue),
  dlq: logicalId(stack, stack.deadLetterQueue),
  key: logicalId(stack, stack.tenantSecretsKey),
  databaseSecret: logicalId(stack, stack.databaseSecret),
  operatorSecret: logicalId(stack, stack.operatorKeySecret),
  worker: logicalId(stack, stack.worker),
  dispatcher: logicalId(stack, stack.dispatcher),
  api: logicalId(stack, stack.api),
  workerRole: logicalId(stack, stack.workerRole),
  dispatcherRole: logicalId(stack, stack.dispatcherRole),
  apiRole: logicalId(stack, stack.apiRole),
  httpApi: logicalId(stack, stack.httpApi),
  topic: logicalId(stack, stack.alarmTopic),
};
const arnOf = (logical: string) => ({ 'Fn::GetAtt': [logical, 'Arn'] });
const ref = (logical: string) => ({ Ref: logical });
const logGroupOf = (fnLogicalId: string) => {
  const config = json.Resources[fnLogicalId]?.Properties?.LoggingConfig as { LogGroup: { Ref: string } };
  return config.LogGroup.Ref;
};
const allStatements = (): Statement[] =>
  Object.values(json.Resources).flatMap((resource) => {
    if (resource.Type === 'AWS::IAM::Policy') {
      return property<{ Statement: Statement[] }>(resource, 'PolicyDocument').Statement;
    }
    if (resource.Type === 'AWS::IAM::Role') {
      return (
        (resource.Properties?.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[]
      ).flatMap((policy) => policy.PolicyDocument.Statement);
    }
    return [];
  });
const actionsOf = (statements: readonly Statement[]) => statements.flatMap((s) => normalize(s).actions);

describe('state table', () => {
  it('is on-demand with pk/sk string keys, point-in-time recovery, TTL on expiresAt and deletion protection', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: {
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        DeletionProtectionEnabled: true,
        // SSEEnabled false is DynamoDB's AWS-owned key (encrypted at rest, no key to grant).
        SSESpecification: { SSEEnabled: false },
        GlobalSecondaryIndexes: Match.absent(),
      },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
  });
});

describe('work queue', () => {
  it('redrives to the dead-letter queue after 5 receives, with SQS-managed encryption on both', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: { deadLetterTargetArn: arnOf(id.dlq), maxReceiveCount: 5 },
      SqsManagedSseEnabled: true,
    });
    expect(json.Resources[id.dlq]?.Properties).toMatchObject({ SqsManagedSseEnabled: true });
    template.resourceCountIs('AWS::SQS::Queue', 2);
  });

  it('keeps a message hidden for at least six worker timeouts', () => {
    const visibility = json.Resources[id.queue]?.Properties?.VisibilityTimeout;
    const timeout = json.Resources[id.worker]?.Properties?.Timeout;

    expect(typeof visibility).toBe('number');
    expect(visibility).toBeGreaterThanOrEqual(6 * Number(timeout));
  });

  it('refuses requests without TLS on both queues', () => {
    for (const queue of [id.queue, id.dlq]) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [ref(queue)],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 'sqs:*',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
    }
  });

  it('feeds the worker with partial batch responses, capped at its reserved concurrency', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: arnOf(id.queue),
      FunctionName: ref(id.worker),
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 10 },
    });
    expect(json.Resources[id.worker]?.Properties?.ReservedConcurrentExecutions).toBe(10);
  });
});

describe('tenant-secrets key', () => {
  it('rotates, has an alias and survives the stack', () => {
    template.hasResource('AWS::KMS::Key', {
      Properties: { EnableKeyRotation: true },
      DeletionPolicy: 'Retain',
    });
    template.hasResourceProperties('AWS::KMS::Alias', {
      AliasName: 'alias/Central/tenant-secrets',
      TargetKeyId: arnOf(id.key),
    });
  });
});

describe('dispatch schedule', () => {
  it('invokes the dispatcher every minute through EventBridge Scheduler, without retries', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Target: {
        Arn: arnOf(id.dispatcher),
        RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 },
      },
    });
  });

  it("sends the dispatcher the tick's execution id, scheduled time and attempt, filled in by the scheduler", () => {
    const schedule = Object.values(json.Resources).find((r) => r.Type === 'AWS::Scheduler::Schedule');
    const input = property<{ Input: string }>(schedule, 'Target').Input;

    expect(JSON.parse(input)).toEqual({
      executionId: '<aws.scheduler.execution-id>',
      scheduledTime: '<aws.scheduler.scheduled-time>',
      attemptNumber: '<aws.scheduler.attempt-number>',
    });
  });

  it("uses a role that may only invoke the dispatcher, assumable by the scheduler for this account's schedules", () => {
    const roleId = logicalId(stack, stack.scheduleRole);

    expect(roleStatements(json, roleId).map(normalize)).toEqual([
      {
        effect: 'Allow',
        actions: ['lambda:InvokeFunction'],
        resources: [arnOf(id.dispatcher), { 'Fn::Join': ['', [arnOf(id.dispatcher), ':*']] }],
        condition: undefined,
      },
    ]);
    expect(json.Resources[roleId]?.Properties?.AssumeRolePolicyDocument).toMatchObject({
      Statement: [
        {
          Principal: { Service: 'scheduler.amazonaws.com' },
          Condition: { StringEquals: { 'aws:SourceAccount': ref('AWS::AccountId') } },
        },
      ],
    });
  });
});

describe('functions', () => {
  const environmentKeys = (fn: string) =>
    Object.keys(property<{ Variables: object }>(json.Resources[fn], 'Environment').Variables).toSorted();

  it('run on arm64 with JSON logs into their own log group with a retention', () => {
    for (const fn of [id.worker, id.dispatcher, id.api]) {
      expect(json.Resources[fn]?.Properties).toMatchObject({
        Architectures: ['arm64'],
        Handler: 'index.handler',
        Runtime: 'nodejs24.x',
        LoggingConfig: { LogFormat: 'JSON', ApplicationLogLevel: 'INFO', SystemLogLevel: 'WARN' },
      });
      expect(json.Resources[logGroupOf(fn)]).toMatchObject({
        Type: 'AWS::Logs::LogGroup',
        Properties: { RetentionInDays: 90 },
      });
    }
  });

  it('get the environment each app reads, and the API is told it runs in production', () => {
    const common = [
      'DATABASE_SECRET_ARN',
      'KMS_KEY_ID',
      'LOG_LEVEL',
      'MALLOC_ARENA_MAX',
      'NODE_OPTIONS',
      'WORK_QUEUE_URL',
    ];

    expect(environmentKeys(id.worker)).toEqual(
      [...common, 'RUN_BUDGET_MS', 'STATE_INLINE_CURSORS', 'STATE_TABLE_NAME'].toSorted(),
    );
    expect(environmentKeys(id.dispatcher)).toEqual([...common, 'STATE_TABLE_NAME'].toSorted());
    expect(environmentKeys(id.api)).toEqual(
      [
        ...common,
        'APP_ENV',
        'CUSTOMER_TEMPLATE_URL',
        'DATA443_ACCOUNT_ID',
        'OPERATOR_KEY_SECRET_ARN',
        'PUBLIC_BASE_URL',
        'VAIKORA_ALLOWED_HOSTS',
        'WORKER_ROLE_ARN',
        'WORKER_ROLE_NAME',
      ].toSorted(),
    );
    expect(json.Resources[id.api]?.Properties?.Environment).toMatchObject({
      Variables: {
        APP_ENV: 'production',
        DATA443_ACCOUNT_ID: ref('AWS::AccountId'),
        WORKER_ROLE_NAME: DEFAULT_WORKER_ROLE_NAME,
        CUSTOMER_TEMPLATE_URL: ref('CustomerTemplateUrl'),
        VAIKORA_ALLOWED_HOSTS: 'api.vaikora.com',
        DATABASE_SECRET_ARN: ref(id.databaseSecret),
        OPERATOR_KEY_SECRET_ARN: ref(id.operatorSecret),
        KMS_KEY_ID: arnOf(id.key),
      },
    });
    // Sign-in links and template downloads name the API's own public address.
    expect(
      property<{ Variables: Record<string, unknown> }>(json.Resources[id.api], 'Environment').Variables
        .PUBLIC_BASE_URL,
    ).toEqual({ 'Fn::GetAtt': [id.httpApi, 'ApiEndpoint'] });
    expect(json.Resources[id.worker]?.Properties?.Environment).toMatchObject({
      Variables: {
        STATE_TABLE_NAME: ref(id.table),
        WORK_QUEUE_URL: ref(id.queue),
        STATE_INLINE_CURSORS: 'true',
      },
    });
  });

  it("stop the worker's runs a minute before its 5-minute timeout, so that the invocation ends and flushes its metrics", () => {
    expect(json.Resources[id.worker]?.Properties).toMatchObject({
      Timeout: 300,
      Environment: { Variables: { RUN_BUDGET_MS: '240000' } },
    });
  });

  it('asks for the published customer template URL as a stack parameter when no prop gives it', () => {
    template.hasParameter('CustomerTemplateUrl', { Type: 'String', AllowedPattern: '^https://[^\\s]+$' });
  });

  it('serve the API through an HTTP API stage with throttling and access logs', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      ApiId: ref(id.httpApi),
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('requestId') },
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      IntegrationUri: arnOf(id.api),
    });
  });
});

describe('worker role', () => {
  it('has the fixed name customers trust, at the root path', () => {
    expect(json.Resources[id.workerRole]?.Properties).toMatchObject({ RoleName: DEFAULT_WORKER_ROLE_NAME });
    expect(json.Resources[id.workerRole]?.Properties?.Path).toBeUndefined();
  });

  it('may do exactly: assume customer roles, use its own table, queue, key, database secret and log group', () => {
    const expected = [
      {
        effect: 'Allow',
        actions: ['sts:AssumeRole', 'sts:SetSourceIdentity'],
        resources: [{ 'Fn::Join': ['', ['arn:', ref('AWS::Partition'), ':iam::*:role/Data443-Vaikora*']] }],
        condition: undefined,
      },
      {
        effect: 'Allow',
        actions: [...WORKER_TABLE_ACTIONS].toSorted(),
        resources: [arnOf(id.table)],
        condition: undefined,
      },
      {
        effect: 'Allow',
        actions: [
          'sqs:ChangeMessageVisibility',
          'sqs:DeleteMessage',
          'sqs:GetQueueAttributes',
          'sqs:GetQueueUrl',
          'sqs:ReceiveMessage',
        ],
        resources: [arnOf(id.queue)],
        condition: undefined,
      },
      { effect: 'Allow', actions: ['kms:Decrypt'], resources: [arnOf(id.key)], condition: undefined },
      {
        effect: 'Allow',
        actions: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
        resources: [ref(id.databaseSecret)],
        condition: undefined,
      },
      // CloudWatch Logs is the one service the function's own logging needs; scoped to its group.
      {
        effect: 'Allow',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [arnOf(logGroupOf(id.worker))],
        condition: undefined,
      },
    ];

    const actual = roleStatements(json, id.workerRole).map(normalize);

    expect(actual).toHaveLength(expected.length);
    expect(actual).toEqual(expect.arrayContaining(expected));
    expect(json.Resources[id.workerRole]?.Properties?.ManagedPolicyArns).toBeUndefined();
  });

  it('cannot scan or administer its table, and holds no Security Hub permission of its own', () => {
    const actions = actionsOf(roleStatements(json, id.workerRole));

    expect(
      actions.filter((action) =>
        /^dynamodb:(Scan|Delete(Table|Backup)|Update(Table|TimeToLive)|Create)/.test(action),
      ),
    ).toEqual([]);
    expect(actions.filter((action) => action.startsWith('securityhub:'))).toEqual([]);
  });

  it('is assumable by Lambda and, for verification, by the API role only', () => {
    expect(json.Resources[id.workerRole]?.Properties?.AssumeRolePolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Service: 'lambda.amazonaws.com' } },
        {
          Sid: 'ApiVerifiesCustomerRolesAsTheWorker',
          Effect: 'Allow',
          Action: 'sts:AssumeRole',
          Principal: { AWS: arnOf(id.apiRole) },
        },
      ],
    });
  });
});

describe('dispatcher and API roles', () => {
  it('lets the dispatcher only send to the queue, read the database secret and write its logs', () => {
    expect(roleStatements(json, id.dispatcherRole).map(normalize)).toEqual(
      expect.arrayContaining([
        {
          effect: 'Allow',
          actions: ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'],
          resources: [arnOf(id.queue)],
          condition: undefined,
        },
        {
          effect: 'Allow',
          actions: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
          resources: [ref(id.databaseSecret)],
          condition: undefined,
        },
      ]),
    );
    expect(roleStatements(json, id.dispatcherRole)).toHaveLength(3);
  });

  it('gives the API no Security Hub permission and lets it assume only the worker role', () => {
    const statements = roleStatements(json, id.apiRole);
    const assume = statements.filter((s) => normalize(s).actions.some((action) => action.startsWith('sts:')));

    expect(actionsOf(statements).filter((action) => action.startsWith('securityhub:'))).toEqual([]);
    expect(assume.map(normalize)).toEqual([
      {
        effect: 'Allow',
        actions: ['sts:AssumeRole'],
        resources: [
          {
            'Fn::Join': [
              '',
              ['arn:', ref('AWS::Partition'), ':iam::', ref('AWS::AccountId'), ':role/vsh-connector-worker'],
            ],
          },
        ],
        condition: undefined,
      },
    ]);
  });

  it('lets the API encrypt and decrypt tenant secrets, read both secrets and enqueue', () => {
    const actual = roleStatements(json, id.apiRole).map(normalize);

    expect(actual).toEqual(
      expect.arrayContaining([
        {
          effect: 'Allow',
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: [arnOf(id.key)],
          condition: undefined,
        },
        expect.objectContaining({ resources: [ref(id.databaseSecret)] }),
        expect.objectContaining({ resources: [ref(id.operatorSecret)] }),
        expect.objectContaining({
          actions: ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'],
        }),
      ]),
    );
    expect(actual).toHaveLength(6);
  });
});

describe('every identity policy in the stack', () => {
  it('names no wildcard action and no wildcard resource', () => {
    const statements = allStatements();

    expect(statements.length).toBeGreaterThan(0);
    expect(actionsOf(statements).filter((action) => action === '*' || action.endsWith(':*'))).toEqual([]);
    expect(statements.filter((s) => normalize(s).resources.includes('*'))).toEqual([]);
  });

  it('attaches no managed policy to any role', () => {
    const roles = Object.values(json.Resources).filter((resource) => resource.Type === 'AWS::IAM::Role');

    expect(roles.length).toBe(4);
    expect(roles.filter((role) => role.Properties?.ManagedPolicyArns !== undefined)).toEqual([]);
  });
});

describe('stack deletion', () => {
  it('keeps the table, the key, both secrets and every log group', () => {
    const retained = Object.entries(json.Resources)
      .filter(([, resource]) => resource.DeletionPolicy === 'Retain')
      .map(([logical, resource]) => `${resource.Type} ${logical}`);
    const stateful = Object.entries(json.Resources)
      .filter(([, resource]) =>
        [
          'AWS::DynamoDB::Table',
          'AWS::KMS::Key',
          'AWS::SecretsManager::Secret',
          'AWS::Logs::LogGroup',
        ].includes(resource.Type),
      )
      .map(([logical, resource]) => `${resource.Type} ${logical}`);

    expect(stateful).toHaveLength(8);
    expect(retained.toSorted()).toEqual(stateful.toSorted());
  });
});

describe('alarms', () => {
  const alarmOn = (metricName: string, namespace: string, dimensions: unknown) =>
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: metricName,
      Namespace: namespace,
      Dimensions: dimensions,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [ref(id.topic)],
      OKActions: [ref(id.topic)],
    });

  it('watch the dead-letter queue, worker errors and throttles, dispatcher errors and API 5xx', () => {
    alarmOn('ApproximateNumberOfMessagesVisible', 'AWS/SQS', [
      { Name: 'QueueName', Value: { 'Fn::GetAtt': [id.dlq, 'QueueName'] } },
    ]);
    alarmOn('Errors', 'AWS/Lambda', [{ Name: 'FunctionName', Value: ref(id.worker) }]);
    alarmOn('Throttles', 'AWS/Lambda', [{ Name: 'FunctionName', Value: ref(id.worker) }]);
    alarmOn('Errors', 'AWS/Lambda', [{ Name: 'FunctionName', Value: ref(id.dispatcher) }]);
    alarmOn('5xx', 'AWS/ApiGateway', [{ Name: 'ApiId', Value: ref(id.httpApi) }]);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Threshold: 1,
      TreatMissingData: 'notBreaching',
    });
  });

  it('watch the dead-letter queue depth: any message visible (Maximum >= 1, i.e. > 0) notifies the topic', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [id.dlq, 'QueueName'] } }],
      Statistic: 'Maximum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [ref(id.topic)],
      OKActions: [ref(id.topic)],
    });
  });

  it('publish to a topic that refuses publishing without TLS', () => {
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [ref(id.topic)],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    template.resourceCountIs('AWS::SNS::Subscription', 0);
  });
});

describe('product alarms, on the metrics the worker publishes as EMF', () => {
  const worker = { Name: SERVICE_DIMENSION, Value: SERVICES.worker };
  const notifies = {
    AlarmActions: [ref(id.topic)],
    OKActions: [ref(id.topic)],
    TreatMissingData: 'notBreaching',
  };

  it('fire on fleet lag: the largest cursor age of any run, a day or more for two 15-minute periods', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: METRICS_NAMESPACE,
      MetricName: METRIC_NAMES.cursorLag,
      Dimensions: [worker],
      Statistic: 'Maximum',
      Period: 900,
      EvaluationPeriods: 2,
      DatapointsToAlarm: 2,
      Threshold: 86_400,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      ...notifies,
    });
  });

  it('fire on failed runs: 10 or more fleet-wide in 15 minutes', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: METRICS_NAMESPACE,
      MetricName: METRIC_NAMES.runs,
      Dimensions: Match.arrayEquals([{ Name: DIMENSIONS.status, Value: FAILED_RUN_STATUS }, worker]),
      Statistic: 'Sum',
      Period: 900,
      EvaluationPeriods: 1,
      Threshold: 10,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      ...notifies,
    });
  });

  it('fire on the rejection rate: 5 % or more of imported + rejected records in 15 minutes, from 10 rejections', () => {
    const stat = (name: string) => ({
      MetricStat: {
        Metric: { Namespace: METRICS_NAMESPACE, MetricName: name, Dimensions: [worker] },
        Period: 900,
        Stat: 'Sum',
      },
      ReturnData: false,
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: Match.arrayWith([
        Match.objectLike({
          Expression: 'IF(rejected >= 10, 100 * rejected / (rejected + FILL(imported, 0)), 0)',
          ReturnData: true,
        }),
        Match.objectLike({ Id: 'rejected', ...stat(METRIC_NAMES.recordsRejected) }),
        Match.objectLike({ Id: 'imported', ...stat(METRIC_NAMES.findingsImported) }),
      ]),
      Threshold: 5,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      ...notifies,
    });
  });

  it('never watch a per-tenant series: every dimension of every alarm on the namespace is service or Status', () => {
    const dimensionNames = Object.values(json.Resources)
      .filter((r) => r.Type === 'AWS::CloudWatch::Alarm')
      .flatMap((r) => {
        const props = r.Properties ?? {};
        const own = props.Namespace === METRICS_NAMESPACE ? [props.Dimensions] : [];
        const math = ((props.Metrics ?? []) as { MetricStat?: { Metric: { Dimensions: unknown } } }[]).map(
          (m) => m.MetricStat?.Metric.Dimensions,
        );
        return [...own, ...math].flatMap((dims) => ((dims ?? []) as { Name: string }[]).map((d) => d.Name));
      });

    expect(new Set(dimensionNames)).toEqual(new Set([SERVICE_DIMENSION, DIMENSIONS.status]));
    expect(Object.keys(stack.alarms)).toEqual(
      expect.arrayContaining(['deadLetters', 'fleetLag', 'failedRuns', 'rejectedRecords']),
    );
  });

  it('take their thresholds from the productAlarms prop', () => {
    const custom = synthesize({
      props: {
        productAlarms: { lagSeconds: 1800, failedRuns: 3, failedRunsMinutes: 5, rejectedPercent: 20 },
      },
    });
    try {
      custom.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: METRIC_NAMES.cursorLag,
        Threshold: 1800,
      });
      custom.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: METRIC_NAMES.runs,
        Threshold: 3,
        Period: 300,
      });
      custom.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Metrics: Match.arrayWith([Match.objectLike({ ReturnData: true })]),
        Threshold: 20,
      });
    } finally {
      custom.cleanup();
    }
  });
});

/** Every acknowledgment recorded in the construct tree (CDK stores `{ [ruleId]: reason }`), with its path. */
function acknowledgments(): { path: string; id: string; reason: string }[] {
  return stack.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) => Object.entries(entry.data as Record<string, string>))
      // CDK files a plain rule id under its `Annotation::` namespace; cdk-nag matches it without.
      .map(([id, reason]) => ({ path: construct.node.path, id: id.replace(/^annotation::/i, ''), reason })),
  );
}

describe("cdk-nag's AWS Solutions checks", () => {
  it('report no unacknowledged finding on the stack', () => {
    const report = synth.checks.validateScope(stack);

    expect(report.violations).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('leave no error or warning annotation on the synthesized stack', () => {
    const annotations = Annotations.fromStack(stack);

    expect(annotations.findError('*', Match.anyValue())).toEqual([]);
    expect(annotations.findWarning('*', Match.anyValue())).toEqual([]);
  });

  it('are acknowledged only for the findings the ADR lists, each with a specific reason', () => {
    const found = acknowledgments();

    expect(found.map(({ path, id }) => `${path} ${id}`).toSorted()).toEqual(
      [
        'Central/DatabaseSecret AwsSolutions-SMG4',
        'Central/DispatchScheduleRole AwsSolutions-IAM5[Resource::<DispatcherD4A12972.Arn>:*]',
        'Central/HttpApi/DefaultRoute AwsSolutions-APIG4',
        'Central/OperatorKeySecret AwsSolutions-SMG4',
        'Central/WorkerRole AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::*:role/Data443-Vaikora*]',
      ].toSorted(),
    );
    for (const { reason } of found) expect(reason.length).toBeGreaterThan(80);
  });

  it('fail the synth on a wildcard permission nobody acknowledged', () => {
    const broken = () =>
      synthesize({
        before: (stack) =>
          stack.workerRole.addToPrincipalPolicy(
            new PolicyStatement({ actions: ['securityhub:*'], resources: ['*'] }),
          ),
      });

    expect(broken).toThrow(/AwsSolutions-IAM5\[Action::securityhub:\*\]/);
    expect(broken).toThrow(/AwsSolutions-IAM5\[Resource::\*\]/);
  });
});

// The central stack and the customer template (infra/customer-role) describe the two ends of one
// trust: these tests hold them together, through @vsh/customer-role's own constants and policies.
const assumeStatement = roleStatements(json, id.workerRole).find((statement) =>
  ([] as string[]).concat(statement.Action).includes('sts:AssumeRole'),
);
const externalId = 'A'.repeat(43);
const accountIdArb = fc.stringMatching(ACCOUNT_ID_PATTERN);
const partitionArb = fc.constantFrom(...SUPPORTED_PARTITIONS);

describe('the worker role and the customer template', () => {
  it('use the same worker role name: the stack, the template default and DEFAULT_WORKER_ROLE_NAME', () => {
    const templateDefault = loadTemplate().Parameters[CUSTOMER_ROLE_PARAMETERS.workerRoleName]?.Default;

    expect(json.Resources[id.workerRole]?.Properties?.RoleName).toBe(DEFAULT_WORKER_ROLE_NAME);
    expect(templateDefault).toBe(DEFAULT_WORKER_ROLE_NAME);
  });

  it("produce the ARN that the customer trust policy's aws:PrincipalArn condition names", () => {
    fc.assert(
      fc.property(partitionArb, accountIdArb, (partition, data443AccountId) => {
        const trust = customerTrustPolicy({
          partition,
          data443AccountId,
          workerRoleName: DEFAULT_WORKER_ROLE_NAME,
          externalId,
        });
        const workerArn = evaluate({ 'Fn::GetAtt': [id.workerRole, 'Arn'] }, json, {
          partition,
          accountId: data443AccountId,
        });

        expect(trust.Statement[0]?.Condition?.ArnEquals?.['aws:PrincipalArn']).toBe(workerArn);
      }),
    );
  });

  it('agree on the actions: the worker may call exactly what the customer trust allows', () => {
    const trust = customerTrustPolicy({
      partition: 'aws',
      data443AccountId: '123456789012',
      workerRoleName: DEFAULT_WORKER_ROLE_NAME,
      externalId,
    });

    expect([...CUSTOMER_ROLE_ACTIONS].toSorted()).toEqual([...(trust.Statement[0]?.Action ?? [])].toSorted());
    expect(([] as string[]).concat(assumeStatement?.Action ?? []).toSorted()).toEqual([
      ...CUSTOMER_ROLE_ACTIONS,
    ]);
  });
});

describe("the worker's AssumeRole resource", () => {
  const patternFor = (partition: string) =>
    evaluate(assumeStatement?.Resource, json, { partition, accountId: '000000000000' });

  it("is every account's role whose name starts with ROLE_NAME_PREFIX", () => {
    expect(patternFor('aws')).toBe(`arn:aws:iam::*:role/${ROLE_NAME_PREFIX}*`);
  });

  it("matches the default customer role and every name the template's pattern allows, in any account", () => {
    fc.assert(
      fc.property(
        partitionArb,
        accountIdArb,
        fc.oneof(fc.constant(DEFAULT_ROLE_NAME), fc.stringMatching(ROLE_NAME_PATTERN)),
        (partition, accountId, roleName) => {
          expect(iamGlobMatches(patternFor(partition), roleArn({ partition, accountId, roleName }))).toBe(
            true,
          );
        },
      ),
    );
  });

  it('matches no role the customer template would refuse to create, nor one in another partition', () => {
    fc.assert(
      fc.property(
        partitionArb,
        accountIdArb,
        fc.stringMatching(IAM_ROLE_NAME_PATTERN).filter((name) => !isCustomerRoleName(name)),
        (partition, accountId, roleName) => {
          expect(iamGlobMatches(patternFor(partition), roleArn({ partition, accountId, roleName }))).toBe(
            false,
          );
        },
      ),
    );
    expect(
      iamGlobMatches(
        patternFor('aws'),
        roleArn({ partition: 'aws-cn', accountId: '123456789012', roleName: DEFAULT_ROLE_NAME }),
      ),
    ).toBe(false);
  });
});

describe('partner-product mode (ADR 0121)', () => {
  const partner = synthesize({ props: { partnerProductName: 'data443/vaikora' } });
  afterAll(() => partner.cleanup());
  const workerRoleId = Object.keys(partner.json.Resources).find(
    (key) =>
      partner.json.Resources[key]?.Type === 'AWS::IAM::Role' &&
      partner.json.Resources[key]?.Properties?.RoleName === 'vsh-connector-worker',
  );

  it('lets the worker import under its own product only, and tells the worker and the API the product', () => {
    const statements = roleStatements(partner.json, workerRoleId ?? '');
    const securityHub = statements.filter((s) =>
      normalize(s).actions.some((a) => a.startsWith('securityhub:')),
    );

    expect(securityHub.map(normalize)).toEqual([
      {
        effect: 'Allow',
        actions: ['securityhub:BatchImportFindings'],
        resources: [
          {
            'Fn::Join': [
              '',
              [
                'arn:',
                { Ref: 'AWS::Partition' },
                ':securityhub:*:',
                { Ref: 'AWS::AccountId' },
                ':product/data443/vaikora',
              ],
            ],
          },
        ],
        condition: undefined,
      },
    ]);
    for (const fn of Object.values(partner.json.Resources).filter(
      (r) => r?.Type === 'AWS::Lambda::Function',
    )) {
      const variables = (fn?.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)
        ?.Variables;
      expect(variables?.PARTNER_PRODUCT_NAME).toBe('data443/vaikora');
      expect(variables?.PARTNER_PRODUCT_ACCOUNT_ID).toEqual({ Ref: 'AWS::AccountId' });
    }
    expect(partner.checks.validateScope(partner.stack).violations).toEqual([]);
  });

  it('is off by default: no Security Hub permission and no partner variables', () => {
    for (const fn of Object.values(json.Resources).filter((r) => r?.Type === 'AWS::Lambda::Function')) {
      const variables = (fn?.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)
        ?.Variables;
      expect(variables?.PARTNER_PRODUCT_NAME).toBeUndefined();
    }
  });

  it('refuses a product name AWS would not assign', () => {
    expect(() => synthesize({ props: { partnerProductName: 'Data443 Vaikora' } })).toThrow(
      /partnerProductName/,
    );
  });
});
