import type { AddressInfo } from 'node:net';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { type Http2Bindings, type HttpBindings, serve } from '@hono/node-server';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { memoizeCredentials } from '@vsh/aws';
import { createDb, type DbHandle, migrate } from '@vsh/db';
import { ROLE_NAME_PREFIX } from '@vsh/role-contract';
import { openSecretBox } from '@vsh/secrets';
import { createVaikoraClient, type FetchLike } from '@vsh/vaikora';
import type { Logger } from 'pino';
import { createApp } from './app.ts';
import type { ApiConfig, LocalAwsPort, VaikoraClientFactory } from './deps.ts';
import type { ApiEnv } from './env.ts';
import { createLogger } from './logger.ts';
import { forwardedClientResolver } from './middleware/authenticate.ts';
import { createApiKeyCache } from './middleware/key-cache.ts';
import { createTenantReadCache } from './middleware/tenant-read-cache.ts';
import { createAwsDestinationVerifier } from './verify/aws-verifier.ts';

export interface StartApiServerOptions {
  /** The parsed configuration (`loadEnv()` or `parseEnv(...)`). */
  env: ApiEnv;
  /** Default: a pino logger at `env.logLevel` on stdout. */
  logger?: Logger;
  /** An open database to share (e.g. one PGlite for the API and an in-process worker); migrated unless told. */
  database?: DbHandle;
  /** Apply committed migrations at start (default true). */
  migrate?: boolean;
  /** Credentials for STS and KMS (e.g. static test credentials for moto); default the SDK's chain. */
  awsCredentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Called after "run now" is recorded (e.g. to wake an in-process worker). */
  onRunNow?: (tenantId: string) => void | Promise<void>;
  /** Local stack only: deploys customer roles into its emulated AWS (the onboarding's local deploy button). */
  localAws?: LocalAwsPort;
  /** Port override (0 = any free port); default `env.port`. */
  port?: number;
}

export interface ApiServer {
  /** `http://host:port` the server listens on. */
  url: string;
  port: number;
  /** Stops accepting connections, then closes what this call opened (never a database passed in). */
  close(): Promise<void>;
}

/** Config of the app derived from the environment. */
export function apiConfigOf(env: ApiEnv): ApiConfig {
  return {
    mode: env.mode,
    data443AccountId: env.data443AccountId,
    workerRoleName: env.workerRoleName,
    partnerProduct: env.partnerProduct,
    customerTemplateUrl: env.customerTemplateUrl,
    publicBaseUrl: env.publicBaseUrl,
    signInLinkTtlMs: env.signInLinkTtlMs,
    awsEndpointUrl: env.awsEndpointUrl,
    vaikoraAllowedHosts: env.vaikoraAllowedHosts,
    maxBodyBytes: env.maxBodyBytes,
    rateLimit: {
      perMinute: env.rateLimitPerMinute,
      burst: Math.max(10, Math.ceil(env.rateLimitPerMinute / 6)),
    },
    authFailuresPerMinute: 30,
  };
}

/**
 * Credentials the verifier assumes customer roles with. With `WORKER_ROLE_ARN` (production, ADR 0071)
 * the API first assumes the worker role, under a session policy that leaves it only AssumeRole and
 * SetSourceIdentity on customer roles: customers trust the worker, so only a check made as the worker
 * proves the worker will get in. Without it (local), the process's own credentials.
 */
function verifierCredentials(
  env: ApiEnv,
  base: AwsCredentialIdentity | AwsCredentialIdentityProvider | undefined,
): AwsCredentialIdentity | AwsCredentialIdentityProvider | undefined {
  if (env.workerRoleArn === undefined) return base;
  const partition = env.workerRoleArn.split(':')[1] ?? 'aws';
  const sessionPolicy = {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'],
        Resource: `arn:${partition}:iam::*:role/${ROLE_NAME_PREFIX}*`,
      },
    ],
  };
  // One worker session, shared by every verification until it nears expiry.
  return memoizeCredentials(
    fromTemporaryCredentials({
      params: {
        RoleArn: env.workerRoleArn,
        RoleSessionName: 'vsh-api-verify',
        DurationSeconds: 900,
        Policy: JSON.stringify(sessionPolicy),
      },
      ...(base === undefined ? {} : { masterCredentials: base }),
      clientConfig: {
        region: env.awsRegion,
        ...(env.awsEndpointUrl === undefined ? {} : { endpoint: env.awsEndpointUrl }),
      },
    }),
  );
}

// A Vaikora base URL passes the allow-list; a redirect from it must not lead the server somewhere else.
const noRedirectFetch: FetchLike = (input, init) => fetch(input, { ...init, redirect: 'error' });

/** The production Vaikora client factory: one verification request, no redirects followed. */
export const vaikoraClientFactory: VaikoraClientFactory = (input) =>
  createVaikoraClient({ ...input, fetch: noRedirectFetch, timeoutMs: 10_000 });

export interface ApiRuntime {
  readonly app: ReturnType<typeof createApp>;
  /** The app's config (startApiServer completes a local one with the URL it listens on). */
  readonly config: ApiConfig;
  readonly database: DbHandle;
  /** Closes what this call opened (never a database passed in). */
  close(): Promise<void>;
}

/** Opens (and migrates) the database and builds the app with its dependencies; no listening. */
export async function createApiRuntime(options: Omit<StartApiServerOptions, 'port'>): Promise<ApiRuntime> {
  const { env } = options;
  const logger = options.logger ?? createLogger({ level: env.logLevel });
  const ownsDatabase = options.database === undefined;
  const database = options.database ?? (await createDb(env.database));
  const closers: Array<() => Promise<void> | void> = [];
  if (ownsDatabase) closers.push(() => database.close());
  const close = async () => {
    for (const c of closers.reverse()) await c();
  };
  try {
    if (options.migrate ?? true) await migrate(database.db);
    const secrets = openSecretBox(env.masterKey, {
      region: env.awsRegion,
      endpoint: env.awsEndpointUrl,
      credentials: options.awsCredentials,
    });
    closers.push(secrets.close);
    const verifier = createAwsDestinationVerifier({
      endpoint: env.awsEndpointUrl,
      masterCredentials: verifierCredentials(env, options.awsCredentials),
      propagationTimeoutMs: env.verifyPropagationMs,
    });
    closers.push(() => verifier.destroy());
    const config = apiConfigOf(env);
    const clock = () => new Date();
    const app = createApp({
      db: database.db,
      secretBox: secrets.box,
      clock,
      logger,
      config,
      operatorApiKey: env.operatorApiKey,
      verifier,
      vaikoraClient: vaikoraClientFactory,
      onRunNow: options.onRunNow,
      localAws: env.mode === 'local' ? options.localAws : undefined,
      apiKeyCache: createApiKeyCache({ clock, logger }),
      tenantReadCache: createTenantReadCache({ clock }),
    });
    return { app, config, database, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Starts the API with @hono/node-server: opens (and migrates) the database, builds the dependencies, listens. */
export async function startApiServer(options: StartApiServerOptions): Promise<ApiServer> {
  const { env } = options;
  const logger = options.logger ?? createLogger({ level: env.logLevel });
  const runtime = await createApiRuntime({ ...options, logger });
  // Per-client limits count by the address established here: the socket's peer, or what a trusted proxy
  // in front says it saw (only with TRUSTED_PROXIES).
  const clientOf = forwardedClientResolver(env.trustedProxies);
  const fetchWithClient = (request: Request, bindings: HttpBindings | Http2Bindings) =>
    runtime.app.fetch(request, {
      ...bindings,
      clientAddress: clientOf(bindings.incoming.socket.remoteAddress, request.headers.get('x-forwarded-for')),
    });
  try {
    const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
      const listening = serve(
        { fetch: fetchWithClient, port: options.port ?? env.port, hostname: env.host },
        () => resolve(listening),
      );
      listening.once('error', reject);
    });
    const address = server.address() as AddressInfo;
    const host = env.host === '0.0.0.0' ? '127.0.0.1' : env.host;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
    // Locally the public URL is the server's own, known only now when the port was chosen at listen.
    if (env.mode === 'local') runtime.config.publicBaseUrl ??= url;
    logger.info({ url, mode: env.mode, database: runtime.database.kind }, 'api listening');
    let closing: Promise<void> | undefined;
    return {
      url,
      port: address.port,
      close() {
        closing ??= (async () => {
          await new Promise<void>((resolve) => server.close(() => resolve()));
          await runtime.close();
        })();
        return closing;
      },
    };
  } catch (err) {
    await runtime.close();
    throw err;
  }
}
