/**
 * How every connector function is built: an ESM bundle of its entry (esbuild, AWS SDK included),
 * arm64, JSON logs into its own retained log group, the shared environment, and the network.
 */
import { join } from 'node:path';
import { Aws, RemovalPolicy, type Stack } from 'aws-cdk-lib';
import type { Role } from 'aws-cdk-lib/aws-iam';
import {
  ApplicationLogLevel,
  Architecture,
  LoggingFormat,
  type Runtime,
  SystemLogLevel,
  Tracing,
} from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, type NodejsFunctionProps, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { REPO_ROOT } from './constants.ts';
import type { Data } from './data.ts';
import type { FunctionNetwork } from './network.ts';
import type { Settings } from './settings.ts';

// esbuild's ESM output has no `require`; CommonJS dependencies (pino, postgres) still call it.
const ESM_REQUIRE_BANNER =
  "import { createRequire as __vshCreateRequire } from 'node:module'; const require = __vshCreateRequire(import.meta.url);";

/** What every function shares. */
export interface FunctionDefaults {
  readonly logRetention: RetentionDays;
  readonly runtime: Runtime;
  readonly network: FunctionNetwork | undefined;
  /** The environment every function starts from (see baseEnvironment). */
  readonly environment: Readonly<Record<string, string>>;
}

/** One function: its entry, role and description, and what differs from the defaults. */
export interface FunctionSpec
  extends Pick<NodejsFunctionProps, 'memorySize' | 'timeout' | 'reservedConcurrentExecutions'> {
  readonly entry: string;
  readonly role: Role;
  readonly description: string;
  /** Added to the defaults' environment. */
  readonly environment: Readonly<Record<string, string>>;
  /** Shell commands run in the asset folder after esbuild, e.g. to copy files it cannot bundle. */
  readonly afterBundling?: (outputDir: string) => string[];
}

/** The environment of every function: where its secrets, key and queue are, and how it logs. */
export function baseEnvironment(
  data: Data,
  settings: Pick<Settings, 'logLevel' | 'partnerProductName'>,
): Record<string, string> {
  return {
    // Partner-product mode (ADR 0121): the worker imports under this account's product and the API
    // offers the mode; both read the same two variables.
    ...(settings.partnerProductName === undefined
      ? {}
      : { PARTNER_PRODUCT_ACCOUNT_ID: Aws.ACCOUNT_ID, PARTNER_PRODUCT_NAME: settings.partnerProductName }),
    DATABASE_SECRET_ARN: data.databaseSecret.secretArn,
    KMS_KEY_ID: data.tenantSecretsKey.keyArn,
    WORK_QUEUE_URL: data.workQueue.queueUrl,
    LOG_LEVEL: settings.logLevel,
    NODE_OPTIONS: '--enable-source-maps',
    // Node 24's background compile threads each get a glibc malloc arena that keeps freed memory:
    // two arenas measured 129-138 MB after loading the worker's modules against 189 MB with the
    // default (issue 11's bench:hostile); the heap itself is the same.
    MALLOC_ARENA_MAX: '2',
  };
}

/** Creates `<id>LogGroup` and the function `<id>` directly in `stack`. */
export function connectorFunction(
  stack: Stack,
  id: string,
  defaults: FunctionDefaults,
  spec: FunctionSpec,
): NodejsFunction {
  const { entry, role, description, environment, afterBundling, ...functionOptions } = spec;
  const logGroup = new LogGroup(stack, `${id}LogGroup`, {
    retention: defaults.logRetention,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  logGroup.grantWrite(role);
  return new NodejsFunction(stack, id, {
    entry,
    handler: 'handler',
    description,
    role,
    logGroup,
    runtime: defaults.runtime,
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
    ...(defaults.network === undefined ? {} : defaults.network),
    ...functionOptions,
    environment: { ...defaults.environment, ...environment },
  });
}
