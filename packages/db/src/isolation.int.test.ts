import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from './migrate.ts';
import { tenants } from './schema/index.ts';
import { createTestDatabase, type TestDatabase } from './testing.ts';

// Every file gets its own database: this file and the others insert rows freely and in parallel, and
// none sees another's. The fixed id below would collide if two files (or two runs) shared a database.
const fixedId = 'ten_isolation_fixture';

describe('createTestDatabase', () => {
  let first: TestDatabase;
  let second: TestDatabase;

  beforeAll(async () => {
    [first, second] = await Promise.all([createTestDatabase(), createTestDatabase()]);
  });
  afterAll(async () => {
    await Promise.all([first.drop(), second.drop()]);
  });

  it('gives each caller a different, empty, migrated database', async () => {
    expect(first.url).not.toBe(second.url);
    expect(await first.db.select().from(tenants)).toEqual([]);
    expect(await second.db.select().from(tenants)).toEqual([]);
  });

  it('keeps rows written in one database out of the other', async () => {
    await Promise.all([
      first.db.insert(tenants).values({ id: fixedId, name: 'First' }),
      second.db.insert(tenants).values({ id: fixedId, name: 'Second' }),
    ]);

    const [inFirst] = await first.db.select().from(tenants).where(eq(tenants.id, fixedId));
    const [inSecond] = await second.db.select().from(tenants).where(eq(tenants.id, fixedId));

    expect([inFirst?.name, inSecond?.name]).toEqual(['First', 'Second']);
  });

  it('drops the database so nothing is left behind', async () => {
    const test = await createTestDatabase();
    const name = new URL(test.url).pathname.slice(1);

    await test.drop();

    // pg_database lists every database of the server, so another database can see that it is gone.
    const rows = rowsOf(await first.db.execute(sql`select datname from pg_database where datname = ${name}`));
    expect(rows).toEqual([]);
  });
});
