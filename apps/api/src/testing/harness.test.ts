import { describe, expect, it } from 'vitest';
import { findLeaks } from './harness.ts';

describe('findLeaks (the end-of-file secret check of every API test file)', () => {
  const secret = 'vsh_0123456789ab_secretsecret';
  const created = { what: 'response POST /v1/tenants 201', text: `{"key":"${secret}"}` };

  it('allows a secret only in the response that created it', () => {
    expect(findLeaks({ secrets: new Map([[secret, 0]]), captured: [created], logs: [], audit: [] })).toEqual(
      [],
    );
  });

  it('reports the secret in any other response, a log line or an audit entry', () => {
    const leaks = findLeaks({
      secrets: new Map([[secret, 0]]),
      captured: [created, { what: 'response GET /v1/x 200', text: `..${secret}..` }],
      logs: [`{"msg":"${secret}"}`],
      audit: [`{"details":"${secret}"}`],
    });

    expect(leaks).toHaveLength(3);
  });
});
