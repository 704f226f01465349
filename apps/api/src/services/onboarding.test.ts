import type { AwsDestination } from '@vsh/db';
import { DEFAULT_ROLE_NAME } from '@vsh/role-contract';
import { describe, expect, it } from 'vitest';
import { testConfig } from '../testing/harness.ts';
import { onboardingOf, TEMPLATE_PATH } from './onboarding.ts';

const row = {
  id: 'dst_01jd0000000000000000000000',
  accountId: '210987654321',
  regions: ['us-east-1'],
  roleName: DEFAULT_ROLE_NAME,
  externalId: 'a'.repeat(43),
} as AwsDestination;

describe('onboardingOf', () => {
  it('offers quick-create only with a published template, and names the reason otherwise', () => {
    const unpublished = onboardingOf(testConfig({ customerTemplateUrl: undefined }), row);
    const published = onboardingOf(
      testConfig({ mode: 'production', customerTemplateUrl: 'https://b.s3.amazonaws.com/t.yaml' }),
      row,
    );

    expect(unpublished.quickCreateUrl).toBeNull();
    expect(unpublished.quickCreateUnavailableReason).toContain('local');
    expect(published.quickCreateUrl).toContain(encodeURIComponent('https://b.s3.amazonaws.com/t.yaml'));
    expect(published.quickCreateUnavailableReason).toBeNull();
  });

  it('gives a local stack with an AWS endpoint a command for that endpoint and the account, and without one the plain command', () => {
    const local = onboardingOf(testConfig({ awsEndpointUrl: 'http://127.0.0.1:5999' }), row);
    const bare = onboardingOf(testConfig({ awsEndpointUrl: undefined }), row);

    expect(local.deployCommand).toContain('--endpoint-url http://127.0.0.1:5999');
    expect(local.deployCommand).toContain('arn:aws:iam::210987654321:role/CustomerAdmin');
    expect(local.deployCommand.split('\n').at(-1)).toMatch(
      /^aws cloudformation deploy .* --region us-east-1 /,
    );
    expect(bare.deployCommand).toMatch(/^aws cloudformation deploy /);
  });

  it('gives production a plain deploy command and the download at the public base URL', () => {
    const onboarding = onboardingOf(
      testConfig({ mode: 'production', publicBaseUrl: 'https://c.example.com', awsEndpointUrl: undefined }),
      row,
      true,
    );

    expect(onboarding.templateUrl).toBe(`https://c.example.com${TEMPLATE_PATH}`);
    expect(onboarding.deployCommand).toMatch(/^aws cloudformation deploy /);
    expect(onboarding.deployCommand).not.toContain('--endpoint-url');
    expect(onboarding.localDeployAvailable).toBe(false);
  });
});
