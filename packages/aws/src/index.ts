export * from './credentials.ts';
export * from './errors.ts';
export * from './importer.ts';
export * from './rate-limiter.ts';
export * from './registry.ts';
export * from './secrets.ts';
export * from './state-store.ts';
