import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { readDatabaseUrl } from './secrets.ts';

const sm = mockClient(SecretsManagerClient);
afterEach(() => sm.reset());

describe('readDatabaseUrl', () => {
  it('builds an encoded PostgreSQL URL from an RDS-shaped secret', async () => {
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({
        host: 'db.internal',
        port: 5433,
        username: 'vsh',
        password: 'p@ss/word',
        dbname: 'control',
      }),
    });

    const url = await readDatabaseUrl(new SecretsManagerClient({ region: 'us-east-1' }), 'arn:secret');

    expect(url).toBe('postgres://vsh:p%40ss%2Fword@db.internal:5433/control?sslmode=require');
  });

  it('names missing fields and never the values', async () => {
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ host: 'h', password: 'hunter2' }),
    });

    const error = await readDatabaseUrl(
      new SecretsManagerClient({ region: 'us-east-1' }),
      'arn:secret',
    ).catch((e: Error) => e);

    expect(String(error)).toContain('username');
    expect(String(error)).not.toContain('hunter2');
  });
});
