// biome-ignore-all lint/suspicious/noTemplateCurlyInString: CloudFormation's own ${...} substitutions.
import {
  CUSTOMER_ROLE_PARAMETERS,
  customerPermissionsPolicy,
  customerTrustPolicy,
  EXTERNAL_ID_PATTERN,
  INLINE_POLICY_NAME,
} from '@vsh/role-contract';
import {
  accountIdArb,
  partitionArb,
  regionArb,
  roleNameArb,
  workerRoleNameArb,
} from '@vsh/role-contract/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { evaluate } from './cfn-evaluate.ts';
import { REGISTRATION_HANDLER_SOURCE } from './org-registration-handler.ts';
import {
  committed,
  EXTERNAL_ID_PREFIX_PATTERN,
  ORG_MEMBER_TEMPLATE_PATH,
  ORG_PARAMETERS,
  ORG_STACKSET_TEMPLATE_PATH,
  orgMemberTemplate,
  ROLE_LOGICAL_ID,
  renderOrgTemplates,
} from './org-stackset.ts';
import { loadTemplate } from './template.ts';

type Template = {
  Parameters: Record<string, Record<string, unknown>>;
  Resources: Record<
    string,
    { Type: string; Condition?: string; DependsOn?: string; Properties: Record<string, unknown> }
  >;
  Conditions?: Record<string, unknown>;
  Outputs: Record<string, { Value: unknown }>;
};

const single = loadTemplate();
const memberFile = parse(committed(ORG_MEMBER_TEMPLATE_PATH)) as Template;
const stackSetFile = parse(committed(ORG_STACKSET_TEMPLATE_PATH)) as Template;

const prefixArb = fc.stringMatching(new RegExp(EXTERNAL_ID_PREFIX_PATTERN));
const deployment = fc.record({
  partition: partitionArb,
  accountId: accountIdArb,
  region: regionArb,
  externalIdPrefix: prefixArb,
  data443AccountId: accountIdArb,
  workerRoleName: workerRoleNameArb,
  roleName: roleNameArb,
});
type Deployment = typeof deployment extends fc.Arbitrary<infer T> ? T : never;

function contextFor(d: Deployment) {
  return {
    parameters: {
      [ORG_PARAMETERS.externalIdPrefix]: d.externalIdPrefix,
      [CUSTOMER_ROLE_PARAMETERS.data443AccountId]: d.data443AccountId,
      [CUSTOMER_ROLE_PARAMETERS.workerRoleName]: d.workerRoleName,
      [CUSTOMER_ROLE_PARAMETERS.roleName]: d.roleName,
    },
    pseudo: { 'AWS::Partition': d.partition, 'AWS::AccountId': d.accountId, 'AWS::Region': d.region },
  };
}

function memberRole(): Template['Resources'][string] {
  const role = memberFile.Resources[ROLE_LOGICAL_ID];
  if (role === undefined) throw new Error('no role in org-member.yaml');
  return role;
}

describe('the committed organisation templates', () => {
  it('are what the generator makes from template.yaml now (else run pnpm -F @vsh/customer-role generate:org)', () => {
    const { member, stackSet } = renderOrgTemplates();

    expect(memberFile).toEqual(parse(member));
    expect(stackSetFile).toEqual(parse(stackSet));
  });
});

describe('the member role', () => {
  it('is template.yaml’s role with only the ExternalId reference replaced', () => {
    const singleRole = single.Resources[ROLE_LOGICAL_ID];
    const externalIdRef = JSON.stringify({ Ref: CUSTOMER_ROLE_PARAMETERS.externalId });
    const memberExternalId = JSON.stringify({ 'Fn::Sub': '${ExternalIdPrefix}${AWS::AccountId}' });

    const roleText = JSON.stringify(memberRole());

    expect(roleText.split(memberExternalId)).toHaveLength(2);
    expect(JSON.parse(roleText.replace(memberExternalId, externalIdRef))).toEqual(singleRole);
  });

  it('has, once substituted, exactly customerTrustPolicy with the account’s own 43-character ExternalId', () => {
    fc.assert(
      fc.property(deployment, (d) => {
        const externalId = `${d.externalIdPrefix}${d.accountId}`;

        const evaluated = evaluate(memberRole().Properties.AssumeRolePolicyDocument, contextFor(d));

        expect(externalId).toMatch(EXTERNAL_ID_PATTERN);
        expect(evaluated).toEqual(customerTrustPolicy({ ...d, externalId }));
      }),
    );
  });

  it('has, once substituted, exactly one inline policy equal to customerPermissionsPolicy', () => {
    fc.assert(
      fc.property(deployment, (d) => {
        const [policy, ...others] = memberRole().Properties.Policies as { PolicyDocument: unknown }[];

        expect(others).toEqual([]);
        expect({ ...policy, PolicyDocument: evaluate(policy?.PolicyDocument, contextFor(d)) }).toEqual({
          PolicyName: INLINE_POLICY_NAME,
          PolicyDocument: customerPermissionsPolicy({ partition: d.partition, accountId: d.accountId }),
        });
      }),
    );
  });

  it('keeps template.yaml’s role parameters, and takes the ExternalId prefix instead of an ExternalId', () => {
    const { [CUSTOMER_ROLE_PARAMETERS.externalId]: _dropped, ...roleParameters } = single.Parameters;

    expect(memberFile.Parameters).toMatchObject(roleParameters);
    expect(memberFile.Parameters[CUSTOMER_ROLE_PARAMETERS.externalId]).toBeUndefined();
    expect(memberFile.Parameters[ORG_PARAMETERS.externalIdPrefix]?.AllowedPattern).toBe(
      EXTERNAL_ID_PREFIX_PATTERN,
    );
    expect(memberFile.Parameters[ORG_PARAMETERS.registrationToken]?.NoEcho).toBe(true);
  });

  it('fails loudly when template.yaml has no role to derive from', () => {
    expect(() => orgMemberTemplate({ ...single, Resources: {} })).toThrow(/no ConnectorRole/);
  });
});

describe('the member template', () => {
  it('enables Security Hub and subscribes to a product only when asked, the subscription after the hub', () => {
    const r = memberFile.Resources;

    expect(r.SecurityHub).toMatchObject({ Type: 'AWS::SecurityHub::Hub', Condition: 'CreateHub' });
    expect(r.ProductSubscriptionAfterHub).toMatchObject({
      Type: 'AWS::SecurityHub::ProductSubscription',
      Condition: 'SubscribeAfterHub',
      DependsOn: 'SecurityHub',
    });
    expect(r.ProductSubscription?.Condition).toBe('SubscribeToExistingHub');
    expect(memberFile.Parameters[ORG_PARAMETERS.enableSecurityHub]?.Default).toBe('false');
  });

  it('registers the account, its regions and the role ARN through an inline function under 4096 bytes', () => {
    const registration = memberFile.Resources.Registration;
    const fn = memberFile.Resources.RegistrationFunction;

    expect(registration?.Properties).toMatchObject({
      ServiceToken: { 'Fn::GetAtt': ['RegistrationFunction', 'Arn'] },
      AccountId: { Ref: 'AWS::AccountId' },
      Regions: { Ref: ORG_PARAMETERS.securityHubRegions },
      RoleArn: { 'Fn::GetAtt': [ROLE_LOGICAL_ID, 'Arn'] },
      RegistrationToken: { Ref: ORG_PARAMETERS.registrationToken },
    });
    expect(fn?.Properties.Code).toEqual({ ZipFile: REGISTRATION_HANDLER_SOURCE });
    expect(Buffer.byteLength(REGISTRATION_HANDLER_SOURCE, 'utf8')).toBeLessThan(4096);
  });

  it('lets the registration function write only its own log group', () => {
    const role = memberFile.Resources.RegistrationFunctionRole;

    expect(JSON.stringify(role?.Properties.Policies)).toBe(
      JSON.stringify([
        {
          PolicyName: 'WriteOwnLogs',
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
                Resource: { 'Fn::GetAtt': ['RegistrationLogGroup', 'Arn'] },
              },
            ],
          },
        },
      ]),
    );
    expect(role?.Properties.ManagedPolicyArns).toBeUndefined();
  });
});

describe('the StackSet template', () => {
  const stackSet = stackSetFile.Resources.StackSet;
  const properties = stackSet?.Properties ?? {};

  it('is one service-managed StackSet that deploys to the given OUs and to accounts added later', () => {
    expect(Object.keys(stackSetFile.Resources)).toEqual(['StackSet']);
    expect(stackSet?.Type).toBe('AWS::CloudFormation::StackSet');
    expect(properties).toMatchObject({
      PermissionModel: 'SERVICE_MANAGED',
      AutoDeployment: { Enabled: true, RetainStacksOnAccountRemoval: false },
      Capabilities: ['CAPABILITY_NAMED_IAM'],
      StackInstancesGroup: [
        {
          DeploymentTargets: { OrganizationalUnitIds: { Ref: ORG_PARAMETERS.organizationalUnitIds } },
          Regions: [{ Ref: 'AWS::Region' }],
        },
      ],
    });
  });

  it('deploys exactly the committed member template', () => {
    const body = committed(ORG_MEMBER_TEMPLATE_PATH);

    expect(parse(properties.TemplateBody as string)).toEqual(parse(body));
  });

  it('passes every member parameter through, lists joined', () => {
    const passed = properties.Parameters as { ParameterKey: string; ParameterValue: unknown }[];

    expect(passed.map((p) => p.ParameterKey)).toEqual(Object.keys(memberFile.Parameters));
    for (const { ParameterKey, ParameterValue } of passed) {
      expect(stackSetFile.Parameters[ParameterKey]).toEqual(memberFile.Parameters[ParameterKey]);
      expect(ParameterValue).toEqual(
        memberFile.Parameters[ParameterKey]?.Type === 'CommaDelimitedList'
          ? { 'Fn::Join': [',', { Ref: ParameterKey }] }
          : { Ref: ParameterKey },
      );
    }
  });
});

describe('the registration URL parameter', () => {
  const pattern = (() => {
    const member = orgMemberTemplate() as { Parameters: Record<string, { AllowedPattern: string }> };
    return new RegExp(member.Parameters[ORG_PARAMETERS.registrationUrl]?.AllowedPattern ?? '$^');
  })();

  it.each([
    ['https://connector.data443.com/org-registrations/accounts', true],
    ['https://connector.data443.com:8443/org-registrations/accounts', true],
    ['http://127.0.0.1:8787/org-registrations/accounts', true],
    ['http://localhost:8787/org-registrations/accounts', true],
    // The token travels in the body: never in clear text across a network.
    ['http://connector.data443.com/org-registrations/accounts', false],
    ['http://127.0.0.1.attacker.example/org-registrations/accounts', false],
    ['https://user@connector.data443.com/x', false],
  ])('%s is accepted: %s', (url, accepted) => {
    expect(pattern.test(url)).toBe(accepted);
  });
});
