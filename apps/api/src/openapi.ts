import { createRoute, OpenAPIHono, type RouteConfig, z } from '@hono/zod-openapi';
import type { ZodError } from 'zod';
import type { AppEnv } from './deps.ts';
import { ApiError, type ErrorStatus, errorResponses } from './errors.ts';
import { authorize } from './middleware/authorize.ts';

/** Who may call an operation: only the operator key, or the operator and the path's own tenant. */
export type Access = 'operator' | 'tenant';

/** The OpenAPI extension naming an operation's access; the authorization matrix test reads it. */
export const ACCESS_EXTENSION = 'x-vsh-access';

const TARGET_NAMES: Record<string, string> = {
  json: 'body',
  query: 'query',
  param: 'path',
  header: 'header',
};
const MAX_ISSUES = 5;

function pathOf(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += `.${String(part).slice(0, 64)}`;
  }
  return out;
}

/**
 * The one message of a validation failure: `body.regions[0]: must be an AWS region name; ...`. It names
 * fields and rules only: zod's messages do not quote the input, and unknown keys are cut short.
 */
export function validationMessage(error: ZodError, target: string): string {
  const where = TARGET_NAMES[target] ?? target;
  const parts = error.issues.slice(0, MAX_ISSUES).map((issue) => {
    const location = `${where}${pathOf(issue.path)}`;
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.slice(0, 3).map((key) => JSON.stringify(key.slice(0, 40)));
      return `${location}: unknown field${issue.keys.length > 1 ? 's' : ''} ${keys.join(', ')}`;
    }
    return `${location}: ${issue.message.slice(0, 200)}`;
  });
  const more = error.issues.length > MAX_ISSUES ? ` (and ${error.issues.length - MAX_ISSUES} more)` : '';
  return `${parts.join('; ')}${more}`;
}

/** A router with the API's validation hook: every failed validation becomes VALIDATION_FAILED. */
export function createRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success)
        throw new ApiError('VALIDATION_FAILED', validationMessage(result.error, result.target));
    },
  });
}

const COMMON_ERRORS: ErrorStatus[] = [400, 401, 403, 404, 413, 415, 429, 500];

/**
 * An operation under /v1: the bearer-key security requirement, the authorization middleware for its
 * access, the errors every such operation can return plus its own, and the access as an extension.
 */
export function defineRoute<const R extends Omit<RouteConfig, 'middleware' | 'security'>>(
  access: Access,
  route: R,
  extraErrors: ErrorStatus[] = [],
) {
  const statuses = [...new Set([...COMMON_ERRORS, ...extraErrors])];
  return createRoute({
    ...route,
    security: [{ bearerAuth: [] }],
    middleware: [authorize(access)] as const,
    [ACCESS_EXTENSION]: access,
    responses: { ...route.responses, ...errorResponses(...statuses) },
  });
}

/** Path parameter schemas with their OpenAPI descriptions. */
export const tenantIdParam = z
  .string()
  .regex(/^ten_[0-9a-hjkmnp-tv-z]{26}$/, 'must be a tenant id (ten_...)')
  .openapi({ param: { name: 'tenantId', in: 'path' }, example: 'ten_01jd0000000000000000000000' });

export const destinationIdParam = z
  .string()
  .regex(/^dst_[0-9a-hjkmnp-tv-z]{26}$/, 'must be a destination id (dst_...)')
  .openapi({ param: { name: 'destinationId', in: 'path' }, example: 'dst_01jd0000000000000000000000' });

export const keyIdParam = z
  .string()
  .regex(/^key_[0-9a-hjkmnp-tv-z]{26}$/, 'must be an API key id (key_...)')
  .openapi({ param: { name: 'keyId', in: 'path' }, example: 'key_01jd0000000000000000000000' });

/** ISO 8601 timestamp in responses. */
export const timestamp = z.string().openapi({ format: 'date-time', example: '2026-01-01T00:00:00.000Z' });

/** A Date (or null) as an ISO string (or null). */
export function iso(date: Date): string;
export function iso(date: Date | null): string | null;
export function iso(date: Date | null): string | null {
  return date === null ? null : date.toISOString();
}
