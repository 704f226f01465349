/** The optional network of the connector's functions: a VPC's subnets and one shared security group. */
import type { Stack } from 'aws-cdk-lib';
import {
  type ISecurityGroup,
  type IVpc,
  SecurityGroup,
  type SubnetSelection,
  SubnetType,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';

export interface NetworkProps {
  readonly vpc?: IVpc | undefined;
  /** Looked up at synth when `vpc` is not given. */
  readonly vpcId?: string | undefined;
  readonly vpcSubnets?: SubnetSelection | undefined;
}

/** Where the functions run when in a VPC; spread into each function's props. */
export interface FunctionNetwork {
  readonly vpc: IVpc;
  readonly vpcSubnets: SubnetSelection;
  readonly securityGroups: ISecurityGroup[];
}

/** The functions' network, or undefined when they run outside any VPC. */
export function buildNetwork(stack: Stack, props: NetworkProps): FunctionNetwork | undefined {
  const vpc =
    props.vpc ??
    (props.vpcId === undefined ? undefined : Vpc.fromLookup(stack, 'Vpc', { vpcId: props.vpcId }));
  if (vpc === undefined) return undefined;
  return {
    vpc,
    vpcSubnets: props.vpcSubnets ?? { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
    securityGroups: [
      new SecurityGroup(stack, 'FunctionSecurityGroup', {
        vpc,
        description: 'The connector functions: allow this group on the database port',
        allowAllOutbound: true,
      }),
    ],
  };
}
