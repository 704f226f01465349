import { describe, expect, it } from 'vitest';
import { cookieNames } from './auth.ts';

describe('session cookies', () => {
  it('are HttpOnly, SameSite=Strict, and __Host- and Secure in production only', () => {
    const production = cookieNames('production');
    const local = cookieNames('local');

    expect(production).toMatchObject({
      session: '__Host-vsh_session',
      options: { httpOnly: true, sameSite: 'Strict', secure: true, path: '/' },
    });
    expect(local).toMatchObject({
      session: 'vsh_session',
      options: { httpOnly: true, sameSite: 'Strict', secure: false, path: '/' },
    });
  });
});
