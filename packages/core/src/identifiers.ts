/**
 * The one home of the AWS and wire identifiers the connector checks: account ID, partition, region
 * (and the partition it belongs to), IAM role name and role ARN, RFC 3339 date-time, host name. Each
 * comes as a pattern or predicate (hot paths, CloudFormation `AllowedPattern`s) and as a zod schema
 * (boundaries). Pure: no I/O, no clock.
 */
import { z } from 'zod';
import { PARTITIONS, type Partition } from './asff.ts';

/** An AWS account ID: 12 digits (also the customer-role template's `AllowedPattern`, byte for byte). */
export const ACCOUNT_ID_PATTERN = /^[0-9]{12}$/;

/** An AWS account ID at a boundary. */
export const accountIdSchema = z.string().regex(ACCOUNT_ID_PATTERN, 'must be 12 digits');

/** True when `value` is a 12-digit AWS account ID. */
export function isAccountId(value: string): boolean {
  return ACCOUNT_ID_PATTERN.test(value);
}

/** A partition the connector supports, at a boundary. */
export const partitionSchema = z.enum(PARTITIONS);

/** True when `value` is one of the partitions the connector supports. */
export function isPartition(value: string): value is Partition {
  return (PARTITIONS as readonly string[]).includes(value);
}

/**
 * A region name of a supported partition: `us-east-1`, `ap-southeast-2`, `cn-north-1`, `us-gov-west-1`.
 * Regions of partitions the connector does not support (`us-iso-east-1`, `eusc-de-east-1`) do not match.
 */
export const AWS_REGION_PATTERN = /^(?:[a-z]{2}|us-gov)-[a-z]+-[0-9]{1,2}$/;

/** An AWS region name at a boundary. */
export const awsRegionSchema = z.string().regex(AWS_REGION_PATTERN, 'must be an AWS region name');

/** True when `value` is the name of a region of a supported partition. */
export function isAwsRegion(value: string): boolean {
  return AWS_REGION_PATTERN.test(value);
}

/** The partition a region belongs to; undefined when `region` is not a region name. */
export function partitionOfRegion(region: string): Partition | undefined {
  if (!AWS_REGION_PATTERN.test(region)) return undefined;
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

const IAM_ROLE_NAME = '[A-Za-z0-9+=,.@_-]{1,64}';

/** Any IAM role name: 1 to 64 of the characters IAM allows (also a template `AllowedPattern`). */
export const IAM_ROLE_NAME_PATTERN = new RegExp(`^${IAM_ROLE_NAME}$`);

/** True when `value` is a name IAM accepts for a role. */
export function isIamRoleName(value: string): boolean {
  return IAM_ROLE_NAME_PATTERN.test(value);
}

/** An IAM role name at a boundary. */
export const iamRoleNameSchema = z.string().regex(IAM_ROLE_NAME_PATTERN, 'must be an IAM role name');

/** The parts of an IAM role ARN. */
export interface RoleArnParts {
  readonly partition: Partition;
  readonly accountId: string;
  readonly roleName: string;
}

/**
 * The ARN of an IAM role at the root path in a supported partition. No path segment: the connector's
 * roles are created at the root, and the worker's IAM (`role/Data443-Vaikora*`) would not match one
 * under a path anyway.
 */
export const ROLE_ARN_PATTERN = new RegExp(
  `^arn:(${PARTITIONS.join('|')}):iam::([0-9]{12}):role/(${IAM_ROLE_NAME})$`,
);

/** An IAM role ARN (root path, supported partition) at a boundary. */
export const roleArnSchema = z.string().regex(ROLE_ARN_PATTERN, 'must be an IAM role ARN');

/** Splits an IAM role ARN (no path, supported partition, 12-digit account); null for anything else. */
export function parseRoleArn(arn: string): RoleArnParts | null {
  if (typeof arn !== 'string') return null;
  const match = ROLE_ARN_PATTERN.exec(arn);
  if (match === null) return null;
  const [, partition, accountId, roleName] = match;
  if (partition === undefined || accountId === undefined || roleName === undefined) return null;
  if (!isPartition(partition)) return null;
  return { partition, accountId, roleName };
}

/**
 * The ARN of role `roleName` (root path) in `accountId`: the inverse of `parseRoleArn`. Parts that do
 * not make a role ARN are a caller's bug (validate them at the boundary first) and throw a RangeError.
 */
export function formatRoleArn(parts: RoleArnParts): string {
  const arn = `arn:${parts.partition}:iam::${parts.accountId}:role/${parts.roleName}`;
  const parsed = parseRoleArn(arn);
  if (
    parsed === null ||
    parsed.partition !== parts.partition ||
    parsed.accountId !== parts.accountId ||
    parsed.roleName !== parts.roleName
  ) {
    throw new RangeError('partition, accountId and roleName do not make an IAM role ARN');
  }
  return arn;
}

// zod's ISO date-time with an offset is RFC 3339's `date-time` (upper-case T and Z, as Security Hub
// writes them) and knows the calendar: no February 30, no hour 24, which Date.parse would roll over.
const DATE_TIME = z.regexes.datetime({ offset: true });
const MORE_THAN_NINE_FRACTION_DIGITS = /\.[0-9]{10}/;

/**
 * True when `value` is an RFC 3339 date-time as Security Hub documents it: a real calendar date,
 * `T`, a time with at most nine fraction digits, `Z` or a `±hh:mm` offset.
 */
export function isRfc3339DateTime(value: string): boolean {
  return DATE_TIME.test(value) && !MORE_THAN_NINE_FRACTION_DIGITS.test(value);
}

/** An RFC 3339 date-time (see isRfc3339DateTime) at a boundary. */
export const rfc3339Schema = z
  .string()
  .refine(isRfc3339DateTime, 'must be an RFC 3339 date-time such as 2026-11-01T00:00:00Z');

// Hand-written rather than zod's `hostname`: that one takes upper case and a trailing dot, and the
// names here are compared with URL.hostname, which is always lower case and has no trailing dot.
const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';

/** A lower-case DNS host name: labels of 1-63 letters, digits and inner hyphens, 253 characters at most. */
export const HOST_NAME_PATTERN = new RegExp(`^(?=.{1,253}$)${LABEL}(?:\\.${LABEL})*$`);

/** A host name of two labels or more, as a name in public DNS (a custom domain) must be. */
export const DOTTED_HOST_NAME_PATTERN = new RegExp(`^(?=.{1,253}$)${LABEL}(?:\\.${LABEL})+$`);

/** A host name, optionally followed by `:port` (1 to 65535). */
export function isHostAndPort(value: string): boolean {
  const colon = value.lastIndexOf(':');
  if (colon === -1) return HOST_NAME_PATTERN.test(value);
  const port = value.slice(colon + 1);
  return (
    HOST_NAME_PATTERN.test(value.slice(0, colon)) &&
    /^[0-9]{1,5}$/.test(port) &&
    Number(port) >= 1 &&
    Number(port) <= 65_535
  );
}

/** A lower-case host name at a boundary. */
export const hostNameSchema = z.string().regex(HOST_NAME_PATTERN, 'must be a lower-case host name');
