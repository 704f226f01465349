export {
  type CreateDbOptions,
  createDb,
  type Database,
  type DbHandle,
  type Schema,
  type Transaction,
} from './client.ts';
export { isConnectionError, type PgErrorInfo, pgErrorCodes, pgErrorOf } from './errors.ts';
export { type IdPrefix, idPrefixes, newId } from './ids.ts';
export { appliedMigrationCount, migrate, migrationsFolder, rowsOf } from './migrate.ts';
export { boundRaw, defaultRawBudgetBytes, type TruncatedRaw } from './raw.ts';
export * from './schema/index.ts';
export { type CreateTestDatabaseOptions, createTestDatabase, type TestDatabase } from './testing.ts';
