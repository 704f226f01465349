import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EnvError, parseEnv } from './env.ts';

const OPERATOR = randomBytes(32).toString('base64url');
const MASTER = randomBytes(32).toString('base64');
const LOCAL = { APP_ENV: 'local', OPERATOR_API_KEY: OPERATOR, MASTER_KEY: MASTER };
const PRODUCTION = {
  OPERATOR_API_KEY: OPERATOR,
  KMS_KEY_ID: 'alias/vsh',
  DATABASE_URL: 'postgres://u@db:5432/vsh',
  DATA443_ACCOUNT_ID: '444455556666',
  CUSTOMER_TEMPLATE_URL: 'https://bucket.s3.amazonaws.com/role.yaml',
  VAIKORA_ALLOWED_HOSTS: 'api.vaikora.com',
};

describe('parseEnv', () => {
  it('runs locally on PGlite with defaults and a master key when APP_ENV=local', () => {
    const env = parseEnv(LOCAL);

    expect(env).toMatchObject({
      mode: 'local',
      port: 8080,
      host: '127.0.0.1',
      database: { kind: 'pglite', dataDir: '.data/pglite' },
      masterKey: { kind: 'local', primaryKey: MASTER, previousKeys: [] },
      vaikoraAllowedHosts: ['api.vaikora.com'],
      trustedProxies: [],
      verifyPropagationMs: 60_000,
      workerRoleName: 'vsh-connector-worker',
    });
  });

  it('uses PostgreSQL and KMS when configured', () => {
    const env = parseEnv({
      ...PRODUCTION,
      APP_ENV: 'production',
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

  it('applies the production rules when APP_ENV is not set, whatever NODE_ENV says', () => {
    const unset = parseEnv(PRODUCTION);
    const development = parseEnv({ ...PRODUCTION, NODE_ENV: 'development' });

    expect(unset.mode).toBe('production');
    expect(development.mode).toBe('production');
    expect(unset).toMatchObject({
      data443AccountId: '444455556666',
      customerTemplateUrl: 'https://bucket.s3.amazonaws.com/role.yaml',
    });
  });

  it('refuses to start without APP_ENV when only the local conveniences would make it run', () => {
    const attempt = () =>
      parseEnv({ OPERATOR_API_KEY: OPERATOR, MASTER_KEY: MASTER, NODE_ENV: 'development' });

    expect(attempt).toThrow(EnvError);
    for (const name of [
      'DATA443_ACCOUNT_ID',
      'CUSTOMER_TEMPLATE_URL',
      'VAIKORA_ALLOWED_HOSTS',
      'DATABASE_URL',
    ]) {
      expect(attempt).toThrow(`${name} is required in production (APP_ENV is not local)`);
    }
  });

  it('accepts the embedded database in production only when DATA_DIR chooses it', () => {
    const { DATABASE_URL: _, ...withoutDatabase } = PRODUCTION;

    const env = parseEnv({ ...withoutDatabase, DATA_DIR: '/var/lib/vsh' });

    expect(env.database).toEqual({ kind: 'pglite', dataDir: '/var/lib/vsh' });
    expect(() => parseEnv(withoutDatabase)).toThrow('DATABASE_URL is required in production');
  });

  it('reads the public base URL (trailing slash dropped) and the sign-in link lifetime; locally no template is published', () => {
    const production = parseEnv({
      ...PRODUCTION,
      PUBLIC_BASE_URL: 'https://connector.example.com/',
      SIGN_IN_LINK_TTL_SECONDS: '3600',
    });
    const local = parseEnv(LOCAL);

    expect(production).toMatchObject({
      publicBaseUrl: 'https://connector.example.com',
      signInLinkTtlMs: 3_600_000,
    });
    expect(local).toMatchObject({
      publicBaseUrl: undefined,
      customerTemplateUrl: undefined,
      signInLinkTtlMs: 86_400_000,
    });
  });

  it('reads the trusted proxies, addresses and CIDR ranges of both families', () => {
    const env = parseEnv({ ...LOCAL, TRUSTED_PROXIES: '10.0.0.0/8, 127.0.0.1,::1, 2001:db8::/32' });

    expect(env.trustedProxies).toEqual(['10.0.0.0/8', '127.0.0.1', '::1', '2001:db8::/32']);
  });

  it.each([
    [{ MASTER_KEY: MASTER }, 'OPERATOR_API_KEY is required'],
    [{ ...LOCAL, OPERATOR_API_KEY: 'short' }, 'OPERATOR_API_KEY must be at least 32 characters'],
    [{ APP_ENV: 'local', OPERATOR_API_KEY: OPERATOR }, 'MASTER_KEY or KMS_KEY_ID is required'],
    [{ ...LOCAL, MASTER_KEY: 'c2hvcnQ=' }, 'MASTER_KEY must be 32 random bytes'],
    [{ ...LOCAL, PORT: 'eighty' }, 'PORT'],
    [{ ...LOCAL, APP_ENV: 'staging' }, 'APP_ENV must be production or local'],
    [{ ...LOCAL, DATABASE_URL: 'mysql://x' }, 'DATABASE_URL must be a postgres:// URL'],
    [{ ...LOCAL, DATA443_ACCOUNT_ID: '123' }, 'DATA443_ACCOUNT_ID must be 12 digits'],
    [{ ...LOCAL, CUSTOMER_TEMPLATE_URL: 'http://x/t.yaml' }, 'CUSTOMER_TEMPLATE_URL'],
    [{ ...LOCAL, APP_ENV: 'production' }, 'DATA443_ACCOUNT_ID is required in production'],
    [{ ...LOCAL, VAIKORA_ALLOWED_HOSTS: 'https://x/' }, 'VAIKORA_ALLOWED_HOSTS'],
    [{ ...PRODUCTION, VAIKORA_ALLOWED_HOSTS: ' , ' }, 'VAIKORA_ALLOWED_HOSTS'],
    [{ ...PRODUCTION, AWS_ENDPOINT_URL: 'http://127.0.0.1:5000' }, 'AWS_ENDPOINT_URL is for local mode only'],
    [{ ...LOCAL, TRUSTED_PROXIES: '10.0.0.0/33' }, 'TRUSTED_PROXIES must be a comma-separated list'],
    [{ ...LOCAL, TRUSTED_PROXIES: 'proxy.internal' }, 'TRUSTED_PROXIES must be a comma-separated list'],
    [
      { ...PRODUCTION, PUBLIC_BASE_URL: 'http://connector.example.com' },
      'PUBLIC_BASE_URL must be an https URL',
    ],
    [{ ...LOCAL, PUBLIC_BASE_URL: 'ftp://x' }, 'PUBLIC_BASE_URL must be an http(s) URL'],
    [{ ...LOCAL, SIGN_IN_LINK_TTL_SECONDS: '10' }, 'SIGN_IN_LINK_TTL_SECONDS'],
  ])('stops with a message naming the variable (%o)', (source, message) => {
    expect(() => parseEnv(source)).toThrow(EnvError);
    expect(() => parseEnv(source)).toThrow(message);
  });

  it.each([
    ['one character', 'a'.repeat(32)],
    ['one character, longer', 'o'.repeat(40)],
    ['a short pattern repeated', 'abcd'.repeat(8)],
    ['a hex word repeated', 'deadbeef'.repeat(4)],
    ['a sequence', 'abcdefghijklmnopqrstuvwxyz012345'],
    ['digits counting up', '0123456789'.repeat(4)],
    ['a password repeated', 'P@ssw0rd!P@ssw0rd!P@ssw0rd!P@ssw0rd!'],
    ['two characters', Array.from({ length: 64 }, (_, i) => ((i * 7) % 3 === 0 ? 'x' : 'y')).join('')],
    ['random bytes half filled', `${randomBytes(8).toString('hex')}${'0'.repeat(32)}`],
  ])('refuses an operator key that is too predictable: %s', (_name, key) => {
    const attempt = () => parseEnv({ ...LOCAL, OPERATOR_API_KEY: key });

    expect(attempt).toThrow(EnvError);
    expect(attempt).toThrow('OPERATOR_API_KEY is too predictable');
    expect(attempt).toThrow(expect.objectContaining({ message: expect.not.stringContaining(key) }));
  });

  it.each([
    // apps/cli/src/local/state.ts (pnpm start), the API test harness and benches, this file.
    ['pnpm start', () => `vsh_op_${randomBytes(24).toString('base64url')}`],
    ['tests and benches', () => `op_${randomBytes(24).toString('base64url')}`],
    ['32 random bytes, base64url', () => randomBytes(32).toString('base64url')],
    ['openssl rand -base64 32', () => randomBytes(32).toString('base64')],
    ['openssl rand -hex 32', () => randomBytes(32).toString('hex')],
    [
      'Secrets Manager (64 characters, no punctuation)',
      () => {
        const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
        return Array.from(randomBytes(64), (byte) => alphabet[byte % alphabet.length]).join('');
      },
    ],
  ])('accepts operator keys generated as the project does: %s', (_name, generate) => {
    for (let i = 0; i < 200; i++) {
      const key = generate();
      expect(parseEnv({ ...LOCAL, OPERATOR_API_KEY: key }).operatorApiKey).toBe(key);
    }
  });

  it('never repeats a value in its message', () => {
    const secret = 'not-base64-master-key-value!!';

    expect(() => parseEnv({ ...LOCAL, MASTER_KEY: secret })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining(secret) }),
    );
  });
});
