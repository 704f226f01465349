/**
 * Shared error plumbing. Every boundary keeps its own error type with a closed set of codes
 * (house style); this module holds only what all of them repeat.
 */

/** The message of anything thrown: an Error's message, otherwise its string form. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** An error's name, message and code (when it has a string one), for a structured log line. */
export function errorInfo(err: unknown): { name: string; message: string; code?: string } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string'
      ? { name: err.name, message: err.message, code }
      : { name: err.name, message: err.message };
  }
  return { name: 'unknown', message: String(err) };
}

/**
 * The base of every boundary's error type: a closed `code` union and a message written for the
 * person who reads it. Subclasses set `name` and narrow `Code`:
 *
 *     export class CentralStackError extends CodedError<CentralStackErrorCode> {
 *       override name = 'CentralStackError';
 *     }
 */
export class CodedError<Code extends string> extends Error {
  constructor(
    readonly code: Code,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
