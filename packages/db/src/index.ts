export {
  type CreateDbOptions,
  createDb,
  type Database,
  type DbHandle,
  type Schema,
  type Transaction,
} from './client.ts';
export {
  type DbErrorCause,
  dbErrorCause,
  isConnectionError,
  type PgErrorInfo,
  pgErrorCodes,
  pgErrorOf,
} from './errors.ts';
export { type IdPrefix, idPrefixes, newId } from './ids.ts';
export {
  appliedMigrationCount,
  BUNDLED_MIGRATIONS_FOLDER,
  migrate,
  migrationsFolder,
  rowsOf,
} from './migrate.ts';
export {
  defaultRawBudgetBytes,
  escapeControlCharacters,
  fingerprintOf,
  type StorableRaw,
  safeText,
  storableRaw,
} from './raw.ts';
export {
  type KeepRejectedRecordsInput,
  type KeptRejectionCounts,
  keepRejectedRecords,
  type RejectionLogger,
  type RejectionToKeep,
  rejectionScope,
} from './rejections.ts';
export * from './schema/index.ts';
