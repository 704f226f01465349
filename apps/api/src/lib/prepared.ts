import type { Database } from '@vsh/db';

/**
 * A statement prepared once per database handle: drizzle builds its SQL once, and PostgreSQL parses and
 * plans it once per connection, for the API's hottest reads (issue 17). Keyed weakly by the handle, so a
 * closed database's statements go with it (tests open many).
 */
export function preparedPer<T>(prepare: (db: Database) => T): (db: Database) => T {
  const statements = new WeakMap<Database, T>();
  return (db) => {
    let statement = statements.get(db);
    if (statement === undefined) {
      statement = prepare(db);
      statements.set(db, statement);
    }
    return statement;
  };
}
