export { type CachingMasterKeyProvider, cacheDataKeys, type DataKeyCacheOptions } from './data-key-cache.ts';
export { SecretsError, type SecretsErrorCode } from './errors.ts';
export { type KmsMasterKeyOptions, KmsMasterKeyProvider } from './kms-provider.ts';
export { type LocalMasterKeyOptions, LocalMasterKeyProvider, localKeyId } from './local-provider.ts';
export { createServiceLogger, REDACTED_PATHS, type ServiceLoggerOptions } from './logger.ts';
export {
  type MasterKeyConfig,
  type MasterKeyEnv,
  masterKeyFromEnv,
  type OpenSecretBoxOptions,
  openSecretBox,
  WORKER_DATA_KEY_CACHE,
} from './master-key.ts';
export type { DataKey, EncryptionContext, MasterKeyProvider } from './provider.ts';
export {
  formatSealed,
  isSealedSecret,
  parseSealed,
  type SealedParts,
  type SealedSecret,
  sealedKeyId,
} from './sealed.ts';
export { redact, Secret } from './secret.ts';
export { createSecretBox, type SecretBox } from './secret-box.ts';
