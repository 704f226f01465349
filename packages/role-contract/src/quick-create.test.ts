import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CUSTOMER_ROLE_PARAMETERS,
  DEFAULT_ROLE_NAME,
  DEFAULT_STACK_NAME,
  DEFAULT_WORKER_ROLE_NAME,
} from './constants.ts';
import { cloudFormationDeployCommand, customerRoleParameterValues, quickCreateUrl } from './quick-create.ts';
import { CUSTOMER_TEMPLATE_YAML, parseTemplate } from './template.ts';
import {
  accountIdArb,
  externalIdArb,
  regionArb,
  roleNameArb,
  workerRoleNameArb,
} from './testing/arbitraries.ts';

const FRAGMENT_PREFIX = '#/stacks/create/review?';

const input = {
  region: 'eu-west-1',
  templateUrl:
    'https://data443-templates.s3.eu-west-1.amazonaws.com/customer-role/v1/template.yaml?versionId=a&b=c#x',
  stackName: 'Data443-VaikoraSecurityHub',
  externalId: 'AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde',
  data443AccountId: '444455556666',
  workerRoleName: 'vsh+worker=a,b.c@d',
  roleName: 'Data443-VaikoraSecurityHub',
};

/** Reads a quick-create link the way the console does: the review page's query is in the fragment. */
function readLink(link: string) {
  const url = new URL(link);
  expect(url.hash.startsWith(FRAGMENT_PREFIX)).toBe(true);
  return { url, params: new URLSearchParams(url.hash.slice(FRAGMENT_PREFIX.length)) };
}

describe('quickCreateUrl', () => {
  it('opens the review page of the CloudFormation console in the region', () => {
    const { url } = readLink(quickCreateUrl(input));

    expect(url.origin).toBe('https://eu-west-1.console.aws.amazon.com');
    expect(url.pathname).toBe('/cloudformation/home');
    expect(url.searchParams.get('region')).toBe('eu-west-1');
  });

  it('carries every template parameter as param_<name>, with the template URL and stack name', () => {
    const { params } = readLink(quickCreateUrl(input));

    const names = [...params.keys()];

    expect(names.sort()).toEqual(
      [
        'templateURL',
        'stackName',
        ...Object.keys(parseTemplate(CUSTOMER_TEMPLATE_YAML).Parameters).map((n) => `param_${n}`),
      ].sort(),
    );
    expect(params.get('templateURL')).toBe(input.templateUrl);
    expect(params.get('stackName')).toBe(input.stackName);
    expect(params.get(`param_${CUSTOMER_ROLE_PARAMETERS.externalId}`)).toBe(input.externalId);
    expect(params.get(`param_${CUSTOMER_ROLE_PARAMETERS.workerRoleName}`)).toBe(input.workerRoleName);
  });

  it('encodes values so that none can add or cut a parameter', () => {
    const link = quickCreateUrl(input);

    const fragment = link.slice(link.indexOf(FRAGMENT_PREFIX) + FRAGMENT_PREFIX.length);

    expect(fragment.split('&')).toHaveLength(6);
    expect(fragment).not.toMatch(/[#+ ]/);
    expect(decodeURIComponent(fragment.split('&')[0] ?? '')).toBe(`templateURL=${input.templateUrl}`);
  });

  it('round-trips any valid parameters through URL parsing', () => {
    fc.assert(
      fc.property(
        regionArb,
        externalIdArb,
        accountIdArb,
        workerRoleNameArb,
        roleNameArb,
        (region, externalId, data443AccountId, workerRoleName, roleName) => {
          const values = { externalId, data443AccountId, workerRoleName, roleName };

          const { params } = readLink(quickCreateUrl({ ...input, region, ...values }));

          for (const [name, value] of Object.entries(customerRoleParameterValues(values))) {
            expect(params.get(`param_${name}`)).toBe(value);
          }
        },
      ),
    );
  });

  it('fills the defaults when the optional names are left out', () => {
    const { params } = readLink(
      quickCreateUrl({
        region: 'us-east-1',
        templateUrl: input.templateUrl,
        externalId: input.externalId,
        data443AccountId: input.data443AccountId,
      }),
    );

    expect(params.get('stackName')).toBe(DEFAULT_STACK_NAME);
    expect(params.get('param_WorkerRoleName')).toBe(DEFAULT_WORKER_ROLE_NAME);
    expect(params.get('param_RoleName')).toBe(DEFAULT_ROLE_NAME);
  });

  it('uses the China and GovCloud consoles for their regions', () => {
    expect(new URL(quickCreateUrl({ ...input, region: 'cn-north-1' })).origin).toBe(
      'https://console.amazonaws.cn',
    );
    expect(new URL(quickCreateUrl({ ...input, region: 'us-gov-west-1' })).origin).toBe(
      'https://console.amazonaws-us-gov.com',
    );
  });

  it.each([
    ['invalid_region', { region: 'eu-west-1/../x' }],
    ['invalid_stack_name', { stackName: '1-starts-with-a-digit' }],
    ['invalid_template_url', { templateUrl: 'http://bucket.s3.amazonaws.com/t.yaml' }],
    ['invalid_template_url', { templateUrl: 'not a url' }],
    ['invalid_external_id', { externalId: 'too-short' }],
    ['invalid_role_name', { roleName: 'SomeOtherRole' }],
    ['invalid_worker_role_name', { workerRoleName: '' }],
    ['invalid_account_id', { data443AccountId: '1234' }],
  ])('refuses with %s', (code, change) => {
    expect(() => quickCreateUrl({ ...input, ...change })).toThrow(expect.objectContaining({ code }));
  });
});

describe('cloudFormationDeployCommand', () => {
  it('passes every template parameter to aws cloudformation deploy with the named-IAM capability', () => {
    const command = cloudFormationDeployCommand({
      templateFile: 'template.yaml',
      externalId: input.externalId,
      data443AccountId: input.data443AccountId,
    });

    expect(command).toBe(
      'aws cloudformation deploy --template-file template.yaml --stack-name Data443-VaikoraSecurityHub ' +
        `--parameter-overrides ExternalId=${input.externalId} Data443AccountId=444455556666 ` +
        'WorkerRoleName=vsh-connector-worker RoleName=Data443-VaikoraSecurityHub --capabilities CAPABILITY_NAMED_IAM',
    );
  });

  it('quotes a template path that the shell would split or expand', () => {
    const command = cloudFormationDeployCommand({
      templateFile: "/tmp/my dir/it's $HOME.yaml",
      externalId: input.externalId,
      data443AccountId: input.data443AccountId,
    });

    expect(command).toContain(`--template-file '/tmp/my dir/it'\\''s $HOME.yaml' `);
  });
});
