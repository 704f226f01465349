export * from './base-url.ts';
export * from './client.ts';
export * from './errors.ts';
export * from './options.ts';
export * from './retry.ts';
export * from './sweep.ts';
