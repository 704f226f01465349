/*
 * Conventions for every route's OpenAPI description (tests in openapi.test.ts and
 * openapi.lint.int.test.ts hold every operation to them):
 * - `operationId`: a lowerCamelCase verb and noun (`createTenant`, `listRuns`), unique in the API.
 *   defineRoute derives one from method and path when a route gives none; give one.
 * - `summary` and `tags` on every operation; `description` where the summary is not enough.
 * - Request bodies: `.openapi({ example })` on the body schema, a value that schema accepts.
 * - Main (2xx) answers: `example` next to `schema` in `content['application/json']`, which the
 *   schema must accept; 204 has no content.
 * - Errors: only through defineRoute / errorResponses, so each one references the Error schema.
 * - Regexes: no flags and no `\p{...}`: zod publishes `regex.source` as `pattern`, which clients
 *   compile with or without `u` (see NO_CONTROL_CHARACTERS).
 */
import { createRoute, OpenAPIHono, type RouteConfig, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { ZodError } from 'zod';
import type { AppEnv } from './deps.ts';
import { ApiError, type ErrorStatus, errorResponses } from './errors.ts';
import type { Actor } from './lib/audit.ts';
import { authorize } from './middleware/authorize.ts';

export { iso } from './services/common.ts';
export { NO_CONTROL_CHARACTERS } from './services/schemas.ts';

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
 * The operationId of a route that names none, from method and path; a trailing parameter is named so
 * that a list and a read of the same resource differ: `GET /tenants/{tenantId}/runs` gives
 * `getTenantsRuns`, `GET /tenants/{tenantId}/runs/{runId}` gives `getTenantsRunsByRunId`.
 */
export function defaultOperationId(method: string, path: string): string {
  const capital = (word: string) => `${word.charAt(0).toUpperCase()}${word.slice(1)}`;
  const segments = path.split('/').filter((segment) => segment !== '');
  const last = segments.at(-1) ?? '';
  const words = segments
    .filter((segment) => !segment.startsWith('{'))
    .flatMap((segment) => segment.split(/[_.-]/))
    .map(capital);
  const byParam = last.startsWith('{') ? `By${capital(last.slice(1, -1))}` : '';
  return `${method.toLowerCase()}${words.join('')}${byParam}`;
}

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
    operationId: route.operationId ?? defaultOperationId(route.method, route.path),
    security: [{ bearerAuth: [] }],
    middleware: [authorize(access)] as const,
    [ACCESS_EXTENSION]: access,
    responses: { ...route.responses, ...errorResponses(...statuses) },
  });
}

/** A JSON response with its schema and an example of it, which the type (and a test) hold to the schema. */
export function jsonResponse<S extends z.ZodType>(description: string, schema: S, example: z.output<S>) {
  return { description, content: { 'application/json': { schema, example } } };
}

/** A JSON response of another helper (e.g. pageResponse) with an example of its schema added. */
export function withExample<
  R extends { description: string; content: { 'application/json': { schema: z.ZodType } } },
>(response: R, example: z.output<R['content']['application/json']['schema']>): R {
  return {
    ...response,
    content: { 'application/json': { ...response.content['application/json'], example } },
  };
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

/** A required JSON request body of a route. */
export function jsonBody<S extends z.ZodType>(schema: S) {
  return { required: true as const, content: { 'application/json': { schema } } };
}

/** Who is acting in this request, for the audit entries of the services it calls. */
export function actorOf(c: Pick<Context<AppEnv>, 'get'>): Actor {
  return { principal: c.get('principal'), requestId: c.get('requestId') };
}
