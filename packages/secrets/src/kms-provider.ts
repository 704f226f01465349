import { DecryptCommand, GenerateDataKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { SecretsError, type SecretsErrorCode } from './errors.ts';
import type { DataKey, EncryptionContext, MasterKeyProvider } from './provider.ts';

export interface KmsMasterKeyOptions {
  /** A client the application built once (region, credentials, retry policy are its business). */
  client: KMSClient;
  /** The KMS key new data keys are made under: key id, key ARN, alias name or alias ARN. */
  keyId: string;
}

const decryptFailures = new Set(['InvalidCiphertextException', 'IncorrectKeyException']);
const keyFailures = new Set([
  'NotFoundException',
  'DisabledException',
  'KMSInvalidStateException',
  'InvalidKeyUsageException',
]);
const transientFailures = new Set([
  'ThrottlingException',
  'LimitExceededException',
  'KMSInternalException',
  'DependencyTimeoutException',
  'KeyUnavailableException',
]);

function classify(error: unknown): { code: SecretsErrorCode; retryable: boolean } {
  const name = error instanceof Error ? error.name : '';
  if (decryptFailures.has(name)) return { code: 'DECRYPT_FAILED', retryable: false };
  if (keyFailures.has(name)) return { code: 'KEY_NOT_FOUND', retryable: false };
  const status = (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  // No HTTP status means the request never got an answer (connection refused, timeout): worth a retry.
  const retryable = transientFailures.has(name) || status === undefined || status >= 500;
  return { code: 'KMS_UNAVAILABLE', retryable };
}

function failure(operation: string, keyId: string, context: EncryptionContext, error: unknown): SecretsError {
  const { code, retryable } = classify(error);
  const name = error instanceof Error ? error.name : 'unknown error';
  return new SecretsError(
    code,
    `KMS ${operation} with ${keyId} for tenant ${context.tenantId} failed: ${name}`,
    retryable,
    {
      cause: error,
    },
  );
}

/**
 * Data keys from AWS KMS (GenerateDataKey AES_256, Decrypt). The tenant id is the KMS encryption
 * context, so KMS itself refuses to unwrap a data key for any other tenant, and CloudTrail records which
 * tenant each Decrypt was for. The key ARN KMS answers with is what gets stored, so re-pointing an alias
 * later does not strand what was sealed before.
 */
export class KmsMasterKeyProvider implements MasterKeyProvider {
  readonly keyId: string;
  readonly #client: KMSClient;

  constructor(options: KmsMasterKeyOptions) {
    this.#client = options.client;
    this.keyId = options.keyId;
  }

  async generateDataKey(context: EncryptionContext): Promise<DataKey> {
    const output = await this.#client
      .send(
        new GenerateDataKeyCommand({
          KeyId: this.keyId,
          KeySpec: 'AES_256',
          EncryptionContext: { tenantId: context.tenantId },
        }),
      )
      .catch((error: unknown) => {
        throw failure('GenerateDataKey', this.keyId, context, error);
      });
    if (!output.Plaintext || !output.CiphertextBlob) {
      throw new SecretsError('KMS_UNAVAILABLE', 'KMS GenerateDataKey returned no key material', true);
    }
    return {
      plaintext: output.Plaintext,
      encrypted: output.CiphertextBlob,
      keyId: output.KeyId ?? this.keyId,
    };
  }

  async decryptDataKey(
    encrypted: Uint8Array,
    keyId: string,
    context: EncryptionContext,
  ): Promise<Uint8Array> {
    if (keyId.startsWith('local:')) {
      throw new SecretsError('KEY_NOT_FOUND', `master key ${keyId} is a local key, not a KMS key`, false);
    }
    const output = await this.#client
      .send(
        new DecryptCommand({
          CiphertextBlob: encrypted,
          KeyId: keyId,
          EncryptionContext: { tenantId: context.tenantId },
        }),
      )
      .catch((error: unknown) => {
        throw failure('Decrypt', keyId, context, error);
      });
    if (!output.Plaintext)
      throw new SecretsError('KMS_UNAVAILABLE', 'KMS Decrypt returned no key material', true);
    return output.Plaintext;
  }
}
