import {
  ACCOUNT_ID_PATTERN,
  CUSTOMER_ROLE_OUTPUTS,
  CUSTOMER_ROLE_PARAMETERS,
  type CustomerRoleTemplate,
  customerPermissionsPolicy,
  customerTrustPolicy,
  DEFAULT_ROLE_NAME,
  DEFAULT_WORKER_ROLE_NAME,
  EXTERNAL_ID_PATTERN,
  IAM_ROLE_NAME_PATTERN,
  INLINE_POLICY_NAME,
  MAX_SESSION_DURATION_SECONDS,
  PLACEHOLDER_DATA443_ACCOUNT_ID,
  parseTemplate,
  ROLE_NAME_PATTERN,
  roleArn,
} from '@vsh/role-contract';
import {
  accountIdArb,
  externalIdArb,
  partitionArb,
  regionArb,
  roleNameArb,
  workerRoleNameArb,
} from '@vsh/role-contract/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evaluate, resolveParameters } from './cfn-evaluate.ts';
import { loadTemplate, renderTemplateBody } from './template.ts';

const template = loadTemplate();

function onlyResource(t: CustomerRoleTemplate) {
  const entries = Object.entries(t.Resources);
  expect(entries).toHaveLength(1);
  const [entry] = entries;
  if (entry === undefined) throw new Error('no resource');
  return { logicalId: entry[0], resource: entry[1] };
}

function inlinePolicies(
  properties: Record<string, unknown>,
): { PolicyName: string; PolicyDocument: unknown }[] {
  return properties.Policies as { PolicyName: string; PolicyDocument: unknown }[];
}

const deployment = fc.record({
  partition: partitionArb,
  accountId: accountIdArb,
  region: regionArb,
  externalId: externalIdArb,
  data443AccountId: accountIdArb,
  workerRoleName: workerRoleNameArb,
  roleName: roleNameArb,
});

type Deployment = typeof deployment extends fc.Arbitrary<infer T> ? T : never;

function contextFor(d: Deployment) {
  const parameters = resolveParameters(template, {
    [CUSTOMER_ROLE_PARAMETERS.externalId]: d.externalId,
    [CUSTOMER_ROLE_PARAMETERS.data443AccountId]: d.data443AccountId,
    [CUSTOMER_ROLE_PARAMETERS.workerRoleName]: d.workerRoleName,
    [CUSTOMER_ROLE_PARAMETERS.roleName]: d.roleName,
  });
  return {
    parameters,
    pseudo: { 'AWS::Partition': d.partition, 'AWS::AccountId': d.accountId, 'AWS::Region': d.region },
    getAtt: (logicalId: string, attribute: string) => {
      expect([logicalId, attribute]).toEqual([onlyResource(template).logicalId, 'Arn']);
      return roleArn({ partition: d.partition, accountId: d.accountId, roleName: d.roleName });
    },
  };
}

describe('template parameters', () => {
  it('are exactly the names in CUSTOMER_ROLE_PARAMETERS', () => {
    expect(Object.keys(template.Parameters).sort()).toEqual(Object.values(CUSTOMER_ROLE_PARAMETERS).sort());
  });

  it('use the same patterns as the TypeScript constants', () => {
    const p = template.Parameters;
    const patterns = [EXTERNAL_ID_PATTERN, ACCOUNT_ID_PATTERN, IAM_ROLE_NAME_PATTERN, ROLE_NAME_PATTERN];

    expect(p[CUSTOMER_ROLE_PARAMETERS.externalId]?.AllowedPattern).toBe('^[A-Za-z0-9_-]{43}$');
    expect(p[CUSTOMER_ROLE_PARAMETERS.externalId]?.AllowedPattern).toBe(EXTERNAL_ID_PATTERN.source);
    expect(p[CUSTOMER_ROLE_PARAMETERS.data443AccountId]?.AllowedPattern).toBe(ACCOUNT_ID_PATTERN.source);
    expect(p[CUSTOMER_ROLE_PARAMETERS.workerRoleName]?.AllowedPattern).toBe(IAM_ROLE_NAME_PATTERN.source);
    expect(p[CUSTOMER_ROLE_PARAMETERS.roleName]?.AllowedPattern).toBe(ROLE_NAME_PATTERN.source);
    for (const pattern of patterns) expect(pattern.flags).toBe('');
  });

  it('default to the TypeScript constants, and ExternalId has no default', () => {
    const p = template.Parameters;

    expect(p[CUSTOMER_ROLE_PARAMETERS.externalId]?.Default).toBeUndefined();
    expect(p[CUSTOMER_ROLE_PARAMETERS.data443AccountId]?.Default).toBe(PLACEHOLDER_DATA443_ACCOUNT_ID);
    expect(p[CUSTOMER_ROLE_PARAMETERS.workerRoleName]?.Default).toBe(DEFAULT_WORKER_ROLE_NAME);
    expect(p[CUSTOMER_ROLE_PARAMETERS.roleName]?.Default).toBe(DEFAULT_ROLE_NAME);
  });

  it('are none NoEcho, so the quick-create link can prefill every one of them', () => {
    for (const spec of Object.values(template.Parameters)) expect(spec.NoEcho).toBeUndefined();
  });

  it('each appear in exactly one console group and have a label and a constraint description', () => {
    const ui = template.Metadata['AWS::CloudFormation::Interface'];
    const grouped = ui.ParameterGroups.flatMap((group) => group.Parameters);

    expect(grouped.sort()).toEqual(Object.keys(template.Parameters).sort());
    expect(Object.keys(ui.ParameterLabels).sort()).toEqual(Object.keys(template.Parameters).sort());
    for (const spec of Object.values(template.Parameters)) expect(spec.ConstraintDescription).toBeTruthy();
  });
});

describe('template role', () => {
  it('is the only resource: an IAM role with a description, a one-hour session and no managed policy', () => {
    const { resource } = onlyResource(template);

    expect(resource.Type).toBe('AWS::IAM::Role');
    expect(Object.keys(resource.Properties).sort()).toEqual(
      ['AssumeRolePolicyDocument', 'Description', 'MaxSessionDuration', 'Policies', 'RoleName'].sort(),
    );
    expect(resource.Properties.RoleName).toEqual({ Ref: CUSTOMER_ROLE_PARAMETERS.roleName });
    expect(resource.Properties.MaxSessionDuration).toBe(MAX_SESSION_DURATION_SECONDS);
    expect(resource.Properties.Description).toEqual(expect.stringMatching(/Security Hub/));
  });

  it('has, once substituted, exactly the trust policy customerTrustPolicy describes', () => {
    fc.assert(
      fc.property(deployment, (d) => {
        const { resource } = onlyResource(template);

        const evaluated = evaluate(resource.Properties.AssumeRolePolicyDocument, contextFor(d));

        expect(evaluated).toEqual(customerTrustPolicy(d));
      }),
    );
  });

  it('has, once substituted, exactly one inline policy equal to customerPermissionsPolicy', () => {
    fc.assert(
      fc.property(deployment, (d) => {
        const policies = inlinePolicies(onlyResource(template).resource.Properties);

        const evaluated = policies.map((p) => ({
          ...p,
          PolicyDocument: evaluate(p.PolicyDocument, contextFor(d)),
        }));

        expect(evaluated).toEqual([
          {
            PolicyName: INLINE_POLICY_NAME,
            PolicyDocument: customerPermissionsPolicy({ partition: d.partition, accountId: d.accountId }),
          },
        ]);
      }),
    );
  });

  it('outputs the role ARN and echoes the External ID', () => {
    fc.assert(
      fc.property(deployment, (d) => {
        const outputs = Object.fromEntries(
          Object.entries(template.Outputs).map(([name, o]) => [name, evaluate(o.Value, contextFor(d))]),
        );

        expect(outputs).toEqual({
          [CUSTOMER_ROLE_OUTPUTS.roleArn]: roleArn({
            partition: d.partition,
            accountId: d.accountId,
            roleName: d.roleName,
          }),
          [CUSTOMER_ROLE_OUTPUTS.externalId]: d.externalId,
        });
      }),
    );
  });
});

describe('permissions', () => {
  it('are exactly BatchImportFindings on the own product and DescribeHub on the own hub, nothing broader', () => {
    const policy = customerPermissionsPolicy({ partition: 'aws', accountId: '123456789012' });

    const grants = policy.Statement.map((s) => ({
      effect: s.Effect,
      action: s.Action,
      resource: s.Resource,
    }));

    expect(grants).toEqual([
      {
        effect: 'Allow',
        action: 'securityhub:BatchImportFindings',
        resource: 'arn:aws:securityhub:*:123456789012:product/123456789012/default',
      },
      {
        effect: 'Allow',
        action: 'securityhub:DescribeHub',
        resource: 'arn:aws:securityhub:*:123456789012:hub/default',
      },
    ]);
    for (const statement of policy.Statement) {
      expect(Object.keys(statement).sort()).toEqual(['Action', 'Effect', 'Resource', 'Sid']);
    }
  });
});

describe('template text', () => {
  it('is published from this file with the Data443 account as the default and nothing else changed', () => {
    const rendered = parseTemplate(renderTemplateBody({ data443AccountId: '444455556666' }));

    const { Data443AccountId, ...otherParameters } = rendered.Parameters;

    expect(Data443AccountId?.Default).toBe('444455556666');
    const { Data443AccountId: original, ...originalOthers } = template.Parameters;
    expect({ ...Data443AccountId, Default: original?.Default }).toEqual(original);
    expect(otherParameters).toEqual(originalOthers);
    expect({ ...rendered, Parameters: {} }).toEqual({ ...template, Parameters: {} });
  });
});
