import { AssumeRoleCommand, STSClient, type STSClientConfig } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { LRUCache } from 'lru-cache';
import { AwsError, classifyAwsError } from './errors.ts';

/** STS clients kept per process: more than AWS has regions (ADR 0141). */
const DEFAULT_MAX_STS_REGIONS = 64;

/** STS client settings a caller may set (the endpoint is for tests; production uses the regional default). */
export type StsClientOptions = Pick<
  STSClientConfig,
  'endpoint' | 'maxAttempts' | 'retryMode' | 'logger' | 'requestHandler'
>;

export interface StsClientsOptions {
  /** Credentials of the connector itself; default the SDK's node provider chain. */
  readonly masterCredentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider | undefined;
  readonly clientConfig?: StsClientOptions | undefined;
  /** Regions whose clients are kept; the least recently used is dropped past it. Default 64. */
  readonly maxRegions?: number | undefined;
}

/** The connector's STS clients: one per region, made at its first use and kept. */
export interface StsClients {
  /** The client of a region's STS endpoint (a regional endpoint, not the global one). */
  forRegion(region: string): STSClient;
  /** Clients kept now. */
  readonly size: number;
  /** Destroys every client made (their request handlers; a handler on a shared pool leaves it open). */
  destroy(): void;
}

/**
 * One STS client per region, shared by every destination of that region (ADR 0141). The SDK's
 * `fromTemporaryCredentials` makes an STS client per credential provider, i.e. per destination: a new
 * destination then paid a client's construction, its configuration lookups (environment, config files)
 * and its first middleware resolution besides the AssumeRole itself: 2.05 ms of CPU for its first
 * call, 1.58 ms with the region's client (`pnpm -F @vsh/aws bench:new-destination`). An STS client
 * holds the connector's own credentials only; each AssumeRole names its role, ExternalId and session,
 * so sharing it lets no tenant act as another. AWS has about 35 regions, but a stored region is only
 * checked against the pattern of a region name: tenants could name thousands that do not exist, so the
 * clients kept are bounded (`maxRegions`); a dropped client is not destroyed (its handler may be on a
 * shared pool, and a call may still use it).
 */
export function createStsClients(options: StsClientsOptions = {}): StsClients {
  const maxRegions = options.maxRegions ?? DEFAULT_MAX_STS_REGIONS;
  if (!(maxRegions >= 1)) throw new RangeError('maxRegions must be >= 1');
  const clients = new LRUCache<string, STSClient>({ max: maxRegions });
  return {
    forRegion(region) {
      let client = clients.get(region);
      if (client === undefined) {
        client = new STSClient({
          ...options.clientConfig,
          region,
          ...(options.masterCredentials === undefined ? {} : { credentials: options.masterCredentials }),
        });
        clients.set(region, client);
      }
      return client;
    },
    get size() {
      return clients.size;
    },
    destroy() {
      for (const client of clients.values()) client.destroy();
      clients.clear();
    },
  };
}

export interface DestinationCredentialsOptions {
  readonly roleArn: string;
  readonly externalId: string;
  /** Names the tenant in CloudTrail (e.g. `vsh-<tenantId>`); sanitized to STS's pattern and 64 characters. */
  readonly sessionName: string;
  /** Optional SourceIdentity (persists across role chaining); sanitized like the session name. */
  readonly sourceIdentity?: string | undefined;
  /** The STS client of the destination's region (`StsClients.forRegion`), so a regional endpoint is used. */
  readonly sts: STSClient;
  /** Session length; default 3600 (STS accepts 900 up to the role's maximum). */
  readonly durationSeconds?: number | undefined;
  /** Refresh this long before expiry; default 5 min (never less than the SDK client's own 5 min window). */
  readonly refreshBeforeExpiryMs?: number | undefined;
  /** After a failed refresh while the old credential is still valid, wait this long before trying again. */
  readonly refreshRetryAfterMs?: number | undefined;
  /** Epoch milliseconds; default Date.now. */
  readonly clock?: (() => number) | undefined;
}

const DEFAULT_DURATION_SECONDS = 3600;
const DEFAULT_REFRESH_BEFORE_EXPIRY_MS = 5 * 60_000;
const DEFAULT_REFRESH_RETRY_AFTER_MS = 10_000;
const STS_NAME_MAX = 64;
const STS_NAME_MIN = 2;

/** Makes a string fit STS's RoleSessionName / SourceIdentity rules: `[\w+=,.@-]`, 2 to 64 characters. */
export function sanitizeStsName(value: string): string {
  const cleaned = value.replace(/[^\w+=,.@-]/g, '-').slice(0, STS_NAME_MAX);
  return cleaned.length >= STS_NAME_MIN ? cleaned : cleaned.padEnd(STS_NAME_MIN, '-');
}

/**
 * Credentials for one destination: AssumeRole with the tenant's ExternalId through the region's shared
 * STS client, memoized so that every client of the destination shares one credential, refreshed before
 * it expires, with concurrent callers sharing one in-flight AssumeRole. Failures are thrown as AwsError
 * (ROLE_UNUSABLE, REGION_UNUSABLE, ...).
 */
export function createDestinationCredentials(
  options: DestinationCredentialsOptions,
): AwsCredentialIdentityProvider {
  const params = {
    RoleArn: options.roleArn,
    ExternalId: options.externalId,
    RoleSessionName: sanitizeStsName(options.sessionName),
    DurationSeconds: options.durationSeconds ?? DEFAULT_DURATION_SECONDS,
    ...(options.sourceIdentity === undefined
      ? {}
      : { SourceIdentity: sanitizeStsName(options.sourceIdentity) }),
  };
  const assumeRole: AwsCredentialIdentityProvider = async () => {
    const { Credentials } = await options.sts.send(new AssumeRoleCommand(params));
    if (!Credentials?.AccessKeyId || !Credentials.SecretAccessKey)
      throw new AwsError('UNKNOWN', `STS AssumeRole of ${options.roleArn} answered without credentials`);
    return {
      accessKeyId: Credentials.AccessKeyId,
      secretAccessKey: Credentials.SecretAccessKey,
      ...(Credentials.SessionToken === undefined ? {} : { sessionToken: Credentials.SessionToken }),
      ...(Credentials.Expiration === undefined ? {} : { expiration: Credentials.Expiration }),
    };
  };

  return memoizeCredentials(assumeRole, {
    refreshBeforeExpiryMs: options.refreshBeforeExpiryMs,
    refreshRetryAfterMs: options.refreshRetryAfterMs,
    clock: options.clock,
  });
}

export interface MemoizeCredentialsOptions {
  readonly refreshBeforeExpiryMs?: number | undefined;
  readonly refreshRetryAfterMs?: number | undefined;
  readonly clock?: (() => number) | undefined;
}

/**
 * Shares one credential among all callers: fetched once, refreshed `refreshBeforeExpiryMs` before
 * it expires, with concurrent callers awaiting one in-flight fetch. When a refresh fails for a
 * retryable reason while the held credential is still valid, that credential keeps being served.
 * Errors are thrown as AwsError.
 */
export function memoizeCredentials(
  provider: AwsCredentialIdentityProvider,
  options: MemoizeCredentialsOptions = {},
): AwsCredentialIdentityProvider {
  const clock = options.clock ?? Date.now;
  const refreshBeforeMs = options.refreshBeforeExpiryMs ?? DEFAULT_REFRESH_BEFORE_EXPIRY_MS;
  const refreshRetryAfterMs = options.refreshRetryAfterMs ?? DEFAULT_REFRESH_RETRY_AFTER_MS;
  // Hand-written rather than @smithy/core's `memoize`: that one throws when a refresh fails even
  // though the cached credential is still valid for minutes, and it takes no clock to test with.
  let current: AwsCredentialIdentity | undefined;
  let inFlight: Promise<AwsCredentialIdentity> | undefined;
  let nextAttemptAtMs = 0;

  const refresh = (): Promise<AwsCredentialIdentity> => {
    inFlight ??= provider()
      .then((credential) => {
        current = credential;
        return credential;
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };

  return async () => {
    const now = clock();
    if (current !== undefined && !dueAt(current, refreshBeforeMs, now)) return current;
    if (current !== undefined && !dueAt(current, 0, now) && now < nextAttemptAtMs) return current;
    try {
      return await refresh();
    } catch (err) {
      const error = classifyAwsError(err);
      // An STS hiccup must not fail imports while the credential we hold is still good.
      if (current !== undefined && !dueAt(current, 0, clock()) && error.retryable) {
        nextAttemptAtMs = clock() + refreshRetryAfterMs;
        return current;
      }
      throw error;
    }
  };
}

/** True when the credential expires within `marginMs` of `now` (credentials without expiry never do). */
function dueAt(credential: AwsCredentialIdentity, marginMs: number, now: number): boolean {
  const expiration = credential.expiration?.getTime();
  return expiration !== undefined && expiration - marginMs <= now;
}
