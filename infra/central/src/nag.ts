/**
 * cdk-nag findings that stay, each acknowledged on the construct it concerns with the reason
 * (cdk-nag 3 reads CDK's own `Validations.of(scope).acknowledge()`; docs/adr/0070).
 */
import { type CfnResource, type Stack, Validations } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import type { Role } from 'aws-cdk-lib/aws-iam';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { customerRoleArnPattern } from './constants.ts';
import type { Roles } from './iam.ts';
import { DEFAULT_RUNTIME } from './settings.ts';

export interface NagSubjects {
  readonly roles: Roles;
  readonly scheduleRole: Role;
  readonly functions: {
    readonly worker: NodejsFunction;
    readonly dispatcher: NodejsFunction;
    readonly api: NodejsFunction;
  };
  readonly databaseSecret: ISecret;
  readonly operatorKeySecret: ISecret;
  readonly httpApi: HttpApi;
  readonly inVpc: boolean;
  /** Data443's partner product (ADR 0121), when partner-product mode is on. */
  readonly partnerProductName?: string | undefined;
}

/** Acknowledges, on each construct, the cdk-nag findings the ADR accepts, with the reason. */
export function acknowledgeNagFindings(stack: Stack, subjects: NagSubjects): void {
  const { roles, functions } = subjects;
  Validations.of(roles.workerRole).acknowledge({
    id: `AwsSolutions-IAM5[Resource::${customerRoleArnPattern('<AWS::Partition>')}]`,
    reason:
      "Customer accounts are unknown by construction (any customer may onboard), hence the '*' account; the Data443-Vaikora name prefix, each customer's trust policy (this role only, by aws:PrincipalArn) and the per-registration sts:ExternalId close it.",
  });
  if (subjects.partnerProductName !== undefined) {
    Validations.of(roles.workerRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:securityhub:*:<AWS::AccountId>:product/${subjects.partnerProductName}]`,
      reason:
        "Partner-product mode (ADR 0121): the worker imports under this account's own product in whichever region a customer's hub is, hence the '*' region; the statement names only BatchImportFindings and only this product.",
    });
  }
  Validations.of(subjects.scheduleRole).acknowledge({
    id: `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(functions.dispatcher.node.defaultChild as CfnResource)}.Arn>:*]`,
    reason:
      "CDK's grantInvoke adds the dispatcher's own qualified ARNs (versions and aliases, '<arn>:*'); the statement names this one function and no other.",
  });
  if (functions.worker.runtime.name !== DEFAULT_RUNTIME.name) {
    for (const f of [functions.worker, functions.dispatcher, functions.api]) {
      Validations.of(f).acknowledge({
        id: 'AwsSolutions-L1',
        reason: `props.runtime chose ${f.runtime.name} over the latest Node.js runtime for this deployment on purpose.`,
      });
    }
  }
  if (subjects.databaseSecret instanceof Secret) {
    Validations.of(subjects.databaseSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        "The database user's password is rotated where the database is run (e.g. RDS-managed master password rotation, then this secret updated); a rotation Lambda here would have to know that database.",
    });
  }
  if (subjects.operatorKeySecret instanceof Secret) {
    Validations.of(subjects.operatorKeySecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The operator key is rotated by hand (put a new value, then redeploy the API): the operators holding it must switch at the same moment, which an automatic rotation cannot arrange.',
    });
  }
  const route = subjects.httpApi.node.tryFindChild('DefaultRoute');
  if (route !== undefined) {
    Validations.of(route).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'The API authenticates every request itself (the operator key and per-tenant API keys, hashed in the database); an API Gateway authorizer would repeat that lookup and add no check.',
    });
  }
  if (subjects.inVpc) {
    for (const role of [roles.workerRole, roles.dispatcherRole, roles.apiRole]) {
      Validations.of(role).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          "Lambda creates and deletes the functions' network interfaces with the execution role; ec2:DescribeNetworkInterfaces and DescribeSubnets support no resource-level permissions.",
      });
    }
  }
}
