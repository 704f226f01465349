import { createRoute, type RouteHandler, z } from '@hono/zod-openapi';
import type { AppEnv } from '../../deps.ts';
import { jsonResponse } from '../../openapi.ts';

/** GET /health: its schemas, access and documented answers. */
export const route = createRoute({
  method: 'get',
  path: '/health',
  // Public: load balancers and probes call it without a key.
  security: [],
  operationId: 'getHealth',
  tags: ['system'],
  summary: 'Liveness: the process is up',
  responses: {
    200: jsonResponse('The process is serving requests.', z.object({ status: z.literal('ok') }), {
      status: 'ok',
    }),
  },
});

/** The handler of GET /health. */
export const handler: RouteHandler<typeof route, AppEnv> = (c) => c.json({ status: 'ok' as const }, 200);
