import { createHash } from 'node:crypto';
import { apiKeys, tenants } from '@vsh/db';
import { and, eq, isNull, lt, or } from 'drizzle-orm';
import { createMiddleware } from 'hono/factory';
import type { ApiDeps, AppEnv, Principal } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { apiKeyPrefix, hashApiKey, hashesEqual } from '../lib/api-keys.ts';
import { createRateLimiter } from '../lib/rate-limit.ts';

const MAX_AUTHORIZATION_LENGTH = 1024;
// last_used_at is refreshed at most this often, so a busy key does not write on every request.
const LAST_USED_RESOLUTION_MS = 60_000;

/** The client address of a request served by @hono/node-server, for per-address limits. */
export function clientAddress(env: unknown): string {
  // @hono/node-server passes the Node request as `env.incoming`; app.request() in tests passes nothing.
  const incoming = (env as { incoming?: { socket?: { remoteAddress?: unknown } } } | undefined)?.incoming;
  const address = incoming?.socket?.remoteAddress;
  return typeof address === 'string' ? address : 'unknown';
}

function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined || header.length > MAX_AUTHORIZATION_LENGTH) return undefined;
  const match = /^Bearer ([\x21-\x7e]+)$/i.exec(header.trim());
  return match?.[1];
}

/**
 * Resolves a presented key to its principal (the operator key, or an unrevoked key of an active tenant,
 * compared by SHA-256 in constant time), refreshing the key's last use; undefined when it is not valid.
 * Shared by the bearer middleware and the web sign-in so both accept exactly the same keys.
 */
export function principalResolver(deps: ApiDeps): (token: string) => Promise<Principal | undefined> {
  const operatorHash = createHash('sha256').update(deps.operatorApiKey, 'utf8').digest('hex');
  return async (token: string): Promise<Principal | undefined> => {
    if (hashesEqual(hashApiKey(token), operatorHash)) return { kind: 'operator', id: 'operator' };
    const prefix = apiKeyPrefix(token);
    if (prefix === undefined) return undefined;
    const [row] = await deps.db
      .select({
        id: apiKeys.id,
        tenantId: apiKeys.tenantId,
        hash: apiKeys.hash,
        lastUsedAt: apiKeys.lastUsedAt,
      })
      .from(apiKeys)
      .innerJoin(tenants, eq(tenants.id, apiKeys.tenantId))
      .where(and(eq(apiKeys.prefix, prefix), isNull(apiKeys.revokedAt), eq(tenants.state, 'active')))
      .limit(1);
    if (row === undefined || row.tenantId === null || !hashesEqual(hashApiKey(token), row.hash))
      return undefined;
    const now = deps.clock();
    if (row.lastUsedAt === null || now.getTime() - row.lastUsedAt.getTime() >= LAST_USED_RESOLUTION_MS) {
      const stale = new Date(now.getTime() - LAST_USED_RESOLUTION_MS);
      await deps.db
        .update(apiKeys)
        .set({ lastUsedAt: now })
        .where(and(eq(apiKeys.id, row.id), or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, stale))));
    }
    return { kind: 'tenant', id: row.id, tenantId: row.tenantId };
  };
}

/**
 * Authenticates every /v1 request by its bearer key (the operator key, or a tenant key looked up by
 * prefix and compared by SHA-256 in constant time), then rate-limits it per key. Failed attempts are
 * rate-limited per client address. Nothing about the presented key is logged or echoed.
 */
export function authenticate(deps: ApiDeps) {
  const perKey = createRateLimiter({
    perMinute: deps.config.rateLimit.perMinute,
    burst: deps.config.rateLimit.burst,
  });
  const failures = createRateLimiter({
    perMinute: deps.config.authFailuresPerMinute,
    burst: deps.config.authFailuresPerMinute,
  });

  const principalFor = principalResolver(deps);

  return createMiddleware<AppEnv>(async (c, next) => {
    const token = bearerToken(c.req.header('authorization'));
    const principal = token === undefined ? undefined : await principalFor(token);
    const nowMs = deps.clock().getTime();
    if (principal === undefined) {
      const limited = failures.take(clientAddress(c.env), nowMs);
      if (!limited.ok) {
        throw new ApiError('RATE_LIMITED', 'too many failed authentications; retry later', {
          'Retry-After': String(limited.retryAfterSeconds),
        });
      }
      throw new ApiError(
        'UNAUTHORIZED',
        token === undefined
          ? 'an API key is required: Authorization: Bearer <key>'
          : 'the API key is not valid',
        { 'WWW-Authenticate': 'Bearer' },
      );
    }
    const limited = perKey.take(principal.id, nowMs);
    if (!limited.ok) {
      throw new ApiError('RATE_LIMITED', 'rate limit exceeded for this API key', {
        'Retry-After': String(limited.retryAfterSeconds),
      });
    }
    c.set('principal', principal);
    await next();
  });
}
