import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Principal } from '../deps.ts';

/** A signed-in browser: who it is and the token its forms must carry. Never holds the key itself. */
export interface Session {
  readonly id: string;
  readonly principal: Principal;
  readonly csrfToken: string;
  readonly createdAtMs: number;
  lastSeenAtMs: number;
}

export interface SessionStoreOptions {
  /** A session ends this long after sign-in, however active. */
  absoluteTtlMs: number;
  /** A session ends after this long without a request. */
  idleTtlMs: number;
  /** At most this many live sessions; signing in beyond it ends the least recently used one. */
  maxSessions: number;
}

export interface SessionStore {
  create(principal: Principal, nowMs: number): Session;
  /** The live session of an id (refreshing its idle timer), or undefined. */
  get(id: string | undefined, nowMs: number): Session | undefined;
  delete(id: string | undefined): void;
  readonly size: number;
}

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

/**
 * Sessions in memory, keyed by an opaque random id (see ADR 0090). A Map keeps insertion order, and a
 * touched session is re-inserted, so the first entry is always the least recently used one to evict.
 */
export function createSessionStore(options: SessionStoreOptions): SessionStore {
  const sessions = new Map<string, Session>();
  const expired = (session: Session, nowMs: number) =>
    nowMs - session.createdAtMs >= options.absoluteTtlMs || nowMs - session.lastSeenAtMs >= options.idleTtlMs;

  return {
    create(principal, nowMs) {
      while (sessions.size >= options.maxSessions) {
        const oldest = sessions.keys().next();
        if (oldest.done === true) break;
        sessions.delete(oldest.value);
      }
      const session: Session = {
        id: randomToken(),
        principal,
        csrfToken: randomToken(),
        createdAtMs: nowMs,
        lastSeenAtMs: nowMs,
      };
      sessions.set(session.id, session);
      return session;
    },
    get(id, nowMs) {
      if (id === undefined || id.length > 100) return undefined;
      const session = sessions.get(id);
      if (session === undefined) return undefined;
      sessions.delete(id);
      if (expired(session, nowMs)) return undefined;
      session.lastSeenAtMs = nowMs;
      sessions.set(id, session);
      return session;
    },
    delete(id) {
      if (id !== undefined) sessions.delete(id);
    },
    get size() {
      return sessions.size;
    },
  };
}
