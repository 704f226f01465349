import {
  DecryptCommand,
  DisabledException,
  GenerateDataKeyCommand,
  KMSClient,
  KMSInternalException,
  KMSInvalidStateException,
  KMSServiceException,
} from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { SecretsError } from './errors.ts';
import { KmsMasterKeyProvider } from './kms-provider.ts';

// moto_server accepts GenerateDataKey on a disabled key and never throttles, so these error paths are
// only reachable with a mocked client (the happy paths and the encryption context run against moto).
const keyArn = 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555';
const acme = { tenantId: 'ten_acme' };
const meta = (httpStatusCode: number) => ({ $metadata: { httpStatusCode } });
// KMS's model has no class for these two common errors; the SDK raises them as its base exception.
const unmodelled = (name: string, httpStatusCode: number) =>
  new KMSServiceException({ name, $fault: 'client', message: name, ...meta(httpStatusCode) });

describe('KmsMasterKeyProvider error mapping', () => {
  const client = new KMSClient({ region: 'us-east-1' });
  const kms = mockClient(client);
  const provider = new KmsMasterKeyProvider({ client, keyId: keyArn });
  afterEach(() => kms.reset());

  it.each([
    [
      'DisabledException',
      new DisabledException({ message: 'disabled', ...meta(400) }),
      'KEY_NOT_FOUND',
      false,
    ],
    [
      'KMSInvalidStateException',
      new KMSInvalidStateException({ message: 'pending deletion', ...meta(400) }),
      'KEY_NOT_FOUND',
      false,
    ],
    ['ThrottlingException', unmodelled('ThrottlingException', 400), 'KMS_UNAVAILABLE', true],
    [
      'KMSInternalException',
      new KMSInternalException({ message: 'oops', ...meta(500) }),
      'KMS_UNAVAILABLE',
      true,
    ],
    ['AccessDeniedException', unmodelled('AccessDeniedException', 400), 'KMS_UNAVAILABLE', false],
  ] as const)('maps %s from GenerateDataKey to %s', async (_name, thrown, code, retryable) => {
    kms.on(GenerateDataKeyCommand).rejects(thrown);

    const attempt = provider.generateDataKey(acme);

    await expect(attempt).rejects.toBeInstanceOf(SecretsError);
    await expect(attempt).rejects.toMatchObject({ code, retryable });
  });

  it('asks KMS for an AES-256 data key bound to the tenant', async () => {
    kms.on(GenerateDataKeyCommand).resolves({
      Plaintext: new Uint8Array(32),
      CiphertextBlob: new Uint8Array([1, 2, 3]),
      KeyId: keyArn,
    });

    await provider.generateDataKey(acme);

    expect(kms.commandCalls(GenerateDataKeyCommand)[0]?.args[0].input).toEqual({
      KeyId: keyArn,
      KeySpec: 'AES_256',
      EncryptionContext: { tenantId: 'ten_acme' },
    });
  });

  it('treats an answer without key material as KMS being unavailable', async () => {
    kms.on(DecryptCommand).resolves({});

    await expect(provider.decryptDataKey(new Uint8Array([1]), keyArn, acme)).rejects.toMatchObject({
      code: 'KMS_UNAVAILABLE',
    });
  });
});
