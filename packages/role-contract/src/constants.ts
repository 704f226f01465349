import {
  ACCOUNT_ID_PATTERN,
  IAM_ROLE_NAME_PATTERN,
  isAccountId,
  isPartition,
  PARTITIONS,
  type Partition,
} from '@vsh/core';
import { CustomerRoleError } from './errors.ts';

// The generic AWS identifiers live in @vsh/core; they are re-exported under the names the template's
// tests and the control plane have always used.
export { ACCOUNT_ID_PATTERN, IAM_ROLE_NAME_PATTERN, isPartition, type Partition };

/** The partitions a customer role can be created in. */
export const SUPPORTED_PARTITIONS = PARTITIONS;

/** The template's parameter names, as the console's `param_` keys and CreateStack expect them. */
export const CUSTOMER_ROLE_PARAMETERS = {
  externalId: 'ExternalId',
  data443AccountId: 'Data443AccountId',
  workerRoleName: 'WorkerRoleName',
  roleName: 'RoleName',
} as const;

export type CustomerRoleParameterName =
  (typeof CUSTOMER_ROLE_PARAMETERS)[keyof typeof CUSTOMER_ROLE_PARAMETERS];

/** The template's output names. */
export const CUSTOMER_ROLE_OUTPUTS = { roleArn: 'RoleArn', externalId: 'ExternalId' } as const;

/** 32 random bytes as base64url without padding: what the control plane generates. */
export const EXTERNAL_ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** The central worker may only assume `arn:aws:iam::*:role/Data443-Vaikora*`, so every customer role starts so. */
export const ROLE_NAME_PREFIX = 'Data443-Vaikora';

/** A customer role name: the prefix, then up to the 64 characters IAM allows. */
export const ROLE_NAME_PATTERN = /^Data443-Vaikora[A-Za-z0-9+=,.@_-]{0,49}$/;

export const DEFAULT_ROLE_NAME = 'Data443-VaikoraSecurityHub';

export const DEFAULT_WORKER_ROLE_NAME = 'vsh-connector-worker';

/** The stack name the onboarding link suggests. */
export const DEFAULT_STACK_NAME = 'Data443-VaikoraSecurityHub';

/** The template's default for Data443AccountId until `renderTemplateBody` replaces it at publish time. */
export const PLACEHOLDER_DATA443_ACCOUNT_ID = '111122223333';

export const MAX_SESSION_DURATION_SECONDS = 3600;

/** The name of the role's one inline policy. */
export const INLINE_POLICY_NAME = 'Data443VaikoraSecurityHubImport';

/** Throws `invalid_partition` unless `partition` is supported. */
export function assertPartition(partition: string): asserts partition is Partition {
  if (!isPartition(partition)) {
    throw new CustomerRoleError('invalid_partition', `unsupported partition "${partition}"`);
  }
}

/** Throws `invalid_account_id` unless `accountId` is 12 digits. */
export function assertAccountId(accountId: string, what: string): void {
  if (!isAccountId(accountId)) {
    throw new CustomerRoleError('invalid_account_id', `${what} must be 12 digits`);
  }
}

// The External ID is not a secret, but it is never echoed back: messages name the rule only.
/** Throws `invalid_external_id` unless `externalId` matches EXTERNAL_ID_PATTERN. */
export function assertExternalId(externalId: string): void {
  if (!EXTERNAL_ID_PATTERN.test(externalId)) {
    throw new CustomerRoleError('invalid_external_id', 'externalId must be 43 base64url characters');
  }
}

/** Throws `invalid_role_name` unless `roleName` matches ROLE_NAME_PATTERN. */
export function assertRoleName(roleName: string): void {
  if (!ROLE_NAME_PATTERN.test(roleName)) {
    throw new CustomerRoleError(
      'invalid_role_name',
      `roleName must start with ${ROLE_NAME_PREFIX} and be at most 64 IAM name characters`,
    );
  }
}

/** Throws `invalid_worker_role_name` unless `workerRoleName` is an IAM role name. */
export function assertWorkerRoleName(workerRoleName: string): void {
  if (!IAM_ROLE_NAME_PATTERN.test(workerRoleName)) {
    throw new CustomerRoleError('invalid_worker_role_name', 'workerRoleName must be an IAM role name');
  }
}
