import { KMSClient, type KMSClientConfig } from '@aws-sdk/client-kms';
import { cacheDataKeys, type DataKeyCacheOptions } from './data-key-cache.ts';
import { KmsMasterKeyProvider } from './kms-provider.ts';
import { LocalMasterKeyProvider } from './local-provider.ts';
import { createSecretBox, type SecretBox } from './secret-box.ts';

/** Where tenant secrets' data keys are wrapped: a local key (with the keys rotated out) or KMS. */
export type MasterKeyConfig =
  | { readonly kind: 'local'; readonly primaryKey: string; readonly previousKeys: readonly string[] }
  | { readonly kind: 'kms'; readonly keyId: string };

/** The environment variables every process reads its master key from (ADR 0031). */
export interface MasterKeyEnv {
  readonly MASTER_KEY?: string | undefined;
  readonly MASTER_KEY_PREVIOUS?: string | undefined;
  readonly KMS_KEY_ID?: string | undefined;
}

const BASE64_32 = /^[A-Za-z0-9+/]{43}=$/;

/**
 * Reads the master key configuration, the same way in every entry point (API, worker, Lambdas):
 * `KMS_KEY_ID` wins; else `MASTER_KEY` with the comma-separated `MASTER_KEY_PREVIOUS` (rotation).
 * Problems name the variable, never its value.
 */
export function masterKeyFromEnv(
  env: MasterKeyEnv,
): { ok: true; config: MasterKeyConfig } | { ok: false; problems: string[] } {
  if (env.KMS_KEY_ID !== undefined && env.KMS_KEY_ID !== '') {
    return { ok: true, config: { kind: 'kms', keyId: env.KMS_KEY_ID } };
  }
  const problems: string[] = [];
  if (env.MASTER_KEY === undefined || env.MASTER_KEY === '') {
    problems.push('set MASTER_KEY (local) or KMS_KEY_ID (production) to open tenant Vaikora keys');
  } else if (!BASE64_32.test(env.MASTER_KEY)) {
    problems.push('MASTER_KEY must be 32 bytes, base64');
  }
  const previousKeys = (env.MASTER_KEY_PREVIOUS ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k !== '');
  if (previousKeys.some((k) => !BASE64_32.test(k))) {
    problems.push('MASTER_KEY_PREVIOUS must be a comma-separated list of 32-byte base64 keys');
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, config: { kind: 'local', primaryKey: env.MASTER_KEY ?? '', previousKeys } };
}

export interface OpenSecretBoxOptions {
  readonly region: string;
  /** Endpoint override for a local KMS stand-in. */
  readonly endpoint?: string | undefined;
  readonly credentials?: KMSClientConfig['credentials'] | undefined;
  /**
   * Keep unwrapped KMS data keys within these bounds, so reopening a tenant's secret is no KMS Decrypt
   * (the worker: ADR 0114). Unset: every open is a Decrypt. Local master keys are never cached.
   */
  readonly dataKeyCache?: DataKeyCacheOptions | undefined;
  /**
   * A KMS request not answered in this long fails (the SDK retries it) instead of waiting on a hung
   * connection for ever; default 10 s.
   */
  readonly requestTimeoutMs?: number | undefined;
}

/** The worker's data key cache bounds (ADR 0114): an hour, a key per tenant for 10,000 tenants. */
export const WORKER_DATA_KEY_CACHE: DataKeyCacheOptions = {
  maxAgeMs: 60 * 60_000,
  maxEntries: 10_000,
  maxUses: 100,
};

/** The one place a process builds its secret box; `close` frees the KMS client when there is one. */
export function openSecretBox(
  config: MasterKeyConfig,
  options: OpenSecretBoxOptions,
): { box: SecretBox; close: () => void } {
  if (config.kind === 'local') {
    const provider = new LocalMasterKeyProvider({
      primaryKey: config.primaryKey,
      previousKeys: config.previousKeys,
    });
    return { box: createSecretBox(provider), close: () => undefined };
  }
  const kms = new KMSClient({
    region: options.region,
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
    // `requestTimeout` alone only logs a warning in this SDK: throwOnRequestTimeout makes it fail.
    requestHandler: {
      connectionTimeout: 3_000,
      requestTimeout: options.requestTimeoutMs ?? 10_000,
      throwOnRequestTimeout: true,
    },
  });
  const provider = new KmsMasterKeyProvider({ client: kms, keyId: config.keyId });
  if (options.dataKeyCache === undefined)
    return { box: createSecretBox(provider), close: () => kms.destroy() };
  const cached = cacheDataKeys(provider, options.dataKeyCache);
  return {
    box: createSecretBox(cached),
    close: () => {
      cached.clear();
      kms.destroy();
    },
  };
}
