import { describe, expect, it } from 'vitest';
import { useHarness } from '../testing/harness.ts';

const api = useHarness({ config: { rateLimit: { perMinute: 60, burst: 3 }, authFailuresPerMinute: 5 } });

describe('rate limiting', () => {
  it('answers 429 RATE_LIMITED with Retry-After once a key has used its burst, and only for that key', async () => {
    const first = await api.createTenant();
    const second = await api.createTenant();

    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof api.request>> | undefined;
    for (let i = 0; i < 4; i++) {
      const response = await api.request('GET', `/v1/tenants/${first.tenantId}`, { key: first.key });
      statuses.push(response.status);
      limited = response;
    }
    const otherKey = await api.request('GET', `/v1/tenants/${second.tenantId}`, { key: second.key });

    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(limited?.headers.get('retry-after')).toBe('1');
    expect(limited?.body).toEqual({
      error: {
        code: 'RATE_LIMITED',
        message: 'rate limit exceeded for this API key',
        requestId: limited?.headers.get('x-request-id'),
      },
    });
    expect(otherKey.status).toBe(200);
  });

  it('slows down repeated failed authentications from one client', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      statuses.push(
        (await api.request('GET', '/v1/tenants', { key: `vsh_${'0'.repeat(12)}_${'B'.repeat(43)}` })).status,
      );
    }

    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5)).toEqual([429, 429]);
  });
});
