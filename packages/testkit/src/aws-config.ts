/** Static fake credentials: moto and DynamoDB Local accept any, and moto maps unknown keys to its default account. */
export const TEST_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' } as const;

export interface TestAwsConfig {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

/** Client config for tests: endpoint, region (default us-east-1), static fake credentials. */
export function testAwsConfig(endpoint: string, region = 'us-east-1'): TestAwsConfig {
  return { endpoint, region, credentials: { ...TEST_CREDENTIALS } };
}
