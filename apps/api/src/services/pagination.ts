import { type Column, lt, type SQL } from 'drizzle-orm';
import { ServiceError } from './errors.ts';

const ID = /^[a-z]{3}_[0-9a-hjkmnp-tv-z]{26}$/;

/** A page of a newest-first list and the opaque cursor of the next one (null on the last page). */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Where a list starts: at most `limit` rows after an opaque cursor from the previous page. */
export interface PageRequest {
  limit: number;
  cursor?: string | undefined;
}

/**
 * The id a cursor stands for. Cursors are the base64url of the last id of a page: ids are time-ordered
 * (ULID layout), so "after this id" is a keyset condition that stays correct while rows are added.
 */
export function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!ID.test(id) || Buffer.from(id, 'utf8').toString('base64url') !== cursor) {
    throw new ServiceError('invalid_input', 'query.cursor: is not a cursor this API returned');
  }
  return id;
}

/** The keyset condition of a newest-first list: rows with an id below the cursor's (none without a cursor). */
export function olderThan(id: Column, cursor: string | undefined): SQL | undefined {
  const after = decodeCursor(cursor);
  return after === undefined ? undefined : lt(id, after);
}

/** The page and the cursor of the next one, from `limit + 1` rows fetched in order. */
export function pageOf<T extends { id: string }>(rows: T[], limit: number): Page<T> {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  const nextCursor =
    rows.length > limit && last !== undefined ? Buffer.from(last.id, 'utf8').toString('base64url') : null;
  return { items, nextCursor };
}
