import { describe, expect, it } from 'vitest';
import { type BaseUrlPolicy, checkBaseUrl } from './base-url.ts';

const production: BaseUrlPolicy = { mode: 'production', allowedHosts: ['api.vaikora.com'] };
const local: BaseUrlPolicy = { mode: 'local', allowedHosts: ['api.vaikora.com'] };

describe('checkBaseUrl', () => {
  it('accepts https to an allow-listed host in both modes, without a trailing slash', () => {
    expect(checkBaseUrl('https://api.vaikora.com/api/v1/', production)).toEqual({
      ok: true,
      url: 'https://api.vaikora.com/api/v1',
    });
    expect(checkBaseUrl('https://API.vaikora.com/api/v1', local).ok).toBe(true);
  });

  it.each([
    'http://127.0.0.1:4010/api/v1',
    'http://localhost:4010/api/v1',
    'https://127.0.0.1/api/v1',
    'http://[::1]:4010/api/v1',
  ])('accepts loopback %s only in local mode', (url) => {
    expect(checkBaseUrl(url, local).ok).toBe(true);
    expect(checkBaseUrl(url, production).ok).toBe(false);
  });

  it.each([
    ['http://api.vaikora.com/api/v1', 'must use https'],
    ['https://api.vaikora.com:8443/api/v1', 'host is not allowed'],
    ['https://api.vaikora.com.evil.example/api/v1', 'host is not allowed'],
    ['https://user:pw@api.vaikora.com/api/v1', 'must not contain credentials'],
    ['https://api.vaikora.com/api/v1?x=1', 'must not have a query'],
    ['https://169.254.169.254/latest', 'host is not allowed'],
    ['ftp://api.vaikora.com/', 'must use https'],
    ['not a url', 'is not a URL'],
    [`https://api.vaikora.com/${'a'.repeat(3000)}`, 'at most 2048'],
  ])('refuses %s in production', (url, reason) => {
    const check = checkBaseUrl(url, production);

    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.reason).toContain(reason);
  });

  it('refuses plain http to a non-loopback host in local mode too', () => {
    expect(checkBaseUrl('http://10.0.0.5/api/v1', local)).toEqual({
      ok: false,
      reason: 'plain http is allowed only to loopback',
    });
  });
});
