import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  csrfTokenOf,
  DEFAULT_SESSION_OPTIONS,
  operatorKeyTag,
  randomToken,
  sessionIdOf,
  sessionStoreOptionsOf,
  tokensEqual,
} from './session.ts';

describe('session tokens and what is derived from them', () => {
  it('issues 256-bit base64url tokens, never the same twice', () => {
    const tokens = new Set(Array.from({ length: 1_000 }, randomToken));

    expect(tokens.size).toBe(1_000);
    for (const token of tokens) expect(Buffer.from(token, 'base64url')).toHaveLength(32);
  });

  it('names a session row by the SHA-256 of its token, and derives a different CSRF token from it', () => {
    const token = randomToken();

    const id = sessionIdOf(token);
    const csrf = csrfTokenOf(token);

    expect(id).toBe(createHash('sha256').update(token).digest('hex'));
    expect(csrf).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(csrf).not.toBe(token);
    expect(Buffer.from(csrf, 'base64url').toString('hex')).not.toBe(id);
    expect(csrfTokenOf(token)).toBe(csrf);
    expect(csrfTokenOf(randomToken())).not.toBe(csrf);
  });

  it("tags operator sessions by the key without storing the key or the API's bearer hash of it", () => {
    const key = `op_${randomToken()}`;

    const tag = operatorKeyTag(key);

    expect(tag).toMatch(/^[0-9a-f]{64}$/);
    expect(tag).not.toBe(createHash('sha256').update(key).digest('hex'));
    expect(tag).not.toContain(key);
    expect(operatorKeyTag(`${key}x`)).not.toBe(tag);
  });

  it('compares tokens in constant time and refuses a missing one', () => {
    const token = randomToken();

    expect(tokensEqual(token, token)).toBe(true);
    expect(tokensEqual(token, `${token.slice(0, -1)}A`)).toBe(token.endsWith('A'));
    expect(tokensEqual(token, undefined)).toBe(false);
    expect(tokensEqual(undefined, undefined)).toBe(false);
    expect(tokensEqual(token, token.slice(1))).toBe(false);
  });
});

describe('session limits from the API config', () => {
  it('defaults to 12 h absolute, 1 h idle, 20 per key, 10 sign-ins a minute, 10,000 live', () => {
    expect(sessionStoreOptionsOf(undefined)).toEqual({
      absoluteTtlMs: 12 * 3_600_000,
      idleTtlMs: 3_600_000,
      maxSessions: 10_000,
      maxSessionsPerKey: 20,
      signInsPerMinute: 10,
    });
    expect(sessionStoreOptionsOf({})).toEqual(DEFAULT_SESSION_OPTIONS);
  });

  it('takes each value the config sets and keeps the defaults of the others', () => {
    expect(sessionStoreOptionsOf({ maxPerKey: 3, signInsPerMinute: 5, idleTtlMs: 1_000 })).toEqual({
      ...DEFAULT_SESSION_OPTIONS,
      maxSessionsPerKey: 3,
      signInsPerMinute: 5,
      idleTtlMs: 1_000,
    });
  });
});
