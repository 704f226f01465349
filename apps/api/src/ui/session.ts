import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { apiKeys, type Tenant, tenants, webSessions, webSignIns } from '@vsh/db';
import { and, desc, eq, gt, inArray, isNotNull, isNull, lt, lte, or, sql } from 'drizzle-orm';
import type { ApiConfig, ApiDeps, Principal } from '../deps.ts';
import { preparedPer } from '../lib/prepared.ts';

/** A signed-in browser: who it is and the token its forms must carry. Never holds the key or the cookie's token. */
export interface Session {
  /** Hex SHA-256 of the cookie's token: the row id, useless for signing in. */
  readonly id: string;
  readonly principal: Principal;
  readonly csrfToken: string;
  readonly createdAt: Date;
  readonly expiresAt: Date;
}

export interface SessionStoreOptions {
  /** A session ends this long after sign-in, however active. */
  absoluteTtlMs: number;
  /** A session ends after this long without a request. */
  idleTtlMs: number;
  /**
   * Live sessions in all, a backstop on the table's size: a tenant sign-in beyond it is refused. Nobody is
   * ever signed out to make room, and the operator can always sign in.
   */
  maxSessions: number;
  /** Live sessions per API key (the operator key counts as one); a new one beyond it ends that key's oldest. Default 20. */
  maxSessionsPerKey?: number;
  /** Successful sign-ins per client (source address and key) per minute, counted across instances. Default 10. */
  signInsPerMinute?: number;
}

/** What the store needs of the app: its database, and the operator key that operator sessions are tied to. */
type SessionDeps = Pick<ApiDeps, 'db' | 'operatorApiKey'>;

/** The outcome of a sign-in with a valid key. */
type StartResult =
  | { ok: true; session: Session /** For the cookie only: never stored, never logged. */; token: string }
  | { ok: false; reason: 'rate_limited'; retryAfterSeconds: number }
  | { ok: false; reason: 'full' };

/** A live session with, for a tenant, its tenant row (read by the same query). */
interface FoundSession {
  session: Session;
  tenant: Tenant | undefined;
}

/** Web sessions in the control-plane database, so that every API instance honours them (ADR 0091). */
export interface SessionStore {
  /** Starts a session for a principal whose key was just checked, within the per-client and per-key limits. */
  start(
    deps: SessionDeps,
    principal: Principal,
    input: { client: string; nowMs: number },
  ): Promise<StartResult>;
  /**
   * The live session of a cookie's token (refreshing its idle timer), or undefined: unknown, expired, or
   * its key revoked, its tenant offboarded, or the operator key changed since.
   */
  find(deps: SessionDeps, token: string | undefined, nowMs: number): Promise<FoundSession | undefined>;
  /** Ends the session of a token (sign-out); nothing when there is none. */
  end(deps: SessionDeps, token: string | undefined): Promise<void>;
}

export const DEFAULT_SESSION_OPTIONS = {
  absoluteTtlMs: 12 * 3_600_000,
  idleTtlMs: 3_600_000,
  maxSessions: 10_000,
  maxSessionsPerKey: 20,
  signInsPerMinute: 10,
} as const satisfies Required<SessionStoreOptions>;

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const WINDOW_MS = 60_000;
// last_seen_at is written at most this often per session, so a page view is not a write.
const TOUCH_RESOLUTION_MS = 60_000;
// Rows swept per sign-in: each sign-in adds at most one row to each table, so this keeps them bounded.
const SWEEP_LIMIT = 100;

/** An unguessable token: 32 random bytes, base64url. */
export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Compares two tokens in constant time (for equal lengths); false when either is missing. */
export function tokensEqual(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

const sha256Hex = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** The row id of a session token: its hex SHA-256 (a 256-bit random token needs no slow hash). */
export function sessionIdOf(token: string): string {
  return sha256Hex(token);
}

/**
 * The CSRF token of a session, derived from its token so every instance computes the same one without
 * storing it. Another label than the id's, so neither the id nor the CSRF token reveals the other.
 */
export function csrfTokenOf(token: string): string {
  return createHash('sha256').update('vsh web csrf\n', 'utf8').update(token, 'utf8').digest('base64url');
}

/** The tag operator sessions carry: the SHA-256 of a label and the operator key (never the key's bearer hash). */
export function operatorKeyTag(operatorApiKey: string): string {
  return sha256Hex(`vsh web operator session\n${operatorApiKey}`);
}

/** The store's options from the API config, each unset value at its default. */
export function sessionStoreOptionsOf(config: ApiConfig['webSessions']): Required<SessionStoreOptions> {
  return {
    absoluteTtlMs: config?.absoluteTtlMs ?? DEFAULT_SESSION_OPTIONS.absoluteTtlMs,
    idleTtlMs: config?.idleTtlMs ?? DEFAULT_SESSION_OPTIONS.idleTtlMs,
    maxSessions: config?.maxLive ?? DEFAULT_SESSION_OPTIONS.maxSessions,
    maxSessionsPerKey: config?.maxPerKey ?? DEFAULT_SESSION_OPTIONS.maxSessionsPerKey,
    signInsPerMinute: config?.signInsPerMinute ?? DEFAULT_SESSION_OPTIONS.signInsPerMinute,
  };
}

/**
 * A live session by id with its tenant, prepared (every page and live fragment asks it; ADR 0113): the
 * session must be unexpired, and either the operator's (its key tag matches the configured key) or a
 * tenant's whose key is unrevoked and whose tenant is active.
 */
const sessionById = preparedPer((db) =>
  db
    .select({
      apiKeyId: webSessions.apiKeyId,
      tenantId: webSessions.tenantId,
      createdAt: webSessions.createdAt,
      lastSeenAt: webSessions.lastSeenAt,
      expiresAt: webSessions.expiresAt,
      tenant: tenants,
    })
    .from(webSessions)
    .leftJoin(
      apiKeys,
      and(
        eq(apiKeys.id, webSessions.apiKeyId),
        eq(apiKeys.tenantId, webSessions.tenantId),
        isNull(apiKeys.revokedAt),
      ),
    )
    .leftJoin(tenants, and(eq(tenants.id, webSessions.tenantId), eq(tenants.state, 'active')))
    .where(
      and(
        eq(webSessions.id, sql.placeholder('id')),
        // An ISO string cast by PostgreSQL: drizzle does not encode a Date bound to a placeholder.
        gt(webSessions.expiresAt, sql`${sql.placeholder('now')}::timestamptz`),
        or(
          eq(webSessions.operatorKeyTag, sql.placeholder('operatorKeyTag')),
          and(isNotNull(apiKeys.id), isNotNull(tenants.id)),
        ),
      ),
    )
    .limit(1)
    .prepare('web_session_by_id'),
);

/**
 * Sessions as rows of `web_sessions` (ADR 0091). A request costs one indexed query (the row by the hash of
 * the cookie's token, joined to its key and tenant) plus, at most once a minute, a write of its last use.
 * A sign-in sweeps expired rows, counts the client's sign-ins of the minute in `web_sign_ins`, and inserts
 * the row while holding a per-key lock, ending the key's oldest sessions beyond the cap.
 */
export function createSessionStore(options: SessionStoreOptions): SessionStore {
  const maxPerKey = options.maxSessionsPerKey ?? DEFAULT_SESSION_OPTIONS.maxSessionsPerKey;
  const signInsPerMinute = options.signInsPerMinute ?? DEFAULT_SESSION_OPTIONS.signInsPerMinute;
  const expiryOf = (createdAtMs: number, nowMs: number) =>
    new Date(Math.min(nowMs + options.idleTtlMs, createdAtMs + options.absoluteTtlMs));

  const principalOf = (row: { apiKeyId: string | null; tenantId: string | null }): Principal =>
    row.apiKeyId !== null && row.tenantId !== null
      ? { kind: 'tenant', id: row.apiKeyId, tenantId: row.tenantId }
      : { kind: 'operator', id: 'operator' };

  /** Deletes up to SWEEP_LIMIT expired sessions and past sign-in windows. */
  async function sweep(db: SessionDeps['db'], now: Date, windowStart: Date): Promise<void> {
    const expired = db
      .select({ id: webSessions.id })
      .from(webSessions)
      .where(lte(webSessions.expiresAt, now))
      .limit(SWEEP_LIMIT);
    const past = db
      .select({ client: webSignIns.client, windowStart: webSignIns.windowStart })
      .from(webSignIns)
      .where(lt(webSignIns.windowStart, windowStart))
      .limit(SWEEP_LIMIT);
    await Promise.all([
      db.delete(webSessions).where(inArray(webSessions.id, expired)),
      db.delete(webSignIns).where(sql`(${webSignIns.client}, ${webSignIns.windowStart}) in (${past})`),
    ]);
  }

  return {
    async start({ db, operatorApiKey }, principal, { client, nowMs }) {
      const now = new Date(nowMs);
      const windowStartMs = nowMs - (nowMs % WINDOW_MS);
      const windowStart = new Date(windowStartMs);
      // The sweep and the count are independent statements: run them side by side.
      const [, [counted]] = await Promise.all([
        sweep(db, now, windowStart),
        db
          .insert(webSignIns)
          // The address and key id are hashed together: the table need not say who signed in from where.
          .values({ client: sha256Hex(`${client}\n${principal.id}`), windowStart, count: 1 })
          .onConflictDoUpdate({
            target: [webSignIns.client, webSignIns.windowStart],
            set: { count: sql`${webSignIns.count} + 1` },
          })
          .returning({
            count: webSignIns.count,
            live: sql<number>`(select count(*) from ${webSessions} where ${webSessions.expiresAt} > ${now.toISOString()})::int`,
          }),
      ]);
      if ((counted?.count ?? 0) > signInsPerMinute) {
        const retryAfterSeconds = Math.max(1, Math.ceil((windowStartMs + WINDOW_MS - nowMs) / 1000));
        return { ok: false, reason: 'rate_limited', retryAfterSeconds };
      }
      if (principal.kind === 'tenant' && (counted?.live ?? 0) >= options.maxSessions) {
        return { ok: false, reason: 'full' };
      }

      const token = randomToken();
      const session: Session = {
        id: sessionIdOf(token),
        principal,
        csrfToken: csrfTokenOf(token),
        createdAt: now,
        expiresAt: expiryOf(nowMs, nowMs),
      };
      const sameKey =
        principal.kind === 'tenant' ? eq(webSessions.apiKeyId, principal.id) : isNull(webSessions.apiKeyId);
      await db.transaction(async (tx) => {
        // One sign-in of a key at a time, on every instance, so the cap below is exact.
        await tx.execute(
          sql`select pg_advisory_xact_lock(hashtextextended(${`web_sessions:${principal.id}`}, 0))`,
        );
        await tx.insert(webSessions).values({
          id: session.id,
          tenantId: principal.kind === 'tenant' ? principal.tenantId : null,
          apiKeyId: principal.kind === 'tenant' ? principal.id : null,
          operatorKeyTag: principal.kind === 'operator' ? operatorKeyTag(operatorApiKey) : null,
          createdAt: now,
          lastSeenAt: now,
          expiresAt: session.expiresAt,
        });
        const beyondCap = tx
          .select({ id: webSessions.id })
          .from(webSessions)
          .where(sameKey)
          .orderBy(desc(webSessions.seq))
          .offset(maxPerKey);
        await tx.delete(webSessions).where(inArray(webSessions.id, beyondCap));
      });
      return { ok: true, session, token };
    },

    async find({ db, operatorApiKey }, token, nowMs) {
      if (token === undefined || !TOKEN_PATTERN.test(token)) return undefined;
      const now = new Date(nowMs);
      const id = sessionIdOf(token);
      const [row] = await sessionById(db).execute({
        id,
        now: now.toISOString(),
        operatorKeyTag: operatorKeyTag(operatorApiKey),
      });
      if (row === undefined) return undefined;
      let expiresAt = row.expiresAt;
      if (nowMs - row.lastSeenAt.getTime() >= TOUCH_RESOLUTION_MS) {
        expiresAt = expiryOf(row.createdAt.getTime(), nowMs);
        await db.update(webSessions).set({ lastSeenAt: now, expiresAt }).where(eq(webSessions.id, id));
      }
      return {
        session: {
          id,
          principal: principalOf(row),
          csrfToken: csrfTokenOf(token),
          createdAt: row.createdAt,
          expiresAt,
        },
        tenant: row.tenant ?? undefined,
      };
    },

    async end({ db }, token) {
      if (token === undefined || !TOKEN_PATTERN.test(token)) return;
      await db.delete(webSessions).where(eq(webSessions.id, sessionIdOf(token)));
    },
  };
}
