import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { databaselessApp } from '../../testing/operations.ts';
import { VIEWER_PACKAGE_FILES, viewerPackageFolder } from './viewer-assets.ts';

// Pages and static files only: no handler here reads the database, so none is given.
const app = databaselessApp();

async function get(path: string, headers: Record<string, string> = {}) {
  const response = await app.request(path, { headers });
  return { response, bytes: new Uint8Array(await response.arrayBuffer()) };
}

function textOf(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

function assetUrls(page: string): string[] {
  return [...page.matchAll(/(?:src|href)="(\/docs\/assets\/[^"]+)"/g)].map((match) => match[1] ?? '');
}

describe('GET /docs', () => {
  it('serves the API reference viewer from this origin, under a CSP without inline code or eval', async () => {
    const { response, bytes } = await get('/docs');
    const page = textOf(bytes);

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self';");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toContain('unsafe');
    expect(page).toContain('<div id="swagger-ui"></div>');
    expect(page).not.toMatch(/<script>|<style>|https?:\/\//);
    expect(assetUrls(page)).toHaveLength(4);
  });

  it('keeps the plain list of operations for readers without JavaScript', async () => {
    const page = textOf((await get('/docs')).bytes);
    const fallback = page.slice(page.indexOf('<noscript>'), page.indexOf('</noscript>'));

    expect(fallback).toContain('/v1/tenants/{tenantId}/api-keys');
    expect(fallback).toContain('Create a tenant and its first API key');
  });

  it('serves each asset with its type, a year-long immutable cache, and the bytes of swagger-ui-dist', async () => {
    const page = textOf((await get('/docs')).bytes);
    const urls = assetUrls(page);

    for (const [name, contentType] of Object.entries(VIEWER_PACKAGE_FILES)) {
      const url = urls.find((candidate) => candidate.endsWith(`/${name}`));
      expect(url, name).toBeDefined();
      const { response, bytes } = await get(url ?? '');
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe(contentType);
      expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(Buffer.from(bytes).equals(readFileSync(join(viewerPackageFolder(), name)))).toBe(true);
    }
  });

  it('starts the viewer on this API document, without the public validator', async () => {
    const page = textOf((await get('/docs')).bytes);
    const initUrl = assetUrls(page).find((url) => url.endsWith('/docs-init.js')) ?? '';

    const { response, bytes } = await get(initUrl);

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(textOf(bytes)).toContain("url: '/openapi.json'");
    expect(textOf(bytes)).toContain('validatorUrl: null');
  });

  it('answers an asset under another version or name with 404', async () => {
    const page = textOf((await get('/docs')).bytes);
    const bundleUrl = assetUrls(page).find((url) => url.endsWith('/swagger-ui-bundle.js')) ?? '';

    const stale = await get(bundleUrl.replace(/\/assets\/[0-9a-f]+\//, '/assets/0000000000000000/'));
    const unknown = await get(bundleUrl.replace('swagger-ui-bundle.js', 'package.json'));

    expect(stale.response.status).toBe(404);
    expect(unknown.response.status).toBe(404);
  });

  it('documents the bearer key as a security scheme, so the viewer offers to authorize', async () => {
    const document = JSON.parse(textOf((await get('/openapi.json')).bytes));

    expect(document.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(document.paths['/v1/tenants'].post.security).toEqual([{ bearerAuth: [] }]);
    expect(document.servers).toEqual([{ url: '/', description: expect.any(String) }]);
  });
});

describe('GET /', () => {
  it('says what this service is and links sign-in, the reference, the document, health and readiness', async () => {
    const { response, bytes } = await get('/');
    const page = textOf(bytes);

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(page).toContain('Security Hub');
    for (const href of ['/ui/login', '/docs', '/openapi.json', '/health', '/ready'])
      expect(page).toContain(`href="${href}"`);
  });

  it('allows only its own nonce-bearing style and script', async () => {
    const { response, bytes } = await get('/');
    const csp = response.headers.get('content-security-policy') ?? '';
    const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];

    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('unsafe');
    expect(nonce).toBeDefined();
    expect(textOf(bytes)).toContain(`<style nonce="${nonce}">`);
  });

  it('sends a browser with a session cookie on to /ui', async () => {
    const { response } = await get('/', { cookie: 'vsh_session=whatever' });

    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/ui');
  });
});
