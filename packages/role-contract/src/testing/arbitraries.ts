// Test support: fast-check generators for the values the template takes.
import fc from 'fast-check';
import {
  ACCOUNT_ID_PATTERN,
  IAM_ROLE_NAME_PATTERN,
  ROLE_NAME_PATTERN,
  SUPPORTED_PARTITIONS,
} from '../constants.ts';

/** What the control plane generates: 32 random bytes, base64url without padding. */
export const externalIdArb = fc
  .uint8Array({ minLength: 32, maxLength: 32 })
  .map((bytes) => Buffer.from(bytes).toString('base64url'));

export const accountIdArb = fc.stringMatching(ACCOUNT_ID_PATTERN);

export const partitionArb = fc.constantFrom(...SUPPORTED_PARTITIONS);

export const workerRoleNameArb = fc.stringMatching(IAM_ROLE_NAME_PATTERN);

export const roleNameArb = fc.stringMatching(ROLE_NAME_PATTERN);

export const regionArb = fc.constantFrom(
  'us-east-1',
  'eu-west-3',
  'ap-southeast-2',
  'il-central-1',
  'sa-east-1',
);
