import { tenants } from '@vsh/db';
import { eq, sql } from 'drizzle-orm';
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { preparedPer } from '../lib/prepared.ts';

const TENANT_ID = /^ten_[0-9a-hjkmnp-tv-z]{26}$/;

/** The tenant lookup of every tenant operation. */
const tenantById = preparedPer((db) =>
  db
    .select()
    .from(tenants)
    .where(eq(tenants.id, sql.placeholder('tenantId')))
    .limit(1)
    .prepare('tenant_by_id'),
);

/**
 * The one authorization check. `operator` operations refuse tenant keys with 403 (the operation
 * itself is not theirs). `tenant` operations answer 404 for a tenant other than the key's own, exactly
 * as for a tenant that does not exist, so a key learns nothing about other tenants. When the path names
 * a tenant, it is loaded and put in `c.var.tenant`; handlers then filter every query by that id.
 */
export function authorize(access: 'operator' | 'tenant') {
  return createMiddleware<AppEnv>(async (c, next) => {
    const principal = c.get('principal');
    if (access === 'operator' && principal.kind !== 'operator') {
      throw new ApiError('FORBIDDEN', 'this operation needs the operator key');
    }
    const tenantId = c.req.param('tenantId');
    if (tenantId !== undefined) {
      if (principal.kind === 'tenant' && principal.tenantId !== tenantId) {
        throw new ApiError('NOT_FOUND', 'tenant not found');
      }
      if (!TENANT_ID.test(tenantId)) throw new ApiError('NOT_FOUND', 'tenant not found');
      const deps = c.get('deps');
      const load = async () => (await tenantById(deps.db).execute({ tenantId }))[0];
      // Reads may answer from this instance's one-second cache (ADR 0113); writes read the row fresh and
      // forget the tenant once they are done, so the next read here sees what they wrote.
      const reading = c.req.method === 'GET' || c.req.method === 'HEAD';
      const cache = deps.tenantReadCache;
      const tenant =
        reading && cache !== undefined ? await cache.read(tenantId, 'tenant', load) : await load();
      if (tenant === undefined) throw new ApiError('NOT_FOUND', 'tenant not found');
      c.set('tenant', tenant);
      if (!reading && cache !== undefined) {
        try {
          await next();
        } finally {
          cache.evict(tenantId);
        }
        return;
      }
    }
    await next();
  });
}
