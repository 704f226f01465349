import { fileURLToPath } from 'node:url';
import { ROLE_NAME_PREFIX } from '@vsh/role-contract';

/** The stack name `bin/central.ts` uses unless the `stackName` context says otherwise. */
export const DEFAULT_STACK_NAME = 'VaikoraSecurityHubCentral';

/** The monorepo root: esbuild's project root and where the pnpm lockfile lives. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The Lambda entry modules of the apps, each exporting `handler`. */
export const DEFAULT_ENTRIES = {
  worker: fileURLToPath(new URL('../../../apps/worker/src/lambda.ts', import.meta.url)),
  dispatcher: fileURLToPath(new URL('../../../apps/worker/src/dispatcher-lambda.ts', import.meta.url)),
  api: fileURLToPath(new URL('../../../apps/api/src/lambda.ts', import.meta.url)),
} as const;

/**
 * Item-level read and write on the worker's own table, nothing else: no Scan, no batch or PartiQL
 * access, no table administration. The state store uses GetItem, UpdateItem and TransactWriteItems
 * (authorised per item as UpdateItem and ConditionCheckItem); PutItem, DeleteItem and Query add no
 * power over the table that UpdateItem and GetItem lack, and keep a cursor reset or a status read
 * from needing an IAM change.
 */
export const WORKER_TABLE_ACTIONS = [
  'dynamodb:ConditionCheckItem',
  'dynamodb:DeleteItem',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:Query',
  'dynamodb:UpdateItem',
] as const;

/** The IAM actions the worker may call on customer roles: exactly what their trust policy allows. */
export const CUSTOMER_ROLE_ACTIONS = ['sts:AssumeRole', 'sts:SetSourceIdentity'] as const;

/** Every customer role the worker may assume, in any account: `arn:<partition>:iam::*:role/Data443-Vaikora*`. */
export function customerRoleArnPattern(partition: string): string {
  return `arn:${partition}:iam::*:role/${ROLE_NAME_PREFIX}*`;
}

/** The Vaikora management API host the API accepts for tenants' settings unless told otherwise. */
export const DEFAULT_VAIKORA_HOSTS = ['api.vaikora.com'] as const;
