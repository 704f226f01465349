import { type SQL, sql } from 'drizzle-orm';
import { type AnyPgColumn, text, timestamp } from 'drizzle-orm/pg-core';
import { type IdPrefix, newId } from '../ids.ts';

/** A `text` primary key filled with a prefixed, time-ordered id (`ten_...`) when the caller gives none. */
export function idColumn(prefix: IdPrefix) {
  return text('id')
    .primaryKey()
    .$defaultFn(() => newId(prefix));
}

/** A `timestamp with time zone` column read and written as a JavaScript `Date`. */
export function timestamptz(name: string) {
  return timestamp(name, { withTimezone: true, mode: 'date' });
}

/** `created_at` and `updated_at`, both defaulting to the database clock; drizzle refreshes `updated_at` on update. */
export function timestamps() {
  return {
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    updatedAt: timestamptz('updated_at')
      .notNull()
      .defaultNow()
      .$onUpdate(() => new Date()),
  };
}

/**
 * The SQL of a CHECK that a text column holds one of `values`. Values are inlined (drizzle-kit writes
 * CHECK bodies verbatim, so they cannot be bind parameters); they come from our own constants and are
 * limited to `[a-z_]` so inlining is safe.
 */
export function oneOf(column: AnyPgColumn, values: readonly string[]): SQL {
  for (const value of values) {
    if (!/^[a-z_]+$/.test(value)) throw new Error(`oneOf: unsafe enum literal ${JSON.stringify(value)}`);
  }
  return sql`${column} in (${sql.raw(values.map((value) => `'${value}'`).join(', '))})`;
}

/** The SQL of a CHECK that a jsonb column holds an array of at most `max` elements (or any length without max). */
export function jsonbArray(column: AnyPgColumn, max?: number): SQL {
  const isArray = sql`jsonb_typeof(${column}) = 'array'`;
  return max === undefined
    ? isArray
    : sql`${isArray} and jsonb_array_length(${column}) <= ${sql.raw(String(max))}`;
}
