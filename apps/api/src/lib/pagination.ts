import { z } from '@hono/zod-openapi';
import { type Column, lt, type SQL } from 'drizzle-orm';
import { ApiError } from '../errors.ts';

const ID = /^[a-z]{3}_[0-9a-hjkmnp-tv-z]{26}$/;

/** Query parameters of every list: a page size and an opaque cursor from the previous page. */
export const pageQuerySchema = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(100)
    .default(20)
    .openapi({ param: { name: 'limit', in: 'query' }, example: 20 }),
  cursor: z
    .string()
    .max(200)
    .optional()
    .openapi({ param: { name: 'cursor', in: 'query' }, description: 'nextCursor of the previous page' }),
});

/**
 * The id a cursor stands for. Cursors are the base64url of the last id of a page: ids are time-ordered
 * (ULID layout), so "after this id" is a keyset condition that stays correct while rows are added.
 */
export function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!ID.test(id) || Buffer.from(id, 'utf8').toString('base64url') !== cursor) {
    throw new ApiError('VALIDATION_FAILED', 'query.cursor: is not a cursor this API returned');
  }
  return id;
}

/** The keyset condition of a newest-first list: rows with an id below the cursor's (none without a cursor). */
export function olderThan(id: Column, cursor: string | undefined): SQL | undefined {
  const after = decodeCursor(cursor);
  return after === undefined ? undefined : lt(id, after);
}

/** The page and the cursor of the next one, from `limit + 1` rows fetched in order. */
export function pageOf<T extends { id: string }>(
  rows: T[],
  limit: number,
): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  const nextCursor =
    rows.length > limit && last !== undefined ? Buffer.from(last.id, 'utf8').toString('base64url') : null;
  return { items, nextCursor };
}

/** The documented 200 answer of a list: a page of `item` and the cursor of the next page. */
export function pageResponse<T extends z.ZodType>(description: string, item: T) {
  return {
    description,
    content: {
      'application/json': { schema: z.object({ items: z.array(item), nextCursor: z.string().nullable() }) },
    },
  };
}
