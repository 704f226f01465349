import { type DestinationStream, type Logger, pino } from 'pino';
import { PinoPretty } from 'pino-pretty';
import { isTerminal, type LocalIo } from './io.ts';

/** Human-readable logs when stderr is a terminal, JSON lines (for tools) otherwise; both on stderr. */
export function consoleLogger(io: Pick<LocalIo, 'stderr'>, level: string): Logger {
  const destination: DestinationStream = isTerminal(io.stderr)
    ? PinoPretty({
        destination: io.stderr,
        colorize: true,
        translateTime: 'SYS:HH:MM:ss',
        ignore: 'pid,hostname',
      })
    : (io.stderr as unknown as DestinationStream);
  return pino({ level }, destination);
}
