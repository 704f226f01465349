import { Duration } from 'aws-cdk-lib';
import type { Node } from 'constructs';
import { DEFAULT_STACK_NAME } from './constants.ts';
import { CentralStackError } from './errors.ts';
import type { CentralStackProps, LogLevel } from './props.ts';

/** What `bin/central.ts` builds: the stack's name and props, from CDK context (`-c key=value`). */
export interface CentralAppConfig {
  readonly stackName: string;
  readonly props: CentralStackProps;
}

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

/**
 * Reads the context keys documented in infra/README.md. `account`/`region` fall back to the CLI's
 * CDK_DEFAULT_ACCOUNT/CDK_DEFAULT_REGION only when `useCliEnvironment` is `true`; with neither the
 * stack stays environment-agnostic.
 */
export function configFromContext(
  node: Node,
  cliEnv: Readonly<Record<string, string | undefined>>,
): CentralAppConfig {
  const str = (key: string): string | undefined => {
    const value: unknown = node.tryGetContext(key);
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new CentralStackError('invalid_context', `context ${key} must be a string`);
    }
    return String(value);
  };
  const int = (key: string): number | undefined => {
    const value = str(key);
    if (value === undefined) return undefined;
    if (!/^[0-9]+$/.test(value))
      throw new CentralStackError('invalid_context', `context ${key} must be an integer`);
    return Number(value);
  };
  const useCliEnvironment = str('useCliEnvironment') === 'true';
  const account = str('account') ?? (useCliEnvironment ? cliEnv.CDK_DEFAULT_ACCOUNT : undefined);
  const region = str('region') ?? (useCliEnvironment ? cliEnv.CDK_DEFAULT_REGION : undefined);
  const logLevel = str('logLevel');
  if (logLevel !== undefined && !(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new CentralStackError(
      'invalid_context',
      `context logLevel must be one of ${LOG_LEVELS.join(', ')}`,
    );
  }
  const workerTimeoutSeconds = int('workerTimeoutSeconds');
  const inlineCursors = str('workerInlineCursors');
  if (inlineCursors !== undefined && inlineCursors !== 'true' && inlineCursors !== 'false') {
    throw new CentralStackError('invalid_context', 'context workerInlineCursors must be true or false');
  }
  const hosts = str('vaikoraAllowedHosts');
  const entries = { worker: str('workerEntry'), dispatcher: str('dispatcherEntry'), api: str('apiEntry') };
  const productAlarms = {
    lagSeconds: int('lagAlarmSeconds'),
    failedRuns: int('failedRunsAlarmThreshold'),
    rejectedPercent: int('rejectedRecordsAlarmPercent'),
  };

  const props: CentralStackProps = {
    ...(account === undefined && region === undefined
      ? {}
      : {
          env: { ...(account === undefined ? {} : { account }), ...(region === undefined ? {} : { region }) },
        }),
    description: 'Vaikora AI-agent findings to AWS Security Hub: the hosted connector (Data443)',
    entries: Object.fromEntries(Object.entries(entries).filter(([, value]) => value !== undefined)),
    workerRoleName: str('workerRoleName'),
    customerTemplateUrl: str('customerTemplateUrl'),
    vaikoraAllowedHosts: hosts?.split(',').map((host) => host.trim().toLowerCase()),
    databaseSecretArn: str('databaseSecretArn'),
    operatorKeySecretArn: str('operatorKeySecretArn'),
    alarmEmail: str('alarmEmail'),
    vpcId: str('vpcId'),
    workerReservedConcurrency: int('workerReservedConcurrency'),
    workerTimeout: workerTimeoutSeconds === undefined ? undefined : Duration.seconds(workerTimeoutSeconds),
    workerInlineCursors: inlineCursors === undefined ? undefined : inlineCursors === 'true',
    logLevel: logLevel as LogLevel | undefined,
    productAlarms: Object.fromEntries(
      Object.entries(productAlarms).filter(([, value]) => value !== undefined),
    ),
  };
  return { stackName: str('stackName') ?? DEFAULT_STACK_NAME, props };
}
