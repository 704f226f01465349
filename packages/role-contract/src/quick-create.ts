import { partitionOfRegion as partitionOf } from '@vsh/core';
import {
  assertAccountId,
  assertExternalId,
  assertRoleName,
  assertWorkerRoleName,
  CUSTOMER_ROLE_PARAMETERS,
  type CustomerRoleParameterName,
  DEFAULT_ROLE_NAME,
  DEFAULT_STACK_NAME,
  DEFAULT_WORKER_ROLE_NAME,
  type Partition,
} from './constants.ts';
import { CustomerRoleError } from './errors.ts';

export interface CustomerRoleParameterInput {
  readonly externalId: string;
  readonly data443AccountId: string;
  /** Defaults to DEFAULT_WORKER_ROLE_NAME. */
  readonly workerRoleName?: string;
  /** Defaults to DEFAULT_ROLE_NAME. */
  readonly roleName?: string;
}

export interface QuickCreateInput extends CustomerRoleParameterInput {
  readonly region: string;
  /** Where the published template is (an https S3 URL). */
  readonly templateUrl: string;
  /** Defaults to DEFAULT_STACK_NAME. */
  readonly stackName?: string;
}

// CloudFormation: alphanumerics and hyphens, starting with a letter, at most 128 characters.
const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;
// CloudFormation accepts a template URL of at most 1024 characters.
const MAX_TEMPLATE_URL_LENGTH = 1024;

/** Every template parameter with its value, after validating each as the template would. */
export function customerRoleParameterValues(
  input: CustomerRoleParameterInput,
): Readonly<Record<CustomerRoleParameterName, string>> {
  const workerRoleName = input.workerRoleName ?? DEFAULT_WORKER_ROLE_NAME;
  const roleName = input.roleName ?? DEFAULT_ROLE_NAME;
  assertExternalId(input.externalId);
  assertAccountId(input.data443AccountId, 'data443AccountId');
  assertWorkerRoleName(workerRoleName);
  assertRoleName(roleName);
  return {
    [CUSTOMER_ROLE_PARAMETERS.externalId]: input.externalId,
    [CUSTOMER_ROLE_PARAMETERS.data443AccountId]: input.data443AccountId,
    [CUSTOMER_ROLE_PARAMETERS.workerRoleName]: workerRoleName,
    [CUSTOMER_ROLE_PARAMETERS.roleName]: roleName,
  };
}

/** The partition a region belongs to; throws `invalid_region` for anything that is not a region name. */
export function partitionOfRegion(region: string): Partition {
  const partition = partitionOf(region);
  if (partition === undefined) {
    throw new CustomerRoleError('invalid_region', `"${region}" is not an AWS region name`);
  }
  return partition;
}

function consoleOrigin(region: string): string {
  switch (partitionOfRegion(region)) {
    case 'aws':
      return `https://${region}.console.aws.amazon.com`;
    case 'aws-cn':
      return 'https://console.amazonaws.cn';
    case 'aws-us-gov':
      return 'https://console.amazonaws-us-gov.com';
  }
}

/** The CloudFormation console link that opens the stack review page with every parameter filled in. */
export function quickCreateUrl(input: QuickCreateInput): string {
  const origin = consoleOrigin(input.region);
  const stackName = input.stackName ?? DEFAULT_STACK_NAME;
  if (!STACK_NAME.test(stackName)) {
    throw new CustomerRoleError('invalid_stack_name', 'stackName must be a CloudFormation stack name');
  }
  assertTemplateUrl(input.templateUrl);
  const pairs: [string, string][] = [
    ['templateURL', input.templateUrl],
    ['stackName', stackName],
    ...Object.entries(customerRoleParameterValues(input)).map(([name, value]): [string, string] => [
      `param_${name}`,
      value,
    ]),
  ];
  // encodeURIComponent, not URLSearchParams: it never writes `+` for a space, so the fragment
  // decodes the same whether the console reads it as a query string or as a URI component.
  const fragmentQuery = pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  return `${origin}/cloudformation/home?region=${input.region}#/stacks/create/review?${fragmentQuery}`;
}

function assertTemplateUrl(templateUrl: string): void {
  let parsed: URL;
  try {
    parsed = new URL(templateUrl);
  } catch (cause) {
    throw new CustomerRoleError('invalid_template_url', 'templateUrl is not a URL', { cause });
  }
  if (parsed.protocol !== 'https:' || templateUrl.length > MAX_TEMPLATE_URL_LENGTH) {
    throw new CustomerRoleError(
      'invalid_template_url',
      'templateUrl must be an https URL of at most 1024 characters',
    );
  }
}

export interface DeployCommandInput extends CustomerRoleParameterInput {
  /** Path of the downloaded template on the customer's machine. */
  readonly templateFile: string;
  /** Defaults to DEFAULT_STACK_NAME. */
  readonly stackName?: string;
}

// POSIX shell single quotes; plain words stay bare so the command reads as the docs show it.
function shellWord(value: string): string {
  return /^[A-Za-z0-9_./@=,+:-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}

/** The `aws cloudformation deploy` command that creates the same stack as the quick-create link. */
export function cloudFormationDeployCommand(input: DeployCommandInput): string {
  const stackName = input.stackName ?? DEFAULT_STACK_NAME;
  if (!STACK_NAME.test(stackName)) {
    throw new CustomerRoleError('invalid_stack_name', 'stackName must be a CloudFormation stack name');
  }
  const overrides = Object.entries(customerRoleParameterValues(input)).map(([name, value]) =>
    shellWord(`${name}=${value}`),
  );
  return [
    'aws cloudformation deploy',
    `--template-file ${shellWord(input.templateFile)}`,
    `--stack-name ${stackName}`,
    `--parameter-overrides ${overrides.join(' ')}`,
    '--capabilities CAPABILITY_NAMED_IAM',
  ].join(' ');
}
