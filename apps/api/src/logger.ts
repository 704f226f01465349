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
];

/** The API's pino logger: JSON lines, secrets redacted; tests pass a destination to capture lines. */
export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'vsh-api' },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    },
    options.destination,
  );
}
