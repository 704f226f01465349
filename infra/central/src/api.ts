/**
 * The control plane: the API function (Hono), its HTTP API with a throttled, access-logged default
 * stage, and the customer-template URL it hands to tenants.
 */
import { migrationCopyCommands, viewerAssetCopyCommands } from '@vsh/api/viewer-assets';
import { Aws, CfnParameter, Duration, RemovalPolicy, type Stack } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { HttpApi, HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { Data } from './data.ts';
import { connectorFunction, type FunctionDefaults } from './functions.ts';
import type { Roles } from './iam.ts';
import type { Settings } from './settings.ts';

/** A stack parameter for the published customer-role template's URL; its value as a token. */
export function customerTemplateUrlParameter(stack: Stack): string {
  return new CfnParameter(stack, 'CustomerTemplateUrl', {
    type: 'String',
    description:
      'https URL (S3) of the published customer-role template, rendered with this account ID (renderTemplateBody)',
    allowedPattern: '^https://[^\\s]+$',
    constraintDescription: 'must be an https URL',
  }).valueAsString;
}

export interface ApiFunctionProps {
  readonly entry: string;
  readonly defaults: FunctionDefaults;
  readonly settings: Pick<Settings, 'workerRoleName' | 'vaikoraAllowedHosts'>;
  readonly data: Data;
  readonly roles: Roles;
  readonly customerTemplateUrl: string;
}

/** Creates the API function directly in `stack`. */
export function buildApiFunction(stack: Stack, props: ApiFunctionProps): NodejsFunction {
  const { settings, data, roles } = props;
  return connectorFunction(stack, 'Api', props.defaults, {
    entry: props.entry,
    role: roles.apiRole,
    description: 'The connector control plane (Hono)',
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
      APP_ENV: 'production',
      OPERATOR_KEY_SECRET_ARN: data.operatorKeySecret.secretArn,
      DATA443_ACCOUNT_ID: Aws.ACCOUNT_ID,
      WORKER_ROLE_NAME: settings.workerRoleName,
      WORKER_ROLE_ARN: roles.workerRoleArn,
      CUSTOMER_TEMPLATE_URL: props.customerTemplateUrl,
      VAIKORA_ALLOWED_HOSTS: settings.vaikoraAllowedHosts.join(','),
    },
  });
}

/** Creates the HTTP API in front of `api` directly in `stack`, and tells the API its public address. */
export function buildHttpApi(
  stack: Stack,
  api: NodejsFunction,
  settings: Pick<Settings, 'logRetention' | 'apiThrottle'>,
): HttpApi {
  const httpApi = new HttpApi(stack, 'HttpApi', {
    description: 'Vaikora to Security Hub connector: control plane',
    defaultIntegration: new HttpLambdaIntegration('ApiIntegration', api),
    createDefaultStage: false,
  });
  // Sign-in links (ADR 0098) name the control plane's public address; behind a custom domain, set the
  // API's PUBLIC_BASE_URL to it instead.
  api.addEnvironment('PUBLIC_BASE_URL', httpApi.apiEndpoint);
  const accessLogs = new LogGroup(stack, 'HttpApiAccessLogs', {
    retention: settings.logRetention,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  new HttpStage(stack, 'HttpApiDefaultStage', {
    httpApi,
    stageName: '$default',
    autoDeploy: true,
    throttle: settings.apiThrottle,
    accessLogSettings: {
      destination: new LogGroupLogDestination(accessLogs),
      format: AccessLogFormat.jsonWithStandardFields(),
    },
  });
  return httpApi;
}
