import type { ApiDeps } from '../../deps.ts';
import { createRouter } from '../../openapi.ts';
import * as createSignInLink from './create-sign-in-link.ts';

/** One-time sign-in links for a tenant's web pages (operator only); the UI redeems them. */
export function signInLinksApp(deps: ApiDeps) {
  return createRouter().openapi(createSignInLink.route, createSignInLink.handler(deps));
}
