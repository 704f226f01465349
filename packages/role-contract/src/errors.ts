import { CodedError } from '@vsh/core';

/** Why a value given to this package cannot describe a customer role (closed set). */
export type CustomerRoleErrorCode =
  | 'invalid_partition'
  | 'invalid_account_id'
  | 'invalid_external_id'
  | 'invalid_role_name'
  | 'invalid_worker_role_name'
  | 'invalid_region'
  | 'invalid_stack_name'
  | 'invalid_template_url'
  | 'invalid_template';

/** A value that the customer-role template would reject, caught before it reaches a customer. */
export class CustomerRoleError extends CodedError<CustomerRoleErrorCode> {
  override name = 'CustomerRoleError';
}
