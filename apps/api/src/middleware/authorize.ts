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
      const [tenant] = await tenantById(c.get('deps').db).execute({ tenantId });
      if (tenant === undefined) throw new ApiError('NOT_FOUND', 'tenant not found');
      c.set('tenant', tenant);
    }
    await next();
  });
}
