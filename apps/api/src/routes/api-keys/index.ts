import type { ApiDeps } from '../../deps.ts';
import { createRouter } from '../../openapi.ts';
import * as createApiKey from './create-api-key.ts';
import * as listApiKeys from './list-api-keys.ts';
import * as revokeApiKey from './revoke-api-key.ts';

/** A tenant's API keys: created (shown once), listed by prefix, revoked. */
export function apiKeysApp(deps: ApiDeps) {
  return createRouter()
    .openapi(createApiKey.route, createApiKey.handler(deps))
    .openapi(listApiKeys.route, listApiKeys.handler(deps))
    .openapi(revokeApiKey.route, revokeApiKey.handler(deps));
}
