import { createMiddleware } from 'hono/factory';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { ApiError } from '../../errors.ts';
import { createRateLimiter } from '../../lib/rate-limit.ts';
import { clientAddress } from '../../middleware/authenticate.ts';
import { createRouter } from '../../openapi.ts';
import { ORG_REGISTRATION_PATH } from '../../services/org-registrations.ts';
import * as getOrgRegistration from './get-org-registration.ts';
import * as issueOrgRegistration from './issue-org-registration.ts';
import * as registerOrgAccount from './register-org-account.ts';
import * as removeOrgAccount from './remove-org-account.ts';
import * as revokeOrgRegistration from './revoke-org-registration.ts';

/**
 * Calls per client address per minute on the public registration operations. One member account calls
 * once per stack operation, and a StackSet deploys from each account's own Lambda (its own address), so
 * this only slows a client guessing tokens or replaying one (ADR 0119; per instance, as ADR 0062).
 */
const REGISTRATIONS_PER_MINUTE = 30;

/** A tenant's organisation registration token: issued (shown once), read with its accounts, revoked. */
export function orgRegistrationsApp(deps: ApiDeps) {
  return createRouter()
    .openapi(issueOrgRegistration.route, issueOrgRegistration.handler(deps))
    .openapi(getOrgRegistration.route, getOrgRegistration.handler(deps))
    .openapi(revokeOrgRegistration.route, revokeOrgRegistration.handler(deps));
}

/** The public operations the StackSet's custom resource calls, with the registration token as credential. */
export function orgRegistrationPublicApp(deps: ApiDeps) {
  const limiter = createRateLimiter({ perMinute: REGISTRATIONS_PER_MINUTE, burst: REGISTRATIONS_PER_MINUTE });
  const limit = createMiddleware<AppEnv>(async (c, next) => {
    const taken = limiter.take(clientAddress(c.env), deps.clock().getTime());
    if (!taken.ok) {
      throw new ApiError('RATE_LIMITED', 'too many registration calls from this address', {
        'Retry-After': String(taken.retryAfterSeconds),
      });
    }
    await next();
  });
  const router = createRouter();
  // Matches the path itself and what is under it, once per request.
  router.use(`${ORG_REGISTRATION_PATH}/*`, limit);
  return router
    .openapi(registerOrgAccount.route, registerOrgAccount.handler(deps))
    .openapi(removeOrgAccount.route, removeOrgAccount.handler(deps));
}
