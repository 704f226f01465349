import { type DestinationStream, type Logger, pino } from 'pino';

/**
 * Paths pino replaces with `[redacted]` wherever they appear in a log object: a second line of defence
 * behind the rule that no secret is ever passed to the logger.
 */
export const REDACTED_PATHS = [
  'apiKey',
  '*.apiKey',
  'key',
  '*.key',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'headers["x-api-key"]',
  'operatorApiKey',
  '*.operatorApiKey',
  'secret',
  '*.secret',
  'MASTER_KEY',
  '*.MASTER_KEY',
  'masterKey',
  '*.masterKey',
];

export interface ServiceLoggerOptions {
  /** The `service` field of every line (`vsh-api`, `worker`, `worker-lambda`, `dispatcher`...). */
  readonly service: string;
  readonly level?: string | undefined;
  /** More fixed fields (e.g. `workerId`). */
  readonly base?: Readonly<Record<string, unknown>> | undefined;
  /** Tests pass one to capture lines; default stdout. */
  readonly destination?: DestinationStream | undefined;
}

/** The one logger factory of every process and Lambda: JSON lines, secrets redacted. */
export function createServiceLogger(options: ServiceLoggerOptions): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: options.service, ...options.base },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    },
    options.destination,
  );
}
