// The customer role's run-time contract: what the API, the worker and the CLI need to know about the
// role in a customer's account, without importing infra/ (see docs/adr/0103).
export { isCustomerRoleName, parseRoleArn, type RoleArnParts, roleArn } from './arn.ts';
export {
  ACCOUNT_ID_PATTERN,
  CUSTOMER_ROLE_OUTPUTS,
  CUSTOMER_ROLE_PARAMETERS,
  type CustomerRoleParameterName,
  DEFAULT_ROLE_NAME,
  DEFAULT_STACK_NAME,
  DEFAULT_WORKER_ROLE_NAME,
  EXTERNAL_ID_PATTERN,
  IAM_ROLE_NAME_PATTERN,
  INLINE_POLICY_NAME,
  isPartition,
  MAX_SESSION_DURATION_SECONDS,
  type Partition,
  PLACEHOLDER_DATA443_ACCOUNT_ID,
  ROLE_NAME_PATTERN,
  ROLE_NAME_PREFIX,
  SUPPORTED_PARTITIONS,
} from './constants.ts';
export { CustomerRoleError, type CustomerRoleErrorCode } from './errors.ts';
export {
  customerPermissionsPolicy,
  customerTrustPolicy,
  type PermissionsPolicyInput,
  type PolicyDocument,
  type PolicyStatement,
  type TrustPolicyInput,
} from './policies.ts';
export {
  type CustomerRoleParameterInput,
  cloudFormationDeployCommand,
  customerRoleParameterValues,
  type DeployCommandInput,
  partitionOfRegion,
  type QuickCreateInput,
  quickCreateUrl,
} from './quick-create.ts';
export {
  CUSTOMER_TEMPLATE_YAML,
  type CustomerRoleTemplate,
  parseTemplate,
  renderTemplateBody,
} from './template.ts';
