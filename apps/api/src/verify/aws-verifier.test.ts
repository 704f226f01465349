import { describe, expect, it } from 'vitest';
import { createAwsDestinationVerifier } from './aws-verifier.ts';
import { summarizeFailure } from './checks.ts';

const input = {
  tenantId: 'ten_01jd0000000000000000000000',
  destinationId: 'dst_01jd0000000000000000000000',
  roleArn: 'arn:aws:iam::123456789012:role/Data443-VaikoraSecurityHub',
  externalId: 'A'.repeat(43),
  regions: ['us-east-1', 'eu-west-1'],
};

describe('createAwsDestinationVerifier', () => {
  it("blames Data443, not the customer, when the connector's own credentials fail", async () => {
    const verifier = createAwsDestinationVerifier({
      masterCredentials: async () => {
        throw Object.assign(new Error('not authorized to assume the worker role'), { name: 'AccessDenied' });
      },
    });

    const result = await verifier.verify(input);
    verifier.destroy();

    expect(result.ok).toBe(false);
    expect(result.checks.map((check) => `${check.name}:${check.code}`)).toEqual([
      'ASSUME_ROLE:AWS_UNAVAILABLE',
      'EXTERNAL_ID_REQUIRED:SKIPPED',
      'SECURITY_HUB:SKIPPED',
      'SECURITY_HUB:SKIPPED',
    ]);
    expect(result.checks[0]?.fix).toContain("Data443's side");
    expect(summarizeFailure(result)).toMatch(
      /^AWS_UNAVAILABLE \(us-east-1\): the connector could not obtain/,
    );
  });
});
