/** The central stack's props resolved to settings: defaults filled in, every value checked. */

import { DOTTED_HOST_NAME_PATTERN, PARTNER_PRODUCT_NAME } from '@vsh/core';
import { DEFAULT_WORKER_ROLE_NAME, IAM_ROLE_NAME_PATTERN } from '@vsh/role-contract';
import { Duration } from 'aws-cdk-lib';
import { Runtime } from 'aws-cdk-lib/aws-lambda';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { DEFAULT_VAIKORA_HOSTS } from './constants.ts';
import { CentralStackError } from './errors.ts';
import { type ProductAlarmThresholds, resolveProductAlarmThresholds } from './monitoring.ts';
import type { CentralStackProps, LogLevel } from './props.ts';

const SECRET_ARN =
  /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

// Lambda deprecated nodejs20.x with Node.js 20's end of life (30 April 2026) and then stops
// accepting it for new and updated functions; nodejs24.x is the latest, supported into 2028.
export const DEFAULT_RUNTIME = Runtime.NODEJS_24_X;

export interface Settings {
  workerRoleName: string;
  partnerProductName: string | undefined;
  vaikoraAllowedHosts: readonly string[];
  workerReservedConcurrency: number;
  workerTimeout: Duration;
  workerBatchSize: number;
  workerInlineCursors: boolean;
  apiThrottle: { rateLimit: number; burstLimit: number };
  logRetention: RetentionDays;
  logLevel: LogLevel;
  runtime: Runtime;
  productAlarms: ProductAlarmThresholds;
}

/** The settings the props ask for; a CentralStackError for a value that cannot produce a working stack. */
export function resolveSettings(props: CentralStackProps): Settings {
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
  if (props.partnerProductName !== undefined && !PARTNER_PRODUCT_NAME.test(props.partnerProductName)) {
    throw new CentralStackError(
      'invalid_partner_product',
      'partnerProductName must be company/product in lower-case words and dashes, as AWS assigned it',
    );
  }
  const vaikoraAllowedHosts = props.vaikoraAllowedHosts ?? DEFAULT_VAIKORA_HOSTS;
  if (
    vaikoraAllowedHosts.length === 0 ||
    vaikoraAllowedHosts.some((host) => !DOTTED_HOST_NAME_PATTERN.test(host))
  ) {
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
    partnerProductName: props.partnerProductName,
    vaikoraAllowedHosts,
    workerReservedConcurrency,
    workerTimeout: props.workerTimeout ?? Duration.minutes(5),
    workerBatchSize: props.workerBatchSize ?? 5,
    workerInlineCursors: props.workerInlineCursors ?? true,
    apiThrottle: props.apiThrottle ?? { rateLimit: 50, burstLimit: 100 },
    logRetention: props.logRetention ?? RetentionDays.THREE_MONTHS,
    logLevel: props.logLevel ?? 'info',
    runtime: props.runtime ?? DEFAULT_RUNTIME,
    productAlarms: resolveProductAlarmThresholds(props.productAlarms),
  };
}
