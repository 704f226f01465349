import { createHash, randomBytes } from 'node:crypto';
import { apiKeys, type Tenant, tenants, webSignInLinks } from '@vsh/db';
import { and, desc, eq, gt, inArray, isNull } from 'drizzle-orm';
import type { ApiDeps, Principal } from '../deps.ts';
import { type Actor, audit } from '../lib/audit.ts';
import { requireActive } from './common.ts';
import { ServiceError } from './errors.ts';

/** How long a sign-in link stays redeemable unless the config says otherwise. */
const DEFAULT_SIGN_IN_LINK_TTL_MS = 24 * 3_600_000;

/** The path of the web page that redeems a link; the token follows as `?token=`. */
const SIGN_IN_LINK_PATH = '/ui/login/link';

/** What a link token looks like: 32 random bytes, base64url (43 characters). */
export const SIGN_IN_TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** A new link: the token and URL are shown once to the operator and never stored. */
export interface CreatedSignInLink {
  token: string;
  url: string;
  expiresAt: Date;
  /** The API key the link signs in as. */
  apiKeyId: string;
}

/** The stored form of a token: its hex SHA-256 (a 256-bit random token needs no slow hash). */
export function signInTokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * Creates a one-time sign-in link for a tenant, signing in as `apiKeyId` (which must be an unrevoked key
 * of that tenant) or, when omitted, as the tenant's newest unrevoked key. Only the token's hash is
 * stored; the token is in the returned URL and nowhere else.
 */
export async function createSignInLink(
  deps: Pick<ApiDeps, 'db' | 'clock' | 'config'>,
  actor: Actor,
  tenant: Tenant,
  input: { apiKeyId?: string | undefined } = {},
): Promise<CreatedSignInLink> {
  requireActive(tenant);
  // A local server knows its own URL once listening; an app built in-process (tests) without one gets a
  // path to put after its host. Production must say where browsers reach it.
  const base = deps.config.publicBaseUrl ?? (deps.config.mode === 'local' ? '' : undefined);
  if (base === undefined) {
    throw new ServiceError('not_configured', 'sign-in links need the public base URL (PUBLIC_BASE_URL)');
  }
  const now = deps.clock();
  const expiresAt = new Date(now.getTime() + (deps.config.signInLinkTtlMs ?? DEFAULT_SIGN_IN_LINK_TTL_MS));
  const token = randomBytes(32).toString('base64url');
  const apiKeyId = await deps.db.transaction(async (tx) => {
    const [key] = await tx
      .select({ id: apiKeys.id })
      .from(apiKeys)
      .where(
        and(
          eq(apiKeys.tenantId, tenant.id),
          isNull(apiKeys.revokedAt),
          ...(input.apiKeyId === undefined ? [] : [eq(apiKeys.id, input.apiKeyId)]),
        ),
      )
      .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id))
      .limit(1);
    if (key === undefined) {
      throw input.apiKeyId === undefined
        ? new ServiceError('conflict', 'the tenant has no unrevoked API key to sign in as; create one first')
        : new ServiceError('not_found', 'body.apiKeyId: no unrevoked API key of this tenant has this id');
    }
    const [link] = await tx
      .insert(webSignInLinks)
      .values({
        tenantId: tenant.id,
        apiKeyId: key.id,
        tokenHash: signInTokenHash(token),
        createdAt: now,
        expiresAt,
      })
      .returning({ id: webSignInLinks.id });
    if (link === undefined) throw new Error('insert into web_sign_in_links returned no row');
    await audit(tx, actor, {
      tenantId: tenant.id,
      action: 'sign_in_link.created',
      target: link.id,
      details: { apiKeyId: key.id, expiresAt: expiresAt.toISOString() },
    });
    return key.id;
  });
  const url = `${base}${SIGN_IN_LINK_PATH}?token=${token}`;
  return { token, url, expiresAt, apiKeyId };
}

/**
 * Redeems a link token once: marks it used and returns the principal it signs in as, or undefined when
 * the token is unknown, used, expired, its key revoked or its tenant offboarded. One conditional UPDATE,
 * so of two redemptions at once exactly one wins (the second re-reads the row PostgreSQL locked for the
 * first and finds `used_at` set).
 */
export async function redeemSignInLink(
  deps: Pick<ApiDeps, 'db'>,
  token: string,
  nowMs: number,
): Promise<Principal | undefined> {
  if (!SIGN_IN_TOKEN_PATTERN.test(token)) return undefined;
  const now = new Date(nowMs);
  const liveKeys = deps.db
    .select({ id: apiKeys.id })
    .from(apiKeys)
    .innerJoin(tenants, and(eq(tenants.id, apiKeys.tenantId), eq(tenants.state, 'active')))
    .where(and(isNull(apiKeys.revokedAt), eq(apiKeys.tenantId, webSignInLinks.tenantId)));
  const [redeemed] = await deps.db
    .update(webSignInLinks)
    .set({ usedAt: now })
    .where(
      and(
        eq(webSignInLinks.tokenHash, signInTokenHash(token)),
        isNull(webSignInLinks.usedAt),
        gt(webSignInLinks.expiresAt, now),
        inArray(webSignInLinks.apiKeyId, liveKeys),
      ),
    )
    .returning({ apiKeyId: webSignInLinks.apiKeyId, tenantId: webSignInLinks.tenantId });
  if (redeemed === undefined) return undefined;
  return { kind: 'tenant', id: redeemed.apiKeyId, tenantId: redeemed.tenantId };
}

/**
 * The tenant a sign-in link would sign in to, without using it up: the same conditions as its redemption
 * (unused, unexpired, key unrevoked, tenant active), read only.
 */
export async function peekSignInLink(
  deps: Pick<ApiDeps, 'db'>,
  token: string,
  nowMs: number,
): Promise<{ tenantName: string } | undefined> {
  if (!SIGN_IN_TOKEN_PATTERN.test(token)) return undefined;
  const now = new Date(nowMs);
  const [row] = await deps.db
    .select({ tenantName: tenants.name })
    .from(webSignInLinks)
    .innerJoin(apiKeys, and(eq(apiKeys.id, webSignInLinks.apiKeyId), isNull(apiKeys.revokedAt)))
    .innerJoin(tenants, and(eq(tenants.id, webSignInLinks.tenantId), eq(tenants.state, 'active')))
    .where(
      and(
        eq(webSignInLinks.tokenHash, signInTokenHash(token)),
        isNull(webSignInLinks.usedAt),
        gt(webSignInLinks.expiresAt, now),
      ),
    )
    .limit(1);
  return row;
}
