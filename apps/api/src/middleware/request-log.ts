import { createMiddleware } from 'hono/factory';
import { routePath } from 'hono/route';
import type { AppEnv } from '../deps.ts';

/**
 * One log line per request: id, method, the matched route pattern (never the raw path, which may carry
 * whatever a caller typed), status, duration and who called. No header, query or body is logged.
 */
export function requestLog() {
  return createMiddleware<AppEnv>(async (c, next) => {
    const started = performance.now();
    await next();
    const principal = c.get('principal');
    // The last matched route is the handler's; when only middleware matched, the path had no route.
    const route = routePath(c, -1);
    c.get('deps').logger.info(
      {
        requestId: c.get('requestId'),
        method: c.req.method.slice(0, 16),
        route: route.endsWith('*') ? '(unmatched)' : route,
        status: c.res.status,
        durationMs: Math.round((performance.now() - started) * 10) / 10,
        ...(principal === undefined ? {} : { principal: principal.id }),
        ...(c.get('tenant') === undefined ? {} : { tenantId: c.get('tenant').id }),
      },
      'request',
    );
  });
}
