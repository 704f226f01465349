import type { ApiDeps } from '../../deps.ts';
import { createRouter } from '../../openapi.ts';
import * as createBackfill from './create-backfill.ts';
import * as getBackfill from './get-backfill.ts';

/** Backfills: the operator re-sends a tenant's time range and follows its progress. */
export function backfillsApp(deps: ApiDeps) {
  return createRouter()
    .openapi(createBackfill.route, createBackfill.handler(deps))
    .openapi(getBackfill.route, getBackfill.handler(deps));
}
