import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EnvError, parseEnv } from './env.ts';

const OPERATOR = 'o'.repeat(40);
const MASTER = randomBytes(32).toString('base64');

describe('parseEnv', () => {
  it('runs locally on PGlite with defaults and a master key', () => {
    const env = parseEnv({ OPERATOR_API_KEY: OPERATOR, MASTER_KEY: MASTER });

    expect(env).toMatchObject({
      mode: 'local',
      port: 8080,
      host: '127.0.0.1',
      database: { kind: 'pglite', dataDir: '.data/pglite' },
      masterKey: { kind: 'local', primaryKey: MASTER, previousKeys: [] },
      vaikoraAllowedHosts: ['api.vaikora.com'],
      verifyPropagationMs: 60_000,
      workerRoleName: 'vsh-connector-worker',
    });
  });

  it('uses PostgreSQL and KMS when configured', () => {
    const env = parseEnv({
      OPERATOR_API_KEY: OPERATOR,
      KMS_KEY_ID: 'alias/vsh',
      DATABASE_URL: 'postgres://u@db:5432/vsh',
      APP_ENV: 'production',
      DATA443_ACCOUNT_ID: '444455556666',
      CUSTOMER_TEMPLATE_URL: 'https://bucket.s3.amazonaws.com/role.yaml',
      VAIKORA_ALLOWED_HOSTS: 'api.vaikora.com, eu.api.vaikora.com',
      PORT: '9000',
    });

    expect(env).toMatchObject({
      mode: 'production',
      host: '0.0.0.0',
      port: 9000,
      database: { kind: 'postgres', url: 'postgres://u@db:5432/vsh' },
      masterKey: { kind: 'kms', keyId: 'alias/vsh' },
      vaikoraAllowedHosts: ['api.vaikora.com', 'eu.api.vaikora.com'],
    });
  });

  it.each([
    [{ MASTER_KEY: MASTER }, 'OPERATOR_API_KEY is required'],
    [{ OPERATOR_API_KEY: 'short', MASTER_KEY: MASTER }, 'OPERATOR_API_KEY must be at least 32 characters'],
    [{ OPERATOR_API_KEY: OPERATOR }, 'MASTER_KEY or KMS_KEY_ID is required'],
    [{ OPERATOR_API_KEY: OPERATOR, MASTER_KEY: 'c2hvcnQ=' }, 'MASTER_KEY must be 32 random bytes'],
    [{ OPERATOR_API_KEY: OPERATOR, MASTER_KEY: MASTER, PORT: 'eighty' }, 'PORT'],
    [
      { OPERATOR_API_KEY: OPERATOR, MASTER_KEY: MASTER, DATABASE_URL: 'mysql://x' },
      'DATABASE_URL must be a postgres:// URL',
    ],
    [
      { OPERATOR_API_KEY: OPERATOR, MASTER_KEY: MASTER, DATA443_ACCOUNT_ID: '123' },
      'DATA443_ACCOUNT_ID must be 12 digits',
    ],
    [
      { OPERATOR_API_KEY: OPERATOR, MASTER_KEY: MASTER, CUSTOMER_TEMPLATE_URL: 'http://x/t.yaml' },
      'CUSTOMER_TEMPLATE_URL',
    ],
    [
      { OPERATOR_API_KEY: OPERATOR, MASTER_KEY: MASTER, APP_ENV: 'production' },
      'DATA443_ACCOUNT_ID is required in production',
    ],
    [
      { OPERATOR_API_KEY: OPERATOR, MASTER_KEY: MASTER, VAIKORA_ALLOWED_HOSTS: 'https://x/' },
      'VAIKORA_ALLOWED_HOSTS',
    ],
  ])('stops with a message naming the variable (%o)', (source, message) => {
    expect(() => parseEnv(source)).toThrow(EnvError);
    expect(() => parseEnv(source)).toThrow(message);
  });

  it('never repeats a value in its message', () => {
    const secret = 'not-base64-master-key-value!!';

    expect(() => parseEnv({ OPERATOR_API_KEY: OPERATOR, MASTER_KEY: secret })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining(secret) }),
    );
  });
});
