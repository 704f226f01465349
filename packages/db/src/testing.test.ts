import { describe, expect, it } from 'vitest';
import * as db from './index.ts';
import { databaseUrlOn, testDatabaseAdminUrl } from './testing.ts';

describe('testDatabaseAdminUrl', () => {
  it('is the local server when TEST_DATABASE_URL is unset or empty', () => {
    expect(testDatabaseAdminUrl({})).toBe('postgres://postgres@127.0.0.1:5432/postgres');
    expect(testDatabaseAdminUrl({ TEST_DATABASE_URL: '  ' })).toBe(
      'postgres://postgres@127.0.0.1:5432/postgres',
    );
  });

  it('is TEST_DATABASE_URL when it is set', () => {
    expect(testDatabaseAdminUrl({ TEST_DATABASE_URL: 'postgresql://ci:secret@db.test:6543/admin' })).toBe(
      'postgresql://ci:secret@db.test:6543/admin',
    );
  });

  it.each([['not a url'], ['mysql://root@127.0.0.1/x']])(
    'stops with a message naming the variable for %j',
    (value) => {
      expect(() => testDatabaseAdminUrl({ TEST_DATABASE_URL: value })).toThrow(/TEST_DATABASE_URL/);
    },
  );
});

describe('databaseUrlOn', () => {
  it('names another database on the same server, keeping credentials and parameters', () => {
    expect(databaseUrlOn('postgres://ci:p%40ss@db.test:6543/admin?sslmode=disable', 'vsh_test_1')).toBe(
      'postgres://ci:p%40ss@db.test:6543/vsh_test_1?sslmode=disable',
    );
  });
});

describe('@vsh/db', () => {
  it('does not export the test helpers from its main entry (they are @vsh/db/testing)', () => {
    expect(Object.keys(db)).not.toContain('createTestDatabase');
  });
});
