import { App, Duration } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { FIXTURE_ENTRIES } from '../test/synth.ts';
import { CentralStack, type CentralStackProps } from './central-stack.ts';
import { DEFAULT_STACK_NAME } from './constants.ts';
import { configFromContext } from './context.ts';
import { CentralStackError } from './errors.ts';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:vsh/database-AbC123';

const configOf = (context: Record<string, unknown>, env: Record<string, string> = {}) =>
  configFromContext(new App({ context }).node, env);

describe('configFromContext', () => {
  it('builds an environment-agnostic stack with the default name from an empty context', () => {
    const config = configOf({}, { CDK_DEFAULT_ACCOUNT: '123456789012', CDK_DEFAULT_REGION: 'eu-west-1' });

    expect(config.stackName).toBe(DEFAULT_STACK_NAME);
    expect(config.props.env).toBeUndefined();
    expect(config.props.entries).toEqual({});
  });

  it("takes the CLI's account and region only when asked to", () => {
    const config = configOf(
      { useCliEnvironment: 'true' },
      { CDK_DEFAULT_ACCOUNT: '123456789012', CDK_DEFAULT_REGION: 'eu-west-1' },
    );

    expect(config.props.env).toEqual({ account: '123456789012', region: 'eu-west-1' });
  });

  it('reads every documented key', () => {
    const config = configOf({
      stackName: 'VshStaging',
      account: '123456789012',
      region: 'us-east-2',
      workerRoleName: 'vsh-connector-worker-staging',
      customerTemplateUrl: 'https://bucket.s3.amazonaws.com/customer-role/template.yaml',
      vaikoraAllowedHosts: 'api.vaikora.com, Staging.Vaikora.com',
      databaseSecretArn: SECRET_ARN,
      operatorKeySecretArn: SECRET_ARN,
      alarmEmail: 'oncall@data443.example',
      vpcId: 'vpc-0123456789abcdef0',
      workerReservedConcurrency: '20',
      workerTimeoutSeconds: 120,
      workerInlineCursors: 'false',
      logLevel: 'debug',
      workerEntry: '/x/worker.ts',
      lagAlarmSeconds: '7200',
      failedRunsAlarmThreshold: 4,
      rejectedRecordsAlarmPercent: '15',
    });

    expect(config.stackName).toBe('VshStaging');
    expect(config.props).toMatchObject({
      env: { account: '123456789012', region: 'us-east-2' },
      workerRoleName: 'vsh-connector-worker-staging',
      customerTemplateUrl: 'https://bucket.s3.amazonaws.com/customer-role/template.yaml',
      vaikoraAllowedHosts: ['api.vaikora.com', 'staging.vaikora.com'],
      databaseSecretArn: SECRET_ARN,
      operatorKeySecretArn: SECRET_ARN,
      alarmEmail: 'oncall@data443.example',
      vpcId: 'vpc-0123456789abcdef0',
      workerReservedConcurrency: 20,
      workerInlineCursors: false,
      logLevel: 'debug',
      entries: { worker: '/x/worker.ts' },
      productAlarms: { lagSeconds: 7200, failedRuns: 4, rejectedPercent: 15 },
    });
    expect(config.props.workerTimeout?.toSeconds()).toBe(120);
  });

  it('refuses a non-integer number and an unknown log level, naming the key', () => {
    expect(() => configOf({ workerReservedConcurrency: 'ten' })).toThrow(/workerReservedConcurrency/);
    expect(() => configOf({ logLevel: 'loud' })).toThrow(/logLevel/);
    expect(() => configOf({ logLevel: 'loud' })).toThrow(CentralStackError);
    expect(() => configOf({ workerInlineCursors: 'yes' })).toThrow(/workerInlineCursors/);
  });
});

describe('CentralStack props', () => {
  // Refused before any resource (or bundle) is made.
  const build = (props: CentralStackProps) => () =>
    new CentralStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Central', {
      ...props,
      entries: FIXTURE_ENTRIES,
    });
  const code = (props: CentralStackProps): string | undefined => {
    try {
      build(props)();
      return undefined;
    } catch (err) {
      return err instanceof CentralStackError ? err.code : `unexpected ${String(err)}`;
    }
  };

  it.each([
    [{ workerRoleName: 'has space' }, 'invalid_worker_role_name'],
    [{ databaseSecretArn: 'vsh/database' }, 'invalid_secret_arn'],
    [
      { operatorKeySecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:vsh/key' },
      'invalid_secret_arn',
    ],
    [{ customerTemplateUrl: 'http://bucket/template.yaml' }, 'invalid_template_url'],
    [{ vaikoraAllowedHosts: [] }, 'invalid_allowed_hosts'],
    [{ vaikoraAllowedHosts: ['https://api.vaikora.com'] }, 'invalid_allowed_hosts'],
    [{ workerReservedConcurrency: 1 }, 'invalid_concurrency'],
    [{ workerReservedConcurrency: 2.5 }, 'invalid_concurrency'],
    [{ alarmEmail: 'oncall' }, 'invalid_email'],
    [{ productAlarms: { lagSeconds: 0 } }, 'invalid_alarm_threshold'],
    [{ productAlarms: { rejectedPercent: 101 } }, 'invalid_alarm_threshold'],
    [{ productAlarms: { failedRunsMinutes: 1.5 } }, 'invalid_alarm_threshold'],
  ] as [CentralStackProps, string][])('refuses %j with %s', (props, expected) => {
    expect(code(props)).toBe(expected);
  });

  it("accepts Lambda's longest timeout for the worker (the queue then hides a message for 90 minutes)", () => {
    expect(code({ workerTimeout: Duration.minutes(15) })).toBeUndefined();
  });
});
