import { CUSTOMER_TEMPLATE_YAML } from '@vsh/role-contract';
import { describe, expect, it } from 'vitest';
import { useHarness } from '../../testing/harness.ts';
import { TEMPLATE_PATH } from '../destinations/shared.ts';

const api = useHarness({ database: 'pglite' });

describe('GET /templates/vaikora-securityhub-role.yaml', () => {
  it('serves the template without a key, as YAML with an ETag and cache headers', async () => {
    const response = await api.request('GET', TEMPLATE_PATH, { key: null });

    expect(response.status).toBe(200);
    expect(response.text).toBe(CUSTOMER_TEMPLATE_YAML);
    expect(response.headers.get('content-type')).toBe('text/yaml; charset=utf-8');
    expect(response.headers.get('etag')).toMatch(/^"[A-Za-z0-9_-]{43}"$/);
    expect(response.headers.get('cache-control')).toContain('max-age=');
  });

  it('answers 304 without a body to a client that holds the current copy, 200 to one with another', async () => {
    const first = await api.request('GET', TEMPLATE_PATH, { key: null });
    const etag = first.headers.get('etag') ?? '';

    const same = await api.request('GET', TEMPLATE_PATH, { key: null, headers: { 'if-none-match': etag } });
    const stale = await api.request('GET', TEMPLATE_PATH, {
      key: null,
      headers: { 'if-none-match': '"old"' },
    });

    expect(same.status).toBe(304);
    expect(same.text).toBe('');
    expect(same.headers.get('etag')).toBe(etag);
    expect(stale.status).toBe(200);
  });

  it('is listed in the OpenAPI document without a security requirement', async () => {
    const doc = await api.request('GET', '/openapi.json', { key: null });

    expect(doc.body.paths[TEMPLATE_PATH].get.security).toEqual([]);
  });
});
