import { createHash, randomBytes } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import { errorInfo } from '@vsh/core';
import { apiKeys, tenants } from '@vsh/db';
import { and, eq, isNull, lte, or } from 'drizzle-orm';
import { createMiddleware } from 'hono/factory';
import type { ApiDeps, AppEnv, Principal, VerifiedApiKey } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { apiKeyPrefix, hashApiKey, hashesEqual } from '../lib/api-keys.ts';
import { createRateLimiter } from '../lib/rate-limit.ts';

const MAX_AUTHORIZATION_LENGTH = 1024;
// last_used_at is refreshed at most this often, so a busy key does not write on every request.
const LAST_USED_RESOLUTION_MS = 60_000;
/**
 * A key prefix may take this many times one client's failed authentications before it is locked: one
 * client alone (locked at its own budget) can never lock a key out for its owner; guesses spread over
 * many clients can (ADR 0062).
 */
const PREFIX_FAILURE_FACTOR = 4;
// Client addresses the failure limiter remembers: ~6 MB at most, and a flood of addresses only evicts.
const MAX_CLIENTS = 50_000;
// X-Forwarded-For entries looked at behind trusted proxies; more hops than this is not a real chain.
const MAX_FORWARDED_HOPS = 16;
const MAX_FORWARDED_LENGTH = 2048;

/**
 * What an entry point may put in the request's bindings: `clientAddress`, the client address it has
 * established (server.ts, after its trusted proxies). hono/aws-lambda passes `event`; @hono/node-server
 * passes `incoming`.
 */
interface ClientBindings {
  clientAddress?: unknown;
  event?: { requestContext?: { http?: { sourceIp?: unknown }; identity?: { sourceIp?: unknown } } };
  incoming?: { socket?: { remoteAddress?: unknown } };
}

/**
 * The identity per-client limits count by: the address an entry point established, else API Gateway's
 * source IP (`event.requestContext.http.sourceIp`, payload 2.0; `identity.sourceIp`, REST), else the
 * socket's peer. IPv4-mapped IPv6 counts as IPv4, and an IPv6 address as its /64, which one host usually
 * holds whole. `unknown` only where none is given (app.request() in tests).
 */
export function clientAddress(env: unknown): string {
  const bindings = env as ClientBindings | undefined;
  const context = bindings?.event?.requestContext;
  const candidates = [
    bindings?.clientAddress,
    context?.http?.sourceIp,
    context?.identity?.sourceIp,
    bindings?.incoming?.socket?.remoteAddress,
  ];
  for (const candidate of candidates) {
    if (typeof candidate === 'string' && isIP(candidate) !== 0) return clientKey(candidate);
  }
  return 'unknown';
}

/** An address as per-client limits count it: IPv4 as is, IPv4-mapped IPv6 as IPv4, other IPv6 as its /64. */
export function clientKey(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped?.[1] !== undefined) return mapped[1];
  if (isIP(address) !== 6) return address;
  const [head = '', tail] = (address.split('%')[0] ?? '').split('::');
  const groups = (part: string | undefined) =>
    part === undefined || part === ''
      ? []
      : part.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g]));
  const before = groups(head);
  const after = groups(tail);
  const all = [
    ...before,
    ...Array<string>(Math.max(0, 8 - before.length - after.length)).fill('0'),
    ...after,
  ];
  return `${all
    .slice(0, 4)
    .map((group) => Number.parseInt(group, 16).toString(16))
    .join(':')}::/64`;
}

/**
 * The client address of a request reaching the Node server: the socket's peer; when that peer is one of
 * `trustedProxies` (addresses or CIDR ranges), the nearest X-Forwarded-For entry that is not (read right
 * to left, as each proxy appends the peer it saw). With no trusted proxies the header is never read, so a
 * client cannot choose its own identity.
 */
export function forwardedClientResolver(
  trustedProxies: readonly string[],
): (peer: string | undefined, forwardedFor: string | null | undefined) => string | undefined {
  if (trustedProxies.length === 0) return (peer) => peer;
  const trusted = new BlockList();
  for (const entry of trustedProxies) {
    const [address = '', bits] = entry.split('/');
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) trusted.addAddress(address, family);
    else trusted.addSubnet(address, Number(bits), family);
  }
  const isTrusted = (address: string) => trusted.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
  return (peer, forwardedFor) => {
    if (peer === undefined || forwardedFor == null || forwardedFor.length > MAX_FORWARDED_LENGTH) return peer;
    const hops = forwardedFor.split(',').slice(-MAX_FORWARDED_HOPS).reverse();
    let client = peer;
    for (const hop of hops) {
      const address = hop.trim();
      if (!isTrusted(client) || isIP(address) === 0) break;
      client = address;
    }
    return client;
  };
}

function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined || header.length > MAX_AUTHORIZATION_LENGTH) return undefined;
  const match = /^Bearer ([\x21-\x7e]+)$/i.exec(header.trim());
  return match?.[1];
}

/**
 * Resolves a presented key to its principal (the operator key, or an unrevoked key of an active tenant,
 * compared by SHA-256 in constant time), recording the key's last use; undefined when it is not valid.
 * Tenant keys the database accepted are answered from `deps.apiKeyCache` while recent (ADR 0108).
 * Shared by the bearer middleware and the web sign-in so both accept exactly the same keys. A wrong key
 * costs one hash, one lookup and one comparison whether or not its prefix exists.
 */
export function principalResolver(deps: ApiDeps): (token: string) => Promise<Principal | undefined> {
  const operatorHash = createHash('sha256').update(deps.operatorApiKey, 'utf8').digest('hex');
  // Compared against when no row matches, so that path does the same work as a wrong secret.
  const unmatchable = hashApiKey(randomBytes(32).toString('base64url'));

  const lookup = async (prefix: string, presented: string): Promise<VerifiedApiKey | undefined> => {
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
    const matches = hashesEqual(presented, row?.hash ?? unmatchable);
    if (!matches || row === undefined || row.tenantId === null) return undefined;
    return {
      principal: { kind: 'tenant', id: row.id, tenantId: row.tenantId },
      lastUsedAtMs: row.lastUsedAt?.getTime() ?? null,
    };
  };

  // Not awaited: the request does not wait on a bookkeeping write. `lastUsedAtMs` is advanced first (on
  // the cached object too), so one instance sends one update per key per LAST_USED_RESOLUTION_MS.
  const recordUse = (verified: VerifiedApiKey): void => {
    const now = deps.clock();
    const last = verified.lastUsedAtMs;
    if (last !== null && now.getTime() - last < LAST_USED_RESOLUTION_MS) return;
    verified.lastUsedAtMs = now.getTime();
    const stale = new Date(now.getTime() - LAST_USED_RESOLUTION_MS);
    deps.db
      .update(apiKeys)
      .set({ lastUsedAt: now })
      .where(
        and(
          eq(apiKeys.id, verified.principal.id),
          or(isNull(apiKeys.lastUsedAt), lte(apiKeys.lastUsedAt, stale)),
        ),
      )
      .catch((err: unknown) => {
        deps.logger.warn({ err: errorInfo(err) }, 'recording the last use of an API key failed');
      });
  };

  return async (token: string): Promise<Principal | undefined> => {
    const presented = hashApiKey(token);
    if (hashesEqual(presented, operatorHash)) return { kind: 'operator', id: 'operator' };
    const prefix = apiKeyPrefix(token);
    if (prefix === undefined) return undefined;
    const load = () => lookup(prefix, presented);
    const verified = await (deps.apiKeyCache === undefined
      ? load()
      : deps.apiKeyCache.verify(presented, load));
    if (verified === undefined) return undefined;
    recordUse(verified);
    return verified.principal;
  };
}

function rateLimited(message: string, retryAfterSeconds: number): ApiError {
  return new ApiError('RATE_LIMITED', message, { 'Retry-After': String(retryAfterSeconds) });
}

/** An attempt let through (`refund` it once its key proves right, or when it could not be judged), or not. */
type AuthAdmission =
  | { ok: true; refund(nowMs: number): void }
  | { ok: false; retryAfterSeconds: number; lockedOut: 'client' | 'key' };

export interface AuthFailureLimiter {
  /** Charges one attempt to the client and to the presented key's prefix, before the key is looked at. */
  admit(client: string, token: string | undefined, nowMs: number): AuthAdmission;
}

/**
 * Failed authentications per client address and per key prefix (ADR 0062). Every attempt takes a token
 * from both budgets before its key is looked at and gives it back once the key proves right, so a client
 * (or a prefix) that has used its budget is refused whatever key it sends, attempts arriving at once
 * cannot outrun the budget, and successful traffic costs nothing. A prefix has PREFIX_FAILURE_FACTOR
 * times a client's budget. Shared by the bearer middleware and usable by the web sign-in.
 */
function createAuthFailureLimiter(failuresPerMinute: number): AuthFailureLimiter {
  const perClient = createRateLimiter({
    perMinute: failuresPerMinute,
    burst: failuresPerMinute,
    maxKeys: MAX_CLIENTS,
  });
  const perPrefix = createRateLimiter({
    perMinute: failuresPerMinute * PREFIX_FAILURE_FACTOR,
    burst: failuresPerMinute * PREFIX_FAILURE_FACTOR,
  });
  return {
    admit(client, token, nowMs) {
      const prefix = token === undefined ? undefined : apiKeyPrefix(token);
      const byClient = perClient.take(client, nowMs);
      if (!byClient.ok)
        return { ok: false, retryAfterSeconds: byClient.retryAfterSeconds, lockedOut: 'client' };
      if (prefix !== undefined) {
        const byPrefix = perPrefix.take(prefix, nowMs);
        if (!byPrefix.ok) {
          perClient.refund(client, nowMs);
          return { ok: false, retryAfterSeconds: byPrefix.retryAfterSeconds, lockedOut: 'key' };
        }
      }
      return {
        ok: true,
        refund(refundMs) {
          perClient.refund(client, refundMs);
          if (prefix !== undefined) perPrefix.refund(prefix, refundMs);
        },
      };
    },
  };
}

/**
 * Authenticates every /v1 request by its bearer key (the operator key, or a tenant key looked up by
 * prefix and compared by SHA-256 in constant time), then rate-limits it per key. Failed authentications
 * are limited per client address and per key prefix before any key is looked at (createAuthFailureLimiter),
 * so a locked-out client is refused with 429 even with a right key. Nothing about the presented key is
 * logged or echoed.
 */
export function authenticate(deps: ApiDeps) {
  const perKey = createRateLimiter({
    perMinute: deps.config.rateLimit.perMinute,
    burst: deps.config.rateLimit.burst,
  });
  const failures = createAuthFailureLimiter(deps.config.authFailuresPerMinute);
  const principalFor = principalResolver(deps);

  return createMiddleware<AppEnv>(async (c, next) => {
    const token = bearerToken(c.req.header('authorization'));
    const admission = failures.admit(clientAddress(c.env), token, deps.clock().getTime());
    if (!admission.ok) {
      throw rateLimited(
        admission.lockedOut === 'client'
          ? 'too many failed authentications; retry later'
          : 'too many failed authentications with this API key; retry later',
        admission.retryAfterSeconds,
      );
    }
    let principal: Principal | undefined;
    try {
      principal = token === undefined ? undefined : await principalFor(token);
    } catch (err) {
      // Not a judgment on the key (the database failed): the attempt costs nothing.
      admission.refund(deps.clock().getTime());
      throw err;
    }
    const nowMs = deps.clock().getTime();
    if (principal === undefined) {
      throw new ApiError(
        'UNAUTHORIZED',
        token === undefined
          ? 'an API key is required: Authorization: Bearer <key>'
          : 'the API key is not valid',
        { 'WWW-Authenticate': 'Bearer' },
      );
    }
    admission.refund(nowMs);
    const limited = perKey.take(principal.id, nowMs);
    if (!limited.ok) throw rateLimited('rate limit exceeded for this API key', limited.retryAfterSeconds);
    c.set('principal', principal);
    await next();
  });
}
