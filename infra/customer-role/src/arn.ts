import {
  assertAccountId,
  assertPartition,
  IAM_ROLE_NAME_PATTERN,
  isPartition,
  type Partition,
  ROLE_NAME_PATTERN,
} from './constants.ts';
import { CustomerRoleError } from './errors.ts';

export interface RoleArnParts {
  readonly partition: Partition;
  readonly accountId: string;
  readonly roleName: string;
}

// No path segment: the template creates the role at the root path, and the worker's IAM
// (`role/Data443-Vaikora*`) would not match a role under a path anyway.
const ROLE_ARN = /^arn:([a-z-]+):iam::([0-9]{12}):role\/([A-Za-z0-9+=,.@_-]{1,64})$/;

/** The ARN of IAM role `roleName` (no path) in `accountId`; the inverse of `parseRoleArn`. */
export function roleArn(parts: RoleArnParts): string {
  assertPartition(parts.partition);
  assertAccountId(parts.accountId, 'accountId');
  if (!IAM_ROLE_NAME_PATTERN.test(parts.roleName)) {
    throw new CustomerRoleError('invalid_role_name', 'roleName must be 1 to 64 IAM name characters');
  }
  return `arn:${parts.partition}:iam::${parts.accountId}:role/${parts.roleName}`;
}

/** Splits an IAM role ARN (no path, supported partition, 12-digit account); null for anything else. */
export function parseRoleArn(arn: string): RoleArnParts | null {
  if (typeof arn !== 'string') return null;
  const match = ROLE_ARN.exec(arn);
  if (match === null) return null;
  const [, partition, accountId, roleName] = match;
  if (partition === undefined || accountId === undefined || roleName === undefined) return null;
  if (!isPartition(partition)) return null;
  return { partition, accountId, roleName };
}

/** True when the central worker is allowed to assume a role of this name (it starts with the prefix). */
export function isCustomerRoleName(roleName: string): boolean {
  return ROLE_NAME_PATTERN.test(roleName);
}
