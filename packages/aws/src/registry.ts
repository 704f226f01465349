import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { SecurityHubClient, type SecurityHubClientConfig } from '@aws-sdk/client-securityhub';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import type { Destination } from '@vsh/core';
import { LRUCache } from 'lru-cache';
import { createDestinationCredentials, createStsClients, type StsClientOptions } from './credentials.ts';
import { createFindingsV2Sender, type FindingsV2Sender } from './findings-v2.ts';
import { timedPool, timedRequestHandler } from './request-handler.ts';

/** What identifies a destination's clients: one tenant's account and region. */
export interface DestinationKey {
  readonly tenantId: string;
  readonly accountId: string;
  readonly region: string;
}

/**
 * Everything needed to reach one tenant's Security Hub in one account and region: through the
 * tenant's role, or in partner-product mode (`destination.product`, ADR 0121) with Data443's own
 * credentials, when `roleArn` and `externalId` are not used. With `securityLake`, the findings go to
 * the account's Security Lake custom source instead, written through the tenant's role (ADR 0120).
 */
export interface DestinationRoute {
  readonly tenantId: string;
  readonly destination: Destination;
  readonly roleArn: string;
  readonly externalId: string;
  readonly sourceIdentity?: string | undefined;
  /** The Security Lake bucket and custom source name of a Security Lake destination. */
  readonly securityLake?: { readonly bucket: string; readonly sourceName: string } | undefined;
}

/** The clients of one destination, created once and reused. */
export interface DestinationClients {
  readonly key: DestinationKey;
  readonly route: DestinationRoute;
  readonly credentials: AwsCredentialIdentityProvider;
  readonly securityHub: SecurityHubClient;
  /** S3 with the same credentials (Security Lake destinations), created at its first use. */
  readonly s3: S3Client;
  /**
   * The BatchImportFindingsV2 sender with the same credentials, created at the first call (a method, not a
   * property: it throws FindingsV2Error PREVIEW_DISABLED unless the registry's `findingsV2.previewEnabled`).
   */
  findingsV2(): FindingsV2Sender;
}

/** Security Hub client settings a caller may set (endpoint and retry tuning for tests and benchmarks). */
export type SecurityHubClientOptions = Pick<SecurityHubClientConfig, 'endpoint' | 'retryMode' | 'logger'>;

/** S3 client settings a caller may set (moto locally: its endpoint, path-style addressing). */
export type S3ClientOptions = Pick<S3ClientConfig, 'endpoint' | 'forcePathStyle' | 'logger'>;

export interface DestinationRegistryOptions {
  readonly masterCredentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider | undefined;
  readonly stsClientConfig?: StsClientOptions | undefined;
  readonly securityHubClientConfig?: SecurityHubClientOptions | undefined;
  readonly s3ClientConfig?: S3ClientOptions | undefined;
  /** BatchImportFindingsV2 (ADR 0120): off unless `previewEnabled`; `endpoint` overrides Security Hub's. */
  readonly findingsV2?:
    | { readonly previewEnabled: boolean; readonly endpoint?: string | undefined }
    | undefined;
  /** SDK attempts per Security Hub call (standard retry mode); default 3. */
  readonly maxAttempts?: number | undefined;
  /** Per-attempt HTTP timeouts, so a hung connection becomes a retryable TimeoutError. */
  readonly requestTimeoutMs?: number | undefined;
  readonly connectionTimeoutMs?: number | undefined;
  readonly durationSeconds?: number | undefined;
  readonly refreshBeforeExpiryMs?: number | undefined;
  /** RoleSessionName for a tenant; default `vsh-<tenantId>`. */
  readonly sessionName?: ((tenantId: string) => string) | undefined;
  readonly clock?: (() => number) | undefined;
  /**
   * Destinations whose clients are kept; the least recently used is dropped past it (its credential
   * with it: the next run assumes the role again). Default 10,000: about 190 MB of heap, at 19 KB a
   * destination after its first call (`pnpm -F @vsh/aws bench:new-destination`).
   */
  readonly maxEntries?: number | undefined;
  /** Sockets per AWS host shared by every destination's clients (keep-alive); default 128. */
  readonly maxSocketsPerHost?: number | undefined;
}

export interface DestinationRegistry {
  /** The destination's clients, created on first use; a changed role or ExternalId replaces them. */
  get(route: DestinationRoute): DestinationClients;
  /** Drops a destination's clients, e.g. after its role changed; true when there were any. */
  evict(key: DestinationKey): boolean;
  readonly size: number;
  /** Drops every client and closes the shared sockets. */
  destroy(): void;
}

/** Registry key of a destination. */
export function destinationKeyOf(route: DestinationRoute): DestinationKey {
  return {
    tenantId: route.tenantId,
    accountId: route.destination.accountId,
    region: route.destination.region,
  };
}

/** One destination's clients, the route fingerprint they were made for, and what closes their own sockets. */
interface Entry {
  readonly fingerprint: string;
  readonly clients: DestinationClients;
  readonly release: () => void;
}

const DEFAULT_MAX_ENTRIES = 10_000;
const DEFAULT_MAX_SOCKETS_PER_HOST = 128;

const keyString = (key: DestinationKey): string => JSON.stringify([key.tenantId, key.accountId, key.region]);
const routeFingerprint = (route: DestinationRoute): string =>
  JSON.stringify([
    route.roleArn,
    route.externalId,
    route.sourceIdentity ?? null,
    route.destination.partition,
    route.destination.product?.accountId ?? null,
    route.destination.product?.name ?? null,
    route.securityLake?.bucket ?? null,
    route.securityLake?.sourceName ?? null,
  ]);

/**
 * Creates the per-(tenant, account, region) registry of Security Hub clients and their shared,
 * memoized AssumeRole credentials. No client is global and none is created per call or per run: a
 * destination's clients live until `maxEntries` more recently used destinations push them out. Every
 * client of the registry sends through one keep-alive connection pool: a connection carries no AWS
 * identity (each request is signed with its own destination's credentials), so sharing it saves a TCP
 * and TLS handshake per destination without letting one tenant act as another.
 */
export function createDestinationRegistry(options: DestinationRegistryOptions = {}): DestinationRegistry {
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  if (!(maxEntries >= 1)) throw new RangeError('maxEntries must be >= 1');
  const maxSockets = options.maxSocketsPerHost ?? DEFAULT_MAX_SOCKETS_PER_HOST;
  // One pool for every client of the registry (its timeouts apply to each): a handler per client on it.
  const timeouts = {
    requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
    connectionTimeoutMs: options.connectionTimeoutMs ?? 5_000,
  };
  const pool = timedPool(timeouts.requestTimeoutMs, { ...timeouts, connections: maxSockets });
  // Bounded by size only: the SDK clients own no resources besides the shared pool (an evicted client is
  // only dropped: its destroy() would close the pool), and the entries' credentials expire on their own
  // (memoizeCredentials). A BatchImportFindingsV2 sender has its own sockets: closed when its entry goes.
  const entries = new LRUCache<string, Entry>({
    max: maxEntries,
    dispose: (entry) => entry.release(),
  });
  const requestHandler = () =>
    timedRequestHandler(timeouts.requestTimeoutMs, { ...timeouts, dispatcher: pool });

  /**
   * Partner-product mode (ADR 0121): Data443's own credentials, the same for every tenant; no role. One
   * provider for the registry, made on first use, so the default chain resolves (and caches) once.
   */
  let partnerProvider: AwsCredentialIdentityProvider | undefined;
  const partnerCredentials = (): AwsCredentialIdentityProvider => {
    if (partnerProvider !== undefined) return partnerProvider;
    const master = options.masterCredentials;
    partnerProvider =
      master === undefined
        ? fromNodeProviderChain()
        : typeof master === 'function'
          ? master
          : async () => master;
    return partnerProvider;
  };

  // One STS client per region for every destination's AssumeRole (ADR 0141), on the shared pool with the
  // same timeouts as Security Hub, so that a hung AssumeRole fails (ADR 0125).
  const stsClients = createStsClients({
    masterCredentials: options.masterCredentials,
    clientConfig:
      options.stsClientConfig?.requestHandler === undefined
        ? { ...options.stsClientConfig, requestHandler: requestHandler() }
        : options.stsClientConfig,
  });

  const create = (route: DestinationRoute, fingerprint: string): Entry => {
    const { destination } = route;
    const credentials =
      destination.product !== undefined
        ? partnerCredentials()
        : createDestinationCredentials({
            roleArn: route.roleArn,
            externalId: route.externalId,
            sessionName: options.sessionName?.(route.tenantId) ?? `vsh-${route.tenantId}`,
            sourceIdentity: route.sourceIdentity,
            sts: stsClients.forRegion(destination.region),
            durationSeconds: options.durationSeconds,
            refreshBeforeExpiryMs: options.refreshBeforeExpiryMs,
            clock: options.clock,
          });
    const securityHub = new SecurityHubClient({
      retryMode: 'standard',
      ...options.securityHubClientConfig,
      region: destination.region,
      credentials,
      maxAttempts: options.maxAttempts ?? 3,
      requestHandler: requestHandler(),
    });
    let s3: S3Client | undefined;
    let findingsV2: FindingsV2Sender | undefined;
    const clients: DestinationClients = {
      key: destinationKeyOf(route),
      route,
      credentials,
      securityHub,
      get s3() {
        s3 ??= new S3Client({
          retryMode: 'standard',
          ...options.s3ClientConfig,
          region: destination.region,
          credentials,
          maxAttempts: options.maxAttempts ?? 3,
          // The lake's bucket may live in another region than the stream's (one bucket per destination).
          followRegionRedirects: true,
          requestHandler: requestHandler(),
        });
        return s3;
      },
      findingsV2() {
        findingsV2 ??= createFindingsV2Sender({
          previewEnabled: options.findingsV2?.previewEnabled ?? false,
          region: destination.region,
          credentials,
          endpoint: options.findingsV2?.endpoint,
          requestTimeoutMs: options.requestTimeoutMs,
        });
        return findingsV2;
      },
    };
    return { fingerprint, clients, release: () => findingsV2?.destroy() };
  };

  return {
    get(route) {
      const key = keyString(destinationKeyOf(route));
      const fingerprint = routeFingerprint(route);
      const existing = entries.get(key);
      if (existing !== undefined && existing.fingerprint === fingerprint) return existing.clients;
      const entry = create(route, fingerprint);
      entries.set(key, entry);
      return entry.clients;
    },
    evict(key) {
      return entries.delete(keyString(key));
    },
    get size() {
      return entries.size;
    },
    destroy() {
      entries.clear();
      // The STS clients' handlers are on the pool (closed here) or the caller's (`stsClientConfig`): the
      // clients themselves hold nothing else to close.
      void pool.destroy();
    },
  };
}
