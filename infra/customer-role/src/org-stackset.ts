// biome-ignore-all lint/suspicious/noTemplateCurlyInString: CloudFormation's own ${...} substitutions.
// The organisation templates (ADR 0119), generated from template.yaml so the member account's role is the
// single-account role, byte for byte in every property but one: its ExternalId is the organisation's
// ExternalId prefix followed by the account id, so each account still has its own ExternalId. The
// generated files are committed (org-member.yaml, org-stackset.yaml); a test fails when they drift.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CUSTOMER_ROLE_PARAMETERS, type CustomerRoleTemplate } from '@vsh/role-contract';
import { parse, stringify } from 'yaml';
import { REGISTRATION_HANDLER_SOURCE } from './org-registration-handler.ts';
import { loadTemplate } from './template.ts';

/** The member-account template the StackSet deploys. */
export const ORG_MEMBER_TEMPLATE_PATH = fileURLToPath(new URL('../org-member.yaml', import.meta.url));
/** The service-managed StackSet template, deployed once in the management (or delegated admin) account. */
export const ORG_STACKSET_TEMPLATE_PATH = fileURLToPath(new URL('../org-stackset.yaml', import.meta.url));

/** The logical id of the role, in template.yaml and in the member template alike. */
export const ROLE_LOGICAL_ID = 'ConnectorRole';

/** Parameters of the organisation templates beyond the role's own. */
export const ORG_PARAMETERS = {
  externalIdPrefix: 'ExternalIdPrefix',
  registrationUrl: 'RegistrationUrl',
  registrationToken: 'RegistrationToken',
  securityHubRegions: 'SecurityHubRegions',
  enableSecurityHub: 'EnableSecurityHub',
  productArn: 'SecurityHubProductArn',
  organizationalUnitIds: 'OrganizationalUnitIds',
  callAs: 'CallAs',
} as const;

/** `ExternalIdPrefix` + 12-digit account id = the 43 characters of EXTERNAL_ID_PATTERN. */
export const EXTERNAL_ID_PREFIX_PATTERN = '^[A-Za-z0-9_-]{31}$';

const MEMBER_EXTERNAL_ID = { 'Fn::Sub': `\${${ORG_PARAMETERS.externalIdPrefix}}\${AWS::AccountId}` };

type Node = unknown;

/** A deep copy of `node` with every `{ Ref: ExternalId }` replaced by the member account's ExternalId. */
function withMemberExternalId(node: Node): Node {
  if (Array.isArray(node)) return node.map(withMemberExternalId);
  if (node === null || typeof node !== 'object') return node;
  const entries = Object.entries(node);
  if (
    entries.length === 1 &&
    entries[0]?.[0] === 'Ref' &&
    entries[0][1] === CUSTOMER_ROLE_PARAMETERS.externalId
  ) {
    return MEMBER_EXTERNAL_ID;
  }
  return Object.fromEntries(entries.map(([key, value]) => [key, withMemberExternalId(value)]));
}

function roleParameters(source: CustomerRoleTemplate) {
  const { [CUSTOMER_ROLE_PARAMETERS.externalId]: _externalId, ...rest } = source.Parameters;
  return rest;
}

/** The member-account template: the role, optional Security Hub enablement, and the registration. */
export function orgMemberTemplate(source: CustomerRoleTemplate = loadTemplate()): Record<string, unknown> {
  const role = source.Resources[ROLE_LOGICAL_ID];
  if (role === undefined) throw new Error(`template.yaml has no ${ROLE_LOGICAL_ID}`);
  return {
    AWSTemplateFormatVersion: '2010-09-09',
    Description:
      'Data443 Vaikora connector, organisation member account (deployed by the Data443 StackSet): the ' +
      'connector role of the single-account template, optionally Security Hub, and a registration of this ' +
      'account with Data443.',
    Parameters: {
      [ORG_PARAMETERS.externalIdPrefix]: {
        Type: 'String',
        Description:
          "The organisation's External ID prefix from Data443; each account's External ID is this prefix followed by its account id.",
        AllowedPattern: EXTERNAL_ID_PREFIX_PATTERN,
        ConstraintDescription: 'must be the 31-character prefix from Data443.',
      },
      ...roleParameters(source),
      [ORG_PARAMETERS.registrationUrl]: {
        Type: 'String',
        Description: "The Data443 connector's organisation registration endpoint.",
        // https only: the token travels in the body. Plain http is accepted to a loopback address alone
        // (an API on the same machine, as the tests run it), never across a network.
        AllowedPattern:
          '^(https://[A-Za-z0-9.-]+(:[0-9]{1,5})?|http://(127\\.0\\.0\\.1|localhost)(:[0-9]{1,5})?)(/[A-Za-z0-9._~/-]*)?$',
        ConstraintDescription: 'must be the https URL Data443 gave you.',
      },
      [ORG_PARAMETERS.registrationToken]: {
        Type: 'String',
        NoEcho: true,
        Description: 'The organisation registration token from Data443 (shown once there).',
        AllowedPattern: '^vsho_[0-9a-z]{12}_[A-Za-z0-9_-]{43}$',
        ConstraintDescription: 'must be the registration token from Data443.',
      },
      [ORG_PARAMETERS.securityHubRegions]: {
        Type: 'CommaDelimitedList',
        Description: 'The regions where the connector imports findings (Security Hub must be enabled there).',
      },
      [ORG_PARAMETERS.enableSecurityHub]: {
        Type: 'String',
        Description: 'Enable Security Hub in the region of this stack (no default standards).',
        AllowedValues: ['true', 'false'],
        Default: 'false',
      },
      [ORG_PARAMETERS.productArn]: {
        Type: 'String',
        Description:
          'A Security Hub product to subscribe to in this region (partner mode), or empty for none.',
        AllowedPattern: '^(arn:aws[a-z-]*:securityhub:[a-z0-9-]+:[0-9]{12}:product/[A-Za-z0-9_./-]+)?$',
        Default: '',
      },
    },
    Conditions: {
      CreateHub: { 'Fn::Equals': [{ Ref: ORG_PARAMETERS.enableSecurityHub }, 'true'] },
      Subscribe: { 'Fn::Not': [{ 'Fn::Equals': [{ Ref: ORG_PARAMETERS.productArn }, ''] }] },
      SubscribeAfterHub: { 'Fn::And': [{ Condition: 'CreateHub' }, { Condition: 'Subscribe' }] },
      SubscribeToExistingHub: {
        'Fn::And': [{ 'Fn::Not': [{ Condition: 'CreateHub' }] }, { Condition: 'Subscribe' }],
      },
    },
    Resources: {
      [ROLE_LOGICAL_ID]: withMemberExternalId(role),
      SecurityHub: {
        Type: 'AWS::SecurityHub::Hub',
        Condition: 'CreateHub',
        Properties: { EnableDefaultStandards: false },
      },
      ProductSubscriptionAfterHub: {
        Type: 'AWS::SecurityHub::ProductSubscription',
        Condition: 'SubscribeAfterHub',
        DependsOn: 'SecurityHub',
        Properties: { ProductArn: { Ref: ORG_PARAMETERS.productArn } },
      },
      ProductSubscription: {
        Type: 'AWS::SecurityHub::ProductSubscription',
        Condition: 'SubscribeToExistingHub',
        Properties: { ProductArn: { Ref: ORG_PARAMETERS.productArn } },
      },
      RegistrationLogGroup: {
        Type: 'AWS::Logs::LogGroup',
        DeletionPolicy: 'Delete',
        UpdateReplacePolicy: 'Delete',
        Properties: { RetentionInDays: 30 },
      },
      RegistrationFunctionRole: {
        Type: 'AWS::IAM::Role',
        Properties: {
          Description: 'Runs the Data443 registration of this account; it can only write its own logs.',
          AssumeRolePolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Principal: { Service: 'lambda.amazonaws.com' },
                Action: 'sts:AssumeRole',
              },
            ],
          },
          Policies: [
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
          ],
        },
      },
      RegistrationFunction: {
        Type: 'AWS::Lambda::Function',
        Properties: {
          Description:
            'Registers this account with the Data443 Vaikora connector (and removes it on delete).',
          Runtime: 'nodejs22.x',
          Handler: 'index.handler',
          Timeout: 120,
          MemorySize: 128,
          Role: { 'Fn::GetAtt': ['RegistrationFunctionRole', 'Arn'] },
          LoggingConfig: { LogGroup: { Ref: 'RegistrationLogGroup' } },
          Code: { ZipFile: REGISTRATION_HANDLER_SOURCE },
        },
      },
      Registration: {
        Type: 'Custom::Data443Registration',
        Properties: {
          ServiceToken: { 'Fn::GetAtt': ['RegistrationFunction', 'Arn'] },
          AccountId: { Ref: 'AWS::AccountId' },
          Regions: { Ref: ORG_PARAMETERS.securityHubRegions },
          RoleArn: { 'Fn::GetAtt': [ROLE_LOGICAL_ID, 'Arn'] },
          RegistrationUrl: { Ref: ORG_PARAMETERS.registrationUrl },
          RegistrationToken: { Ref: ORG_PARAMETERS.registrationToken },
          // Registers only once Security Hub is on, when this stack enables it, so the first check passes.
          SecurityHub: { 'Fn::If': ['CreateHub', { Ref: 'SecurityHub' }, { Ref: 'AWS::NoValue' }] },
        },
      },
    },
    Outputs: {
      RoleArn: {
        Description: 'The ARN of the connector role in this account.',
        Value: { 'Fn::GetAtt': [ROLE_LOGICAL_ID, 'Arn'] },
      },
      ExternalId: {
        Description: "This account's External ID.",
        Value: MEMBER_EXTERNAL_ID,
      },
    },
  };
}

/** The member template's parameters the StackSet passes through, in order. */
function passedParameters(member: Record<string, unknown>): string[] {
  return Object.keys(member.Parameters as Record<string, unknown>);
}

/** The StackSet template: a service-managed StackSet deploying the member template to OUs. */
function orgStackSetTemplate(memberBody: string = renderYaml(orgMemberTemplate())): Record<string, unknown> {
  const member = parse(memberBody) as Record<string, unknown>;
  const memberParameters = member.Parameters as Record<string, Record<string, unknown>>;
  const passed = passedParameters(member);
  return {
    AWSTemplateFormatVersion: '2010-09-09',
    Description:
      'Data443 Vaikora connector for AWS Security Hub, organisation onboarding: a service-managed StackSet ' +
      'that deploys the connector role to every account of the given organisational units (and to accounts ' +
      'added to them later) and registers each account with Data443. Deploy it in the management account ' +
      '(or a delegated administrator, CallAs DELEGATED_ADMIN) in the region the member stacks should live in. ' +
      'The management account itself is not a target of service-managed StackSets.',
    Parameters: {
      [ORG_PARAMETERS.organizationalUnitIds]: {
        Type: 'CommaDelimitedList',
        Description: 'The organisational units (ou-...) or the root (r-...) to deploy to.',
      },
      [ORG_PARAMETERS.callAs]: {
        Type: 'String',
        Description: 'SELF in the management account, DELEGATED_ADMIN in a delegated administrator account.',
        AllowedValues: ['SELF', 'DELEGATED_ADMIN'],
        Default: 'SELF',
      },
      ...memberParameters,
    },
    Resources: {
      StackSet: {
        Type: 'AWS::CloudFormation::StackSet',
        Properties: {
          StackSetName: 'Data443-VaikoraSecurityHub-Organization',
          Description: 'The Data443 Vaikora connector role and its registration, in each member account.',
          PermissionModel: 'SERVICE_MANAGED',
          CallAs: { Ref: ORG_PARAMETERS.callAs },
          AutoDeployment: { Enabled: true, RetainStacksOnAccountRemoval: false },
          ManagedExecution: { Active: true },
          Capabilities: ['CAPABILITY_NAMED_IAM'],
          OperationPreferences: {
            RegionConcurrencyType: 'PARALLEL',
            MaxConcurrentPercentage: 25,
            FailureTolerancePercentage: 10,
          },
          // One region only: the role is global, so a second region would create it twice.
          StackInstancesGroup: [
            {
              DeploymentTargets: { OrganizationalUnitIds: { Ref: ORG_PARAMETERS.organizationalUnitIds } },
              Regions: [{ Ref: 'AWS::Region' }],
            },
          ],
          Parameters: passed.map((name) => ({
            ParameterKey: name,
            ParameterValue:
              memberParameters[name]?.Type === 'CommaDelimitedList'
                ? { 'Fn::Join': [',', { Ref: name }] }
                : { Ref: name },
          })),
          TemplateBody: memberBody,
        },
      },
    },
    Outputs: {
      StackSetId: {
        Description: 'The StackSet; its instances show each account.',
        Value: { Ref: 'StackSet' },
      },
    },
  };
}

/** YAML as committed: long form (no tags), wide lines, multi-line strings as blocks. */
function renderYaml(template: Record<string, unknown>): string {
  // YAML 1.1 quoting, so readers that still speak 1.1 (dates, booleans) read every string as a string.
  return stringify(template, {
    version: '1.1',
    lineWidth: 0,
    blockQuote: 'literal',
    aliasDuplicateObjects: false,
  });
}

/** Both organisation templates' text, as generated now. */
export function renderOrgTemplates(): { member: string; stackSet: string } {
  const member = renderYaml(orgMemberTemplate());
  return { member, stackSet: renderYaml(orgStackSetTemplate(member)) };
}

/** The committed text of a template file. */
export function committed(path: string): string {
  return readFileSync(path, 'utf8');
}

/** A committed organisation template, parsed (intrinsic functions stay data). */
export function loadOrgTemplate(path: string): Record<string, unknown> {
  return parse(committed(path)) as Record<string, unknown>;
}
