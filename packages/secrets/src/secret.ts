const redacted = '[redacted]';

/**
 * A value that prints as `[redacted]` however it reaches a log line: `String()`, template literals,
 * `JSON.stringify` (pino, console.log of an object) and `util.inspect` (console.log, vitest diffs).
 * The value lives in a private field, so spreading or cloning the wrapper does not copy it; only
 * `reveal()` gives it back, which makes every use of the raw value easy to find in review.
 */
export class Secret<T = string> {
  readonly #value: T;

  constructor(value: T) {
    this.#value = value;
  }

  /** The wrapped value; call it only where the value is actually sent (e.g. the `X-API-Key` header). */
  reveal(): T {
    return this.#value;
  }

  toString(): string {
    return redacted;
  }

  toJSON(): string {
    return redacted;
  }

  [Symbol.toPrimitive](): string {
    return redacted;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return redacted;
  }
}

/** Wraps `value` in a `Secret` so that logging it prints `[redacted]`. */
export function redact<T>(value: T): Secret<T> {
  return new Secret(value);
}
