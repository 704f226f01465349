import { CreateAliasCommand, CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  freePort,
  type MotoServer,
  startFaultProxy,
  startMoto,
  TEST_CREDENTIALS,
  testAwsConfig,
} from '@vsh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheDataKeys } from './data-key-cache.ts';
import { SecretsError, type SecretsErrorCode } from './errors.ts';
import { KmsMasterKeyProvider } from './kms-provider.ts';
import { LocalMasterKeyProvider } from './local-provider.ts';
import { openSecretBox, WORKER_DATA_KEY_CACHE } from './master-key.ts';
import { formatSealed, parseSealed, sealedKeyId } from './sealed.ts';
import { createSecretBox } from './secret-box.ts';

async function failureOf(promise: Promise<unknown>): Promise<SecretsError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof SecretsError) return error;
    throw error;
  }
  throw new Error('expected a SecretsError');
}

const acme = { tenantId: 'ten_acme' };
const globex = { tenantId: 'ten_globex' };
const vaikoraKey = 'vk_live_kms_0123456789abcdef';

describe('KmsMasterKeyProvider against moto_server', () => {
  let moto: MotoServer;
  let client: KMSClient;
  let keyArn: string;

  beforeAll(async () => {
    moto = await startMoto();
    client = new KMSClient(testAwsConfig(moto.endpoint));
    const created = await client.send(new CreateKeyCommand({ Description: 'vsh secrets test' }));
    keyArn = created.KeyMetadata?.Arn ?? '';
  });
  afterAll(async () => {
    client?.destroy();
    await moto?.stop();
  });

  it('seals under a KMS data key and opens it again', async () => {
    const box = createSecretBox(new KmsMasterKeyProvider({ client, keyId: keyArn }));

    const sealed = await box.seal(vaikoraKey, acme);

    expect(sealedKeyId(sealed)).toBe(keyArn);
    expect(await box.open(sealed, acme)).toBe(vaikoraKey);
  });

  it('stores the key ARN when configured with an alias, so re-pointing the alias strands nothing', async () => {
    await client.send(new CreateAliasCommand({ AliasName: 'alias/vsh-secrets-test', TargetKeyId: keyArn }));
    const box = createSecretBox(new KmsMasterKeyProvider({ client, keyId: 'alias/vsh-secrets-test' }));

    const sealed = await box.seal(vaikoraKey, acme);

    expect(sealedKeyId(sealed)).toBe(keyArn);
    expect(await box.open(sealed, acme)).toBe(vaikoraKey);
  });

  it('has KMS refuse the data key for another tenant (encryption context)', async () => {
    const provider = new KmsMasterKeyProvider({ client, keyId: keyArn });
    const dataKey = await provider.generateDataKey(acme);

    const error = await failureOf(provider.decryptDataKey(dataKey.encrypted, dataKey.keyId, globex));

    expect(error.code).toBe<SecretsErrorCode>('DECRYPT_FAILED');
  });

  it('refuses to open a sealed secret for another tenant', async () => {
    const box = createSecretBox(new KmsMasterKeyProvider({ client, keyId: keyArn }));
    const sealed = await box.seal(vaikoraKey, acme);

    const error = await failureOf(box.open(sealed, globex));

    expect(error.code).toBe<SecretsErrorCode>('DECRYPT_FAILED');
    expect(error.message).not.toContain(vaikoraKey);
  });

  it("with the worker's data key cache, reopens without a KMS Decrypt and still has KMS refuse another tenant", async () => {
    const counted = new KMSClient(testAwsConfig(moto.endpoint));
    const decrypts: string[] = [];
    counted.middlewareStack.add(
      (next, context) => (args) => {
        if (context.commandName === 'DecryptCommand') decrypts.push(context.commandName);
        return next(args);
      },
      { step: 'initialize' },
    );
    const box = createSecretBox(
      cacheDataKeys(new KmsMasterKeyProvider({ client: counted, keyId: keyArn }), WORKER_DATA_KEY_CACHE),
    );
    const sealed = await box.seal(vaikoraKey, acme);

    const opened = [await box.open(sealed, acme), await box.open(sealed, acme)];
    const error = await failureOf(box.open(sealed, globex));
    counted.destroy();

    expect(opened).toEqual([vaikoraKey, vaikoraKey]);
    expect(error.code).toBe<SecretsErrorCode>('DECRYPT_FAILED');
    expect(decrypts).toHaveLength(2);
  });

  it.each(['ciphertext', 'encryptedDataKey'] as const)(
    'refuses a sealed secret whose %s was altered',
    async (part) => {
      const box = createSecretBox(new KmsMasterKeyProvider({ client, keyId: keyArn }));
      const parts = parseSealed(await box.seal(vaikoraKey, acme));
      const altered = Buffer.from(parts[part]);
      const last = altered.length - 1;
      altered[last] = (altered[last] ?? 0) ^ 0x80;

      const error = await failureOf(box.open(formatSealed({ ...parts, [part]: altered }), acme));

      expect(error.code).toBe<SecretsErrorCode>('DECRYPT_FAILED');
    },
  );

  it('reports an unknown key as KEY_NOT_FOUND and a locally sealed secret likewise', async () => {
    const missing = createSecretBox(
      new KmsMasterKeyProvider({
        client,
        keyId: 'arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000',
      }),
    );
    const local = createSecretBox(
      new LocalMasterKeyProvider({ primaryKey: Buffer.alloc(32, 1).toString('base64') }),
    );
    const sealedLocally = await local.seal(vaikoraKey, acme);

    const unknown = await failureOf(missing.seal(vaikoraKey, acme));
    const wrongProvider = await failureOf(
      createSecretBox(new KmsMasterKeyProvider({ client, keyId: keyArn })).open(sealedLocally, acme),
    );

    expect(unknown.code).toBe<SecretsErrorCode>('KEY_NOT_FOUND');
    expect(wrongProvider.code).toBe<SecretsErrorCode>('KEY_NOT_FOUND');
  });

  it('reports KMS_UNAVAILABLE, retryable, when KMS cannot be reached', async () => {
    const unreachable = new KMSClient({
      ...testAwsConfig(`http://127.0.0.1:${await freePort()}`),
      maxAttempts: 1,
    });
    const box = createSecretBox(new KmsMasterKeyProvider({ client: unreachable, keyId: keyArn }));

    const error = await failureOf(box.seal(vaikoraKey, acme));
    unreachable.destroy();

    expect([error.code, error.retryable]).toEqual(['KMS_UNAVAILABLE', true]);
    expect(error.message).not.toContain(vaikoraKey);
  });

  it('times out a Decrypt that is never answered and sends it again, rather than waiting for ever (ADR 0125)', async () => {
    const proxy = await startFaultProxy({
      upstream: moto.endpoint,
      rules: { timeouts: [{ match: { operation: 'Decrypt' }, rate: 1, times: 1 }] },
    });
    const { box, close } = openSecretBox(
      { kind: 'kms', keyId: keyArn },
      { region: 'us-east-1', endpoint: proxy.endpoint, credentials: TEST_CREDENTIALS, requestTimeoutMs: 500 },
    );
    try {
      const sealed = await box.seal(vaikoraKey, acme);

      expect(await box.open(sealed, acme)).toBe(vaikoraKey);
      expect(proxy.operationStats('kms', 'Decrypt')).toMatchObject({ timeouts: 1, forwarded: 1 });
    } finally {
      close();
      await proxy.stop();
    }
  });
});
