import { randomUUID } from 'node:crypto';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { requestId } from 'hono/request-id';
import { secureHeaders } from 'hono/secure-headers';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ApiDeps, AppEnv } from './deps.ts';
import { ApiError, type ApiErrorCode, asApiError, errorBody, STATUS_OF } from './errors.ts';
import { authenticate } from './middleware/authenticate.ts';
import { requestLog } from './middleware/request-log.ts';
import { createRouter } from './openapi.ts';
import { apiKeysApp } from './routes/api-keys/index.ts';
import { backfillsApp } from './routes/backfills/index.ts';
import { destinationsApp } from './routes/destinations/index.ts';
import { orgRegistrationPublicApp, orgRegistrationsApp } from './routes/org-registrations/index.ts';
import { signInLinksApp } from './routes/sign-in-links/index.ts';
import { statusApp } from './routes/status/index.ts';
import { docsApp } from './routes/system/docs.ts';
import { systemApp } from './routes/system/index.ts';
import { landingApp } from './routes/system/landing.ts';
import { templatesApp } from './routes/templates/index.ts';
import { tenantsApp } from './routes/tenants/index.ts';
import { vaikoraApp } from './routes/vaikora/index.ts';
import { uiApp } from './ui/index.ts';
import { createSessionStore, sessionStoreOptionsOf } from './ui/session.ts';

/** The info block of the OpenAPI document. */
export const OPENAPI_INFO = {
  openapi: '3.1.0',
  info: {
    title: 'Vaikora to AWS Security Hub connector',
    version: '1.0.0',
    description: 'Control plane: tenants, Vaikora connections, AWS destinations, onboarding and status.',
  },
  // Relative: the API serves its own document, so clients and the /docs viewer call the host they read it from.
  servers: [{ url: '/', description: 'The host serving this document' }],
};

const HTTP_EXCEPTION_CODES: Partial<Record<number, ApiErrorCode>> = {
  400: 'MALFORMED_JSON',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
};

const HTTP_EXCEPTION_MESSAGES: Partial<Record<ApiErrorCode, string>> = {
  MALFORMED_JSON: 'the body is not valid JSON',
  PAYLOAD_TOO_LARGE: 'the body is larger than the limit',
  UNSUPPORTED_MEDIA_TYPE: 'the body must be application/json',
};

/** Compiles `/v1/tenants/:tenantId` into a matcher of concrete paths, for 405 answers. */
function patternOf(path: string): RegExp {
  const source = path
    .split('/')
    .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}$`);
}

/**
 * Builds the API from already-constructed dependencies. Nothing is created per request; the only state
 * the app itself keeps is its rate-limit buckets.
 */
export function createApp(deps: ApiDeps): OpenAPIHono<AppEnv> {
  const app = createRouter();

  app.use(
    '*',
    // Our own ids only: a caller-chosen id would end up in the audit log as if we had issued it.
    requestId({ headerName: '', generator: () => `req_${randomUUID().replaceAll('-', '')}` }),
  );
  app.use('*', async (c, next) => {
    c.set('deps', deps);
    c.header('X-Request-Id', c.get('requestId'));
    await next();
  });
  app.use('*', secureHeaders());
  app.use('*', requestLog());
  app.use(
    '*',
    bodyLimit({
      maxSize: deps.config.maxBodyBytes,
      onError: () => {
        throw new ApiError('PAYLOAD_TOO_LARGE', `the body is larger than ${deps.config.maxBodyBytes} bytes`);
      },
    }),
  );
  app.use('/v1/*', authenticate(deps));

  app.route('/', systemApp(deps));
  app.route('/v1', tenantsApp(deps));
  app.route('/v1', apiKeysApp(deps));
  app.route('/v1', vaikoraApp(deps));
  app.route('/v1', destinationsApp(deps));
  app.route('/v1', statusApp(deps));
  // Web sessions live in the database, so every instance (each Lambda) honours them (ADR 0091).
  app.route(
    '/ui',
    uiApp(deps, { sessions: createSessionStore(sessionStoreOptionsOf(deps.config.webSessions)) }),
  );
  app.route('/v1', backfillsApp(deps));
  app.route('/v1', signInLinksApp(deps));
  app.route('/', templatesApp(deps));
  app.route('/v1', orgRegistrationsApp(deps));
  // Public: the organisation registration token in the body is the credential (ADR 0119).
  app.route('/', orgRegistrationPublicApp(deps));

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'The operator key, or a tenant API key (vsh_...).',
  });
  app.doc31('/openapi.json', OPENAPI_INFO);
  app.route(
    '/',
    docsApp(() => app.getOpenAPI31Document(OPENAPI_INFO)),
  );
  app.route('/', landingApp(deps));

  const routes = app.routes
    .filter((route) => route.method !== 'ALL')
    .map((route) => ({ method: route.method, pattern: patternOf(route.path) }));

  app.notFound((c) => {
    const path = c.req.path;
    const allowed = [
      ...new Set(routes.filter((route) => route.pattern.test(path)).map((route) => route.method)),
    ];
    if (allowed.length > 0) {
      c.header('Allow', allowed.join(', '));
      return c.json(
        errorBody('METHOD_NOT_ALLOWED', 'this path does not accept this method', c.get('requestId')),
        405,
      );
    }
    return c.json(errorBody('NOT_FOUND', 'no such route', c.get('requestId')), 404);
  });

  app.onError((err, c) => {
    const id = c.get('requestId') ?? 'unknown';
    const apiError = asApiError(err);
    if (apiError !== undefined) {
      for (const [name, value] of Object.entries(apiError.headers)) c.header(name, value);
      return c.json(errorBody(apiError.code, apiError.message, id), apiError.status);
    }
    if (err instanceof HTTPException) {
      const code = HTTP_EXCEPTION_CODES[err.status];
      if (code !== undefined) {
        const status = STATUS_OF[code];
        return c.json(
          errorBody(code, HTTP_EXCEPTION_MESSAGES[code] ?? err.message, id),
          status as ContentfulStatusCode,
        );
      }
    }
    deps.logger.error({ requestId: id, err }, 'unexpected error');
    return c.json(errorBody('INTERNAL', `internal error; quote request id ${id}`, id), 500);
  });

  return app;
}
