import type { ApiDeps } from '../../deps.ts';
import { createRouter } from '../../openapi.ts';
import * as getVaikoraSettings from './get-vaikora-settings.ts';
import * as putVaikoraSettings from './put-vaikora-settings.ts';
import * as testVaikora from './test-vaikora.ts';
import * as verifyVaikora from './verify-vaikora.ts';

/** A tenant's Vaikora connection: the key is write-only and verified before it is stored. */
export function vaikoraApp(deps: ApiDeps) {
  return createRouter()
    .openapi(putVaikoraSettings.route, putVaikoraSettings.handler(deps))
    .openapi(getVaikoraSettings.route, getVaikoraSettings.handler(deps))
    .openapi(verifyVaikora.route, verifyVaikora.handler(deps))
    .openapi(testVaikora.route, testVaikora.handler(deps));
}
