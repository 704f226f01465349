import { formatRoleArn, isIamRoleName, parseRoleArn, type RoleArnParts } from '@vsh/core';
import { assertAccountId, assertPartition, ROLE_NAME_PATTERN } from './constants.ts';
import { CustomerRoleError } from './errors.ts';

// The ARN grammar is @vsh/core's; this module adds the customer role's error codes and name rule.
export { parseRoleArn, type RoleArnParts };

/** The ARN of IAM role `roleName` (no path) in `accountId`; the inverse of `parseRoleArn`. */
export function roleArn(parts: RoleArnParts): string {
  assertPartition(parts.partition);
  assertAccountId(parts.accountId, 'accountId');
  if (!isIamRoleName(parts.roleName)) {
    throw new CustomerRoleError('invalid_role_name', 'roleName must be 1 to 64 IAM name characters');
  }
  return formatRoleArn(parts);
}

/** True when the central worker is allowed to assume a role of this name (it starts with the prefix). */
export function isCustomerRoleName(roleName: string): boolean {
  return ROLE_NAME_PATTERN.test(roleName);
}
