import { Stack, Validations } from 'aws-cdk-lib';
import { SubnetType, Vpc } from 'aws-cdk-lib/aws-ec2';
import { afterAll, describe, expect, it } from 'vitest';
import { logicalId, normalize, roleStatements, synthesize } from '../test/synth.ts';

// The optional VPC mode: a database without a public endpoint. The VPC comes from another stack of
// the same app, as it would from a network stack (or `vpcId` with a lookup).
const synth = synthesize({
  withApp: (app) => {
    const network = new Stack(app, 'Network');
    const vpc = new Vpc(network, 'Vpc', {
      maxAzs: 2,
      natGateways: 1,
      subnetConfiguration: [
        { name: 'public', subnetType: SubnetType.PUBLIC },
        { name: 'private', subnetType: SubnetType.PRIVATE_WITH_EGRESS },
      ],
    });
    Validations.of(network).acknowledge({
      id: 'AwsSolutions-VPC7',
      reason: "A test stand-in for Data443's own network stack, whose flow logs are that stack's concern.",
    });
    return { vpc };
  },
});
afterAll(() => synth.cleanup());
const { stack, json, template } = synth;

describe('the central stack in a VPC', () => {
  it('runs every function in the private subnets with one shared security group', () => {
    const groupId = logicalId(stack, stack.node.findChild('FunctionSecurityGroup'));

    for (const fn of [stack.worker, stack.dispatcher, stack.api]) {
      const config = json.Resources[logicalId(stack, fn)]?.Properties?.VpcConfig as {
        SecurityGroupIds: unknown[];
        SubnetIds: unknown[];
      };
      expect(config.SecurityGroupIds).toEqual([{ 'Fn::GetAtt': [groupId, 'GroupId'] }]);
      expect(config.SubnetIds).toHaveLength(2);
    }
    template.hasOutput('FunctionSecurityGroupId', {});
  });

  it('adds only the network-interface actions Lambda needs to each role, and nothing else changes', () => {
    const eni = {
      effect: 'Allow',
      actions: [
        'ec2:AssignPrivateIpAddresses',
        'ec2:CreateNetworkInterface',
        'ec2:DeleteNetworkInterface',
        'ec2:DescribeNetworkInterfaces',
        'ec2:DescribeSubnets',
        'ec2:UnassignPrivateIpAddresses',
      ],
      resources: ['*'],
      condition: undefined,
    };

    for (const [role, count] of [
      [stack.workerRole, 7],
      [stack.dispatcherRole, 4],
      [stack.apiRole, 7],
    ] as const) {
      const statements = roleStatements(json, logicalId(stack, role)).map(normalize);
      expect(statements).toContainEqual(eni);
      expect(statements.filter((s) => s.resources.includes('*'))).toEqual([eni]);
      expect(statements).toHaveLength(count);
    }
  });

  it('stays clean under cdk-nag, the wildcard acknowledged with its reason', () => {
    expect(synth.checks.validateScope(stack).violations).toEqual([]);
  });
});
