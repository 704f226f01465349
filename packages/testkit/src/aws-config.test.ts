import { describe, expect, it } from 'vitest';
import { TEST_CREDENTIALS, testAwsConfig } from './aws-config.ts';

describe('testAwsConfig', () => {
  it('defaults to us-east-1 with static fake credentials', () => {
    const config = testAwsConfig('http://127.0.0.1:5000');

    expect(config).toEqual({
      endpoint: 'http://127.0.0.1:5000',
      region: 'us-east-1',
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
  });

  it('takes another region and hands out a fresh credentials object each time', () => {
    const first = testAwsConfig('http://127.0.0.1:5000', 'eu-west-1');
    const second = testAwsConfig('http://127.0.0.1:5000');

    first.credentials.accessKeyId = 'changed';

    expect(first.region).toBe('eu-west-1');
    expect(second.credentials).toEqual(TEST_CREDENTIALS);
  });
});
