import { createRoute, type RouteHandler, z } from '@hono/zod-openapi';
import type { AppEnv } from '../../deps.ts';

/** GET /health: its schemas, access and documented answers. */
export const route = createRoute({
  method: 'get',
  path: '/health',
  tags: ['system'],
  summary: 'Liveness: the process is up',
  responses: {
    200: {
      description: 'The process is serving requests.',
      content: { 'application/json': { schema: z.object({ status: z.literal('ok') }) } },
    },
  },
});

/** The handler of GET /health. */
export const handler: RouteHandler<typeof route, AppEnv> = (c) => c.json({ status: 'ok' as const }, 200);
