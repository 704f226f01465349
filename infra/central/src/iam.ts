/**
 * The connector's three function roles and exactly what each may do (docs/adr/0071): the worker
 * assumes customer roles and uses its state table; the API verifies customer roles as the worker.
 */
import { Aws, type Stack } from 'aws-cdk-lib';
import { type IRole, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { CUSTOMER_ROLE_ACTIONS, customerRoleArnPattern, WORKER_TABLE_ACTIONS } from './constants.ts';
import type { Data } from './data.ts';

export interface RolesProps {
  /** The worker role's fixed name, which customers' trust policies name. */
  readonly workerRoleName: string;
  readonly data: Data;
  /** The functions run in a VPC: each role may manage the functions' network interfaces. */
  readonly inVpc: boolean;
  /** Data443's partner product (ADR 0121), when partner-product mode is on. */
  readonly partnerProductName?: string | undefined;
}

export interface Roles {
  readonly apiRole: Role;
  readonly dispatcherRole: Role;
  readonly workerRole: Role;
  /** The worker role's ARN as a string built from its name (no reference to the role resource). */
  readonly workerRoleArn: string;
}

/** Creates the roles directly in `stack` with their permissions on the state resources. */
export function buildRoles(stack: Stack, props: RolesProps): Roles {
  const { data } = props;
  const lambdaPrincipal = new ServicePrincipal('lambda.amazonaws.com');
  const apiRole = new Role(stack, 'ApiRole', {
    assumedBy: lambdaPrincipal,
    description: 'The connector API (control plane)',
  });
  const dispatcherRole = new Role(stack, 'DispatcherRole', {
    assumedBy: lambdaPrincipal,
    description: 'The connector dispatcher: enqueues due tenants',
  });
  // A fixed name at the root path: customers' trust policies admit exactly
  // arn:<partition>:iam::<this account>:role/<this name> (docs/adr/0040).
  const workerRole = new Role(stack, 'WorkerRole', {
    roleName: props.workerRoleName,
    assumedBy: lambdaPrincipal,
    description: 'The connector worker: assumes customer roles to import findings into Security Hub',
  });
  const workerRoleArn = stack.formatArn({
    service: 'iam',
    region: '',
    resource: 'role',
    resourceName: props.workerRoleName,
  });

  // The API verifies a customer role as the worker: customers trust only the worker role, so the
  // API assumes it (role chaining) and then the customer role (docs/adr/0070).
  workerRole.assumeRolePolicy?.addStatements(
    new PolicyStatement({
      sid: 'ApiVerifiesCustomerRolesAsTheWorker',
      principals: [apiRole],
      actions: ['sts:AssumeRole'],
    }),
  );

  workerRole.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'AssumeCustomerRoles',
      actions: [...CUSTOMER_ROLE_ACTIONS],
      resources: [customerRoleArnPattern(Aws.PARTITION)],
    }),
  );
  workerRole.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'UseOwnStateTable',
      actions: [...WORKER_TABLE_ACTIONS],
      resources: [data.stateTable.tableArn],
    }),
  );
  workerRole.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'DecryptTenantSecrets',
      actions: ['kms:Decrypt'],
      resources: [data.tenantSecretsKey.keyArn],
    }),
  );
  apiRole.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'EncryptAndDecryptTenantSecrets',
      actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
      resources: [data.tenantSecretsKey.keyArn],
    }),
  );
  apiRole.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'AssumeTheWorkerRoleToVerify',
      actions: ['sts:AssumeRole'],
      resources: [workerRoleArn],
    }),
  );
  if (props.partnerProductName !== undefined) {
    // Partner-product mode (ADR 0121): imports from this account under its own product, in any
    // region, and nothing else of Security Hub (the API verifies partner destinations as the worker).
    workerRole.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'ImportUnderOwnPartnerProduct',
        actions: ['securityhub:BatchImportFindings'],
        resources: [
          stack.formatArn({
            service: 'securityhub',
            region: '*',
            resource: 'product',
            resourceName: props.partnerProductName,
          }),
        ],
      }),
    );
  }
  data.databaseSecret.grantRead(workerRole);
  data.databaseSecret.grantRead(dispatcherRole);
  data.databaseSecret.grantRead(apiRole);
  data.operatorKeySecret.grantRead(apiRole);
  data.workQueue.grantSendMessages(dispatcherRole);
  data.workQueue.grantSendMessages(apiRole);
  if (props.inVpc) {
    for (const role of [workerRole, dispatcherRole, apiRole]) allowVpcNetworking(role);
  }
  return { apiRole, dispatcherRole, workerRole, workerRoleArn };
}

function allowVpcNetworking(role: IRole): void {
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'ManageFunctionNetworkInterfaces',
      actions: [
        'ec2:AssignPrivateIpAddresses',
        'ec2:CreateNetworkInterface',
        'ec2:DeleteNetworkInterface',
        'ec2:DescribeNetworkInterfaces',
        'ec2:DescribeSubnets',
        'ec2:UnassignPrivateIpAddresses',
      ],
      resources: ['*'],
    }),
  );
}
