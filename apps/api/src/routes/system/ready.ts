import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRoute, type RouteHandler, z } from '@hono/zod-openapi';
import { appliedMigrationCount, migrationsFolder } from '@vsh/db';
import { sql } from 'drizzle-orm';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { ApiError, errorResponses } from '../../errors.ts';
import { jsonResponse } from '../../openapi.ts';

/** GET /ready: its schemas, access and documented answers. */
export const route = createRoute({
  method: 'get',
  path: '/ready',
  // Public: load balancers and probes call it without a key.
  security: [],
  operationId: 'getReadiness',
  tags: ['system'],
  summary: 'Readiness: the database answers and every migration is applied',
  responses: {
    200: jsonResponse(
      'Ready to serve.',
      z.object({ status: z.literal('ready'), migrations: z.number().int() }),
      { status: 'ready', migrations: 7 },
    ),
    ...errorResponses(503),
  },
});

/** Number of committed migrations (drizzle-kit's journal), read once when the app is built. */
function committedMigrationCount(): number {
  const journal = JSON.parse(readFileSync(join(migrationsFolder, 'meta', '_journal.json'), 'utf8')) as {
    entries: unknown[];
  };
  return journal.entries.length;
}

/** The handler of GET /ready, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  const expected = deps.expectedMigrations ?? committedMigrationCount();
  return async (c) => {
    let applied: number;
    try {
      await deps.db.execute(sql`select 1`);
      applied = await appliedMigrationCount(deps.db);
    } catch (err) {
      deps.logger.warn({ requestId: c.get('requestId'), err }, 'readiness: database unavailable');
      throw new ApiError('NOT_READY', 'the database is not reachable');
    }
    if (applied < expected) {
      throw new ApiError('NOT_READY', `migrations pending: ${applied} of ${expected} applied`);
    }
    return c.json({ status: 'ready' as const, migrations: applied }, 200);
  };
}
