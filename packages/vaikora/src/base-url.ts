/** What a tenant may point the Vaikora client at: the API checks it on PUT, the worker again before every run. */
export interface BaseUrlPolicy {
  mode: 'production' | 'local';
  /** Host names (optionally `host:port`) Vaikora may be reached at over https. */
  allowedHosts: readonly string[];
}

export type BaseUrlCheck = { ok: true; url: string } | { ok: false; reason: string };

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const MAX_LENGTH = 2048;

/**
 * Decides whether a Vaikora base URL may be used, so the API cannot be turned into a proxy to arbitrary
 * hosts (SSRF): https to an allow-listed host always; plain http only to loopback and only in local mode,
 * where the Vaikora simulator runs. Credentials, query strings and fragments are refused. The returned URL
 * is the normalized one (no trailing slash).
 */
export function checkBaseUrl(input: string, policy: BaseUrlPolicy): BaseUrlCheck {
  if (input.length > MAX_LENGTH) return { ok: false, reason: `must be at most ${MAX_LENGTH} characters` };
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return { ok: false, reason: 'is not a URL' };
  }
  if (url.username !== '' || url.password !== '')
    return { ok: false, reason: 'must not contain credentials' };
  if (url.search !== '' || url.hash !== '')
    return { ok: false, reason: 'must not have a query or a fragment' };
  const host = url.host.toLowerCase();
  const loopback = LOOPBACK.has(url.hostname.toLowerCase());
  if (url.protocol === 'https:') {
    if (policy.allowedHosts.includes(host)) return { ok: true, url: normalize(url) };
    if (policy.mode === 'local' && loopback) return { ok: true, url: normalize(url) };
    return { ok: false, reason: `host is not allowed (allowed: ${policy.allowedHosts.join(', ')})` };
  }
  if (url.protocol === 'http:') {
    if (policy.mode === 'local' && loopback) return { ok: true, url: normalize(url) };
    return {
      ok: false,
      reason: policy.mode === 'local' ? 'plain http is allowed only to loopback' : 'must use https',
    };
  }
  return { ok: false, reason: 'must use https' };
}

function normalize(url: URL): string {
  return url.toString().replace(/\/+$/, '');
}
