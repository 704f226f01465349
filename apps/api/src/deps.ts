import type { PartnerProduct } from '@vsh/core';
import type { Database, Tenant } from '@vsh/db';
import type { SecretBox } from '@vsh/secrets';
import type { BaseUrlPolicy, DiscoverAgentsResult, VerifyResult } from '@vsh/vaikora';
import type { Logger } from 'pino';
import type { DestinationVerifier } from './verify/checks.ts';

/** What the API needs from a Vaikora client: one verification call, and optionally agent discovery. */
export interface VaikoraVerifier {
  verify(options?: { readonly agentId?: string; readonly signal?: AbortSignal }): Promise<VerifyResult>;
  /** Distinct agent ids of the first pages of `GET /actions` without `agent_id`; absent: cannot list. */
  discoverAgents?(options?: { readonly signal?: AbortSignal }): Promise<DiscoverAgentsResult>;
}

export interface VaikoraClientInput {
  baseUrl: string;
  /** The plaintext key, only for building the client; never logged. */
  apiKey: string;
  timeFilterParam?: string | undefined;
}

/** Builds a Vaikora client for one key (production: `createVaikoraClient` from @vsh/vaikora). */
export type VaikoraClientFactory = (input: VaikoraClientInput) => VaikoraVerifier;

export interface ApiConfig {
  /** `local` allows plain http to loopback Vaikora URLs; `production` never does. */
  mode: 'production' | 'local';
  /** Data443's AWS account, named by every customer trust policy. */
  data443AccountId: string;
  /** The central worker role the trust policy admits (`aws:PrincipalArn`). */
  workerRoleName: string;
  /** Data443's partner product when this deployment offers partner-product mode (ADR 0121); unset: it does not. */
  partnerProduct?: PartnerProduct | undefined;
  /**
   * The published customer-role template (https S3), for the CloudFormation quick-create link; undefined
   * where none is published (local mode), and then the onboarding offers the download and local deploy.
   */
  customerTemplateUrl: string | undefined;
  /**
   * Where browsers reach this API, no trailing slash (production: PUBLIC_BASE_URL, https; local: the API's
   * own URL). Unset (some tests): links are not offered and the template download is a relative URL.
   */
  publicBaseUrl?: string | undefined;
  /** How long a one-time sign-in link stays redeemable (default 24 h). */
  signInLinkTtlMs?: number | undefined;
  /** The local stack's AWS endpoint (moto), named in the local deploy command; unset in production. */
  awsEndpointUrl?: string | undefined;
  vaikoraAllowedHosts: readonly string[];
  /** Largest request body accepted, in bytes. */
  maxBodyBytes: number;
  /** Per API key: sustained requests per minute, and the burst allowed on top. */
  rateLimit: { perMinute: number; burst: number };
  /** Failed authentications per client address per minute before 429. */
  authFailuresPerMinute: number;
  /** Limits of the web pages' sessions (ADR 0091); each unset value has the default of `ui/session.ts`. */
  webSessions?: WebSessionConfig | undefined;
}

interface WebSessionConfig {
  /** Ends a session this long after sign-in (default 12 h). */
  absoluteTtlMs?: number;
  /** Ends a session after this long without a request (default 1 h). */
  idleTtlMs?: number;
  /** Live sessions per API key; a new one ends the key's oldest (default 20). */
  maxPerKey?: number;
  /** Live sessions in all, beyond which tenant sign-ins are refused (default 10,000). */
  maxLive?: number;
  /** Successful sign-ins per client address and key per minute, across instances (default 10). */
  signInsPerMinute?: number;
}

/** What the local stack offers to deploy a customer role into its emulated AWS (workstream A implements it). */
export interface LocalAwsPort {
  deployRole(input: {
    accountId: string;
    region: string;
    stackName: string;
    parameters: Record<string, string>;
  }): Promise<{ roleArn: string }>;
}

/** Every dependency of the API, constructed once by the caller (server.ts or a test). */
export interface ApiDeps {
  db: Database;
  secretBox: SecretBox;
  /** The wall clock; tests pass a fixed or stepping one. */
  clock: () => Date;
  logger: Logger;
  config: ApiConfig;
  /** The operator key from configuration; it reaches every tenant. */
  operatorApiKey: string;
  verifier: DestinationVerifier;
  vaikoraClient: VaikoraClientFactory;
  /** Called after "run now" has been recorded, e.g. to wake an in-process worker. Errors are logged only. */
  onRunNow?: ((tenantId: string) => void | Promise<void>) | undefined;
  /** Local mode only: deploys the customer role into the local stack's AWS; absent in production. */
  localAws?: LocalAwsPort | undefined;
  /** Number of migrations a ready database has applied; default: every committed migration. */
  expectedMigrations?: number | undefined;
  /**
   * This instance's cache of successful API key verifications (ADR 0108); absent (tools, service tests):
   * every verification reads the database.
   */
  apiKeyCache?: ApiKeyCache | undefined;
  /**
   * This instance's one-second cache of a tenant's row and health for reads (ADR 0113); absent (tools,
   * service tests): every read asks the database.
   */
  tenantReadCache?: TenantReadCache | undefined;
}

/**
 * What the read cache holds: a tenant's row (authorization of reads), its health (GET tenant) and its
 * status (GET status), and listings of many tenants (the operator overview's pages, GET /v1/tenants pages;
 * keyed by what they list, not by a tenant).
 */
export type TenantReadPart = 'tenant' | 'health' | 'status' | 'listing';

/**
 * Reads of a tenant that may be up to TENANT_READ_FRESH_MS old (ADR 0113): GET requests answer from it; every
 * write through this instance forgets the tenant at once, so this instance reads its own writes.
 */
export interface TenantReadCache {
  /** The part when read within the bound, else what `load` reads (stored unless undefined or evicted meanwhile). */
  read<T>(tenantId: string, part: TenantReadPart, load: () => Promise<T | undefined>): Promise<T | undefined>;
  /** Forgets a tenant, and every listing, at once, including what a read under way would store. */
  evict(tenantId: string): void;
}

/** A tenant API key the database accepted, as the key cache keeps it. */
export interface VerifiedApiKey {
  principal: Extract<Principal, { kind: 'tenant' }>;
  /** When the key was last recorded as used (epoch ms), or null; advanced as this instance records uses. */
  lastUsedAtMs: number | null;
}

/**
 * Successful API key verifications of one instance, by the key's SHA-256 (never the key): fresh ones are
 * answered without the database, older ones until a bound while one refresh runs behind them (ADR 0108).
 */
export interface ApiKeyCache {
  /** The verification of a key hash: from the cache when recent enough, else what `lookup` finds. */
  verify(
    hash: string,
    lookup: () => Promise<VerifiedApiKey | undefined>,
  ): Promise<VerifiedApiKey | undefined>;
  /** Forgets a key at once (its revocation), including what a lookup under way would store. */
  evictKey(keyId: string): void;
  /** Forgets every key of a tenant at once (its offboarding), including what a lookup under way would store. */
  evictTenant(tenantId: string): void;
}

export type Principal =
  | { kind: 'operator'; id: 'operator' }
  | { kind: 'tenant'; id: string; tenantId: string };

/** Hono environment of every route. */
export interface AppEnv {
  Variables: {
    requestId: string;
    /** The app's dependencies, set once per request by createApp's first middleware. */
    deps: ApiDeps;
    principal: Principal;
    /** Set by the authorization middleware on tenant-scoped routes: the tenant of the path. */
    tenant: Tenant;
  };
}

/** The Vaikora base-URL policy of a config. */
export function baseUrlPolicyOf(config: ApiConfig): BaseUrlPolicy {
  return { mode: config.mode, allowedHosts: config.vaikoraAllowedHosts };
}
