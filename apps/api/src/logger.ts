import { createServiceLogger } from '@vsh/secrets';
import type { DestinationStream, Logger } from 'pino';

/** The API's logger (the shared factory, service `vsh-api`); tests pass a destination to capture lines. */
export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  return createServiceLogger({ service: 'vsh-api', level: options.level, destination: options.destination });
}
