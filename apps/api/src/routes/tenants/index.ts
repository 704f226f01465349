import type { ApiDeps } from '../../deps.ts';
import { createRouter } from '../../openapi.ts';
import * as createTenant from './create-tenant.ts';
import * as getTenant from './get-tenant.ts';
import * as listTenants from './list-tenants.ts';
import * as offboardTenant from './offboard-tenant.ts';
import * as updateTenant from './update-tenant.ts';

/** Tenants: created, listed, updated and offboarded by the operator; read by the tenant itself. */
export function tenantsApp(deps: ApiDeps) {
  return createRouter()
    .openapi(createTenant.route, createTenant.handler(deps))
    .openapi(listTenants.route, listTenants.handler(deps))
    .openapi(getTenant.route, getTenant.handler(deps))
    .openapi(updateTenant.route, updateTenant.handler(deps))
    .openapi(offboardTenant.route, offboardTenant.handler(deps));
}
