import type { ApiDeps } from '../../deps.ts';
import { createRouter } from '../../openapi.ts';
import * as health from './health.ts';
import * as ready from './ready.ts';

/** Liveness and readiness, outside /v1 and without authentication. */
export function systemApp(deps: ApiDeps) {
  return createRouter().openapi(health.route, health.handler).openapi(ready.route, ready.handler(deps));
}
